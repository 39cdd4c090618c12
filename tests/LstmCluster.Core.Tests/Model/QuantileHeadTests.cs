using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Core.Tests.Model;

/// <summary>The offset head of a quantile model: levels from the point, never crossing, trained apart from the point head.</summary>
[Collection(TorchCollection.Name)]
public sealed class QuantileHeadTests : IDisposable
{
    private static readonly double[] Levels = [0.1, 0.5, 0.9];
    private readonly string dir = Directory.CreateTempSubdirectory("lstm-quantile-head-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static PreparedData NoisySine(int n = 300, int horizon = 2)
    {
        var rng = new Random(3);
        var v = Enumerable.Range(0, n).Select(i => 10 + Math.Sin(i / 4.0) * 3 + 0.5 * rng.NextDouble()).ToArray();
        var series = new TimeSeries { Source = "sine", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(n) };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = 16, Horizon = horizon });
    }

    [Fact]
    public void The_median_is_the_point_plus_its_offset_and_each_other_level_a_softplus_gap_further()
    {
        // One window, h = 1, five levels with the median third; raw offsets −1, 0.5, 0.2, 2, −3.
        using var point = torch.tensor(new float[] { 4 }, [1, 1]);
        using var raw = torch.tensor(new float[] { -1, 0.5f, 0.2f, 2, -3 }, [1, 5, 1]);
        using var levels = ForecastModel.Levels(point, raw, median: 2);
        static double Softplus(double x) => Math.Log(1 + Math.Exp(x));
        double m = 4 + 0.2;
        double[] expected = [m - Softplus(0.5) - Softplus(-1), m - Softplus(0.5), m, m + Softplus(2), m + Softplus(2) + Softplus(-3)];
        var actual = levels.data<float>().ToArray();
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], actual[i], 1e-5);
    }

    [Fact]
    public void Levels_never_cross_whatever_the_weights()
    {
        var spec = new ModelSpec(1, 8, 1, 3, Quantiles: [0.05, 0.25, 0.5, 0.75, 0.95]);
        torch.manual_seed(11);
        // PyTorch's random initialisation everywhere (not the zero heads of Create), inputs far outside the training range.
        using var model = new ForecastModel(spec);
        using var x = torch.randn(64, 10, 1) * 5;
        var output = model.forward(x).data<float>().ToArray();
        int crossed = 0;
        for (int w = 0; w < 64; w++)
            for (int k = 0; k < 3; k++)
                for (int q = 1; q < 5; q++)
                    if (output[w * spec.Outputs + spec.LevelOutput(q) + k] < output[w * spec.Outputs + spec.LevelOutput(q - 1) + k]) crossed++;
        Assert.Equal(0, crossed);
    }

    [Fact]
    public void The_pinball_loss_reaches_the_offset_head_alone_so_the_lstm_and_point_head_get_the_gradient_of_the_mse()
    {
        var data = NoisySine();
        var spec = new ModelSpec(1, 12, 2, 2);
        using var plain = ForecastModel.Create(spec, 4);
        using var quantile = ForecastModel.Create(spec with { Quantiles = Levels }, 4);
        int n = spec.ParameterCount;
        Assert.Equal(n + (int)quantile.Spec.OffsetParameters, quantile.Spec.ParameterCount);
        Assert.Equal(quantile.Spec.ParameterCount, ParameterVector.Count(quantile));
        // A high rate and a tight clip: the clipping factor is in play at most steps, each part clipped by its own norm.
        var options = new TrainingOptions { Seed = 4, LearningRate = 0.02, ClipNorm = 0.05 };
        using var plainOptimizer = new MasterOptimizer(plain, options);
        using var quantileOptimizer = new MasterOptimizer(quantile, options);
        var rng = new Random(1);
        for (int step = 0; step < 30; step++)
        {
            var batch = Enumerable.Range(0, 32).Select(_ => rng.Next(data.Train.Count)).ToArray();
            var g = Gradients.Compute(plain, data.Train, batch);
            var gq = Gradients.Compute(quantile, data.Train, batch);
            Assert.Equal(g.Values, gq.Values[..n]);
            Assert.Equal(g.Loss, gq.Loss);
            if (step == 0) Assert.Contains(gq.Values[n..], v => v != 0);
            plainOptimizer.Step(g.Values);
            quantileOptimizer.Step(gq.Values);
            Assert.Equal(ParameterVector.Flatten(plain), ParameterVector.Flatten(quantile)[..n]);
        }
        Assert.Equal(Gradients.Loss(plain, data.Validation), Gradients.Loss(quantile, data.Validation));
    }

    private string Csv()
    {
        var rng = new Random(8);
        string file = Path.Combine(dir, "noisy.csv");
        File.WriteAllLines(file, ["value", .. Enumerable.Range(0, 240).Select(i =>
            (20 + 3 * Math.Sin(2 * Math.PI * i / 25) + 2 * (rng.NextDouble() - 0.5)).ToString("R", System.Globalization.CultureInfo.InvariantCulture))]);
        return file;
    }

    [Theory]
    [InlineData(Normalization.Window)]
    [InlineData(Normalization.Global)]
    public void A_run_with_quantiles_forecasts_the_points_of_the_same_run_without_them_bit_for_bit(Normalization normalize)
    {
        var options = new RunOptions
        {
            Data = new CsvSeriesOptions { Path = Csv(), Target = "value" },
            Preprocessing = new PreprocessingOptions { Lookback = 12, Horizon = 3, Normalize = normalize },
            Hidden = 16,
            Layers = 2,
            Training = new TrainingOptions { Epochs = 12, BatchSize = 16, LearningRate = 0.01, Patience = 4, Seed = 7 },
        };
        var plain = ForecastRun.Execute(options);
        var quantile = ForecastRun.Execute(options with { Quantiles = Levels });

        Assert.Equal(plain.Training.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)), quantile.Training.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)));
        Assert.Equal(plain.Training.BestEpoch, quantile.Training.BestEpoch);
        Assert.Equal(plain.TestPredictions.Values, quantile.TestPredictions.Values);
        Assert.Equal(plain.Forecast.Select(f => f.Value), quantile.Forecast.Select(f => f.Value));
        Assert.Equal(plain.Test.Model, quantile.Test.Model);
        Assert.Equal(plain.Validation.Model, quantile.Validation.Model);
        int n = plain.Model.Spec.ParameterCount;
        Assert.Equal(plain.Model.Weights, quantile.Model.Weights[..n]);
        Assert.NotNull(quantile.Test.Quantiles);
    }

    [Fact]
    public void Refitting_the_offset_head_on_the_kept_point_lowers_its_validation_pinball_loss_and_is_deterministic()
    {
        var data = NoisySine();
        var spec = new ModelSpec(1, 12, 1, 2, Quantiles: Levels);
        var options = new TrainingOptions { Epochs = 6, BatchSize = 32, LearningRate = 0.01, Patience = 0, Seed = 2 };
        double Pinball(ForecastModel m)
        {
            using var noGrad = torch.no_grad();
            m.eval();
            var (x, y) = data.Validation.Batch(Enumerable.Range(0, data.Validation.Count).ToArray());
            return Gradients.PinballLoss(m.Forward(x).Levels!, y, Levels).item<float>();
        }
        float[] Fit()
        {
            using var model = ForecastModel.Create(spec, options.Seed);
            ReferenceTrainer.Train(model, data.Train, data.Validation, options);
            var trained = ParameterVector.Flatten(model);
            double before = Pinball(model);
            QuantileCalibration.FitOffsetHead(model, data);
            var fitted = ParameterVector.Flatten(model);
            Assert.True(Pinball(model) < before, $"validation pinball {Pinball(model)} not below {before}");
            int n = spec.ParameterCount - (int)spec.OffsetParameters;
            Assert.Equal(trained[..n], fitted[..n]);
            return fitted;
        }
        Assert.Equal(Fit(), Fit());
    }

    [Fact]
    public void A_quantile_model_of_format_1_loads_and_forecasts_its_median_as_the_point()
    {
        var data = NoisySine(horizon: 1);
        var spec = new ModelSpec(1, 6, 1, 1, Quantiles: Levels) { QuantileHead = QuantileHead.Median };
        Assert.Throws<ArgumentException>(() => ForecastModel.Create(spec, 1));
        torch.manual_seed(5);
        using var old = new ForecastModel(spec);
        // Format 1: one head of 3 outputs (levels 0.1, 0.5, 0.9), no offset head.
        Assert.Equal(new ModelSpec(1, 6, 1, 3).ParameterCount, spec.ParameterCount);
        var stored = new StoredModel(spec, data.Preprocessor, ParameterVector.Flatten(old), new ModelMetadata
        {
            ProductVersion = "0", TorchSharpVersion = "0", CreatedUtc = DateTimeOffset.UnixEpoch,
            Data = new DataSelection { Target = "y" }, DataSha256 = "", DataRows = 300,
            TrainingOptions = System.Text.Json.JsonSerializer.SerializeToElement(new TrainingOptions()), BestEpoch = 1, BestValidationLoss = 1, Season = 1,
        });
        string modelDir = Path.Combine(dir, "old");
        ModelStore.Save(modelDir, stored);
        // What an earlier build wrote: format 1, no quantile_head key.
        string specPath = Path.Combine(modelDir, "spec.json"), metaPath = Path.Combine(modelDir, "metadata.json");
        File.WriteAllLines(specPath, File.ReadAllLines(specPath).Where(l => !l.Contains("quantile_head")));
        File.WriteAllText(metaPath, File.ReadAllText(metaPath).Replace("\"format_version\": 2", "\"format_version\": 1"));
        Assert.DoesNotContain("quantile_head", File.ReadAllText(specPath));

        var loaded = ModelStore.Load(modelDir);
        Assert.True(loaded.Spec.IsMedianHead);
        using var model = loaded.Build();
        var predictions = ForecastRun.Predict(model, loaded.Preprocessor, data.Series.Columns, data.Test);
        for (int w = 0; w < predictions.Origins.Length; w++)
        {
            var sorted = predictions.Quantiles![w].Select(l => l[0]).ToArray();
            Assert.True(sorted[0] <= sorted[1] && sorted[1] <= sorted[2]);
        }
        // Its 0.5 output is the point, as that build forecast it: the one head's three outputs follow the point unchanged.
        using var x = data.Test.InputTensor();
        using var head = old.Forward(x).Levels!;
        using var fromFile = model.forward(x);
        var rows = fromFile.data<float>().ToArray().Chunk(4).ToArray();
        Assert.Equal(head.data<float>().ToArray(), rows.SelectMany(r => r[1..]));
        Assert.All(rows, r => Assert.Equal(r[2], r[0]));

        // A format this build does not know is refused by name.
        File.WriteAllText(metaPath, File.ReadAllText(metaPath).Replace("\"format_version\": 1", "\"format_version\": 3"));
        var e = Assert.Throws<ModelFileException>(() => ModelStore.Load(modelDir));
        Assert.Contains("model format 3 is not supported (this build reads 1 to 2)", e.Message);
    }
}
