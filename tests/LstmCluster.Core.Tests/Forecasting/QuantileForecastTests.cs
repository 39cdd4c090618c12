using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Core.Tests.Forecasting;

[Collection(TorchCollection.Name)]
public sealed class QuantileForecastTests : IDisposable
{
    private static readonly double[] Levels = [0.1, 0.5, 0.9];
    private readonly string dir = Directory.CreateTempSubdirectory("lstm-quantiles-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Pinball_loss_and_its_gradient_match_a_hand_computation()
    {
        // Two windows, h = 1, levels 0.1 / 0.5 / 0.9, outputs level by level. Errors e = y − ŷ:
        // window 0 (y = 1): ŷ = 0, 0.5, 4 → e = 1, 0.5, −3 → losses 0.1·1, 0.5·0.5, (0.9 − 1)·(−3) = 0.1, 0.25, 0.3
        // window 1 (y = 3): ŷ = 2, 2.5, 5 → e = 1, 0.5, −2 → 0.1, 0.25, 0.2; mean over 6 = 1.2 / 6 = 0.2.
        using var output = torch.tensor(new float[] { 0, 0.5f, 4, 2, 2.5f, 5 }, [2, 3]).requires_grad_();
        using var target = torch.tensor(new float[] { 1, 3 }, [2, 1]);
        using var loss = Gradients.PinballLoss(output, target, Levels);
        Assert.Equal(0.2, loss.item<float>(), 6);
        loss.backward();
        // ∂/∂ŷ = −q/6 where the actual lies above, (1 − q)/6 where below.
        var expected = new[] { -0.1, -0.5, 0.1, -0.1, -0.5, 0.1 }.Select(g => g / 6).ToArray();
        var grad = output.grad!.data<float>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], grad[i], 6);

        // The same numbers through the scalar used for the test split's figures.
        Assert.Equal(0.3, QuantileEvaluation.Pinball(0.9, 1, 4), 12);
        Assert.Equal(0.1, QuantileEvaluation.Pinball(0.1, 3, 2), 12);
        // Summed over the batch as the validation loss does: 1.2.
        using var sum = Gradients.PinballLoss(output, target, Levels, TorchSharp.torch.nn.Reduction.Sum);
        Assert.Equal(1.2, sum.item<float>(), 5);
    }

    [Fact]
    public void A_quantile_model_outputs_the_point_then_horizon_values_per_level_and_its_loss_is_the_points_mse()
    {
        var spec = new ModelSpec(1, 6, 1, 2, Quantiles: Levels);
        Assert.Equal(8, spec.Outputs);
        Assert.Equal(1, spec.MedianIndex);
        Assert.Equal(4, spec.LevelOutput(1));
        using var model = ForecastModel.Create(spec, seed: 1);
        Assert.Equal(spec.ParameterCount, ParameterVector.Count(model));
        using var x = torch.randn(4, 5, 1);
        using var y = model.forward(x);
        Assert.Equal([4L, 8L], y.shape);
        // Zero heads: the point is 0, the median sits on it, the other levels ln 2 away.
        var row = y.data<float>().ToArray()[..8];
        double[] expected = [0, 0, -Math.Log(2), -Math.Log(2), 0, 0, Math.Log(2), Math.Log(2)];
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i], row[i], 5);
        var point = new ModelSpec(1, 6, 1, 2);
        using var a = torch.tensor(new float[] { 1, 2 }, [1, 2]);
        using var b = torch.tensor(new float[] { 2, 4 }, [1, 2]);
        using var mse = Gradients.LossOf(a, b);
        Assert.Equal(2.5, Gradients.Objective(point, mse, null, b).item<float>(), 6);
        Assert.Equal(2.5, mse.item<float>(), 6);
    }

    [Fact]
    public void Coverage_counts_the_actual_values_inside_each_central_interval_bounds_included()
    {
        // Series 0..9; four windows of h = 1 at origins 2..5 forecast 3, 4, 5, 6.
        double[] series = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        int[] origins = [2, 3, 4, 5];
        double[][][] forecasts =
        [
            [[2], [3], [4]],     // 3 inside [2, 4]
            [[4], [5], [6]],     // 4 on the lower bound: inside
            [[6], [7], [8]],     // 5 below the interval
            [[1], [2], [5.5]],   // 6 above the interval
        ];
        var report = QuantileEvaluation.Evaluate(series, origins, forecasts, Levels, horizon: 1);
        var interval = Assert.Single(report.Intervals);
        Assert.Equal((0.1, 0.9, 0.8), (interval.Lower, interval.Upper, interval.Nominal));
        Assert.Equal(0.5, interval.Coverage);
        Assert.Equal((2 + 2 + 2 + 4.5) / 4, interval.MeanWidth, 12);
        Assert.Equal(4, report.Points);
        // At or below q0.1: window 1 (4 ≤ 4) and window 2 (5 ≤ 6): 2 of 4.
        Assert.Equal(0.5, report.Levels[0].BelowFraction);
        // Pinball of q0.5: |e|/2 for e = 0, −1, −2, 4 → (0 + 0.5 + 1 + 2) / 4.
        Assert.Equal(3.5 / 4, report.Levels[1].Pinball, 12);
        Assert.Equal(report.Levels.Average(l => l.Pinball), report.MeanPinball, 12);
    }

    [Fact]
    public void Central_intervals_pair_each_level_below_the_median_with_its_mirror()
    {
        var intervals = QuantileLevels.CentralIntervals([0.05, 0.1, 0.25, 0.5, 0.75, 0.9]);
        Assert.Equal([(1, 5, 0.8), (2, 4, 0.5)], intervals);
        Assert.Empty(QuantileLevels.CentralIntervals([0.2, 0.5, 0.7]));
    }

    [Fact]
    public void Crossed_outputs_are_sorted_per_step_and_sorting_never_raises_the_summed_pinball_loss()
    {
        // A global standard scaler: decoding is y = output · scale + center, increasing. The head's q0.1 block is above its q0.9 block at step 1.
        var pre = new Preprocessor
        {
            Lookback = 2, Horizon = 2, Features = 1, Transform = TargetTransform.None, Normalize = Normalization.Global,
            Scaler = ScalerKind.Standard, Center = [10], Scale = [2],
        };
        var spec = new ModelSpec(1, 4, 1, 2, Quantiles: Levels);
        double[][] columns = [[1, 2, 3]];
        float[] output = [/* point */ 0.25f, 0.25f, /* q0.1 */ 1.5f, -1, /* q0.5 */ 0, 0, /* q0.9 */ -0.5f, 1];
        var values = ForecastRun.DecodeQuantiles(spec, pre, columns, origin: 2, output);
        Assert.Equal([9, 8], values[0]);
        Assert.Equal([10, 10], values[1]);
        Assert.Equal([13, 12], values[2]);

        var rng = new Random(5);
        for (int trial = 0; trial < 200; trial++)
        {
            var raw = Enumerable.Range(0, 3).Select(_ => new[] { rng.NextDouble() * 10 }).ToArray();
            var sorted = raw.Select(r => r.ToArray()).ToArray();
            ForecastRun.SortAcrossLevels(sorted);
            Assert.True(sorted[0][0] <= sorted[1][0] && sorted[1][0] <= sorted[2][0]);
            double y = rng.NextDouble() * 10;
            double before = Levels.Select((q, i) => QuantileEvaluation.Pinball(q, y, raw[i][0])).Sum();
            double after = Levels.Select((q, i) => QuantileEvaluation.Pinball(q, y, sorted[i][0])).Sum();
            Assert.True(after <= before + 1e-12, $"sorting raised the pinball loss from {before} to {after}");
        }
    }

    [Theory]
    [InlineData(Normalization.Window, ScalerKind.Standard)]
    [InlineData(Normalization.WindowScaled, ScalerKind.Standard)]
    [InlineData(Normalization.WindowSeasonal, ScalerKind.Standard)]
    [InlineData(Normalization.Global, ScalerKind.Standard)]
    [InlineData(Normalization.Global, ScalerKind.MinMax)]
    public void Every_normalization_decodes_through_an_increasing_map_so_level_order_survives(Normalization normalize, ScalerKind scaler)
    {
        var rng = new Random(2);
        // A trend with a season, and a flat stretch (a window-scaled window with no steps falls back to its floor).
        var v = Enumerable.Range(0, 120).Select(i => i < 100 ? 50 + i + 10 * Math.Sin(2 * Math.PI * i / 12) + rng.NextDouble() : 160.0).ToArray();
        var series = new TimeSeries { Source = "s", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(v.Length) };
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 12, Horizon = 3, Season = 12, Normalize = normalize, Scaler = scaler });
        Assert.All(data.Preprocessor.Scale, s => Assert.True(s > 0));
        foreach (int origin in new[] { 20, 60, 110, 119 })
        {
            var low = data.Preprocessor.Decode(series.Columns, origin, new float[] { -0.3f, -0.3f, -0.3f });
            var high = data.Preprocessor.Decode(series.Columns, origin, new float[] { 0.2f, 0.2f, 0.2f });
            for (int k = 0; k < 3; k++) Assert.True(low[k] < high[k], $"origin {origin} step {k + 1}: {low[k]} !< {high[k]}");
        }
    }

    [Theory]
    [InlineData("", "quantiles must list levels in (0, 1) separated by commas, such as 0.1,0.5,0.9 (got an empty list)")]
    [InlineData(" , ", "quantiles must list levels in (0, 1) separated by commas")]
    [InlineData("0.1,abc", "quantiles must be numbers in (0, 1) separated by commas, such as 0.1,0.5,0.9 (got 'abc' in '0.1,abc')")]
    [InlineData("0.1,0.5,1.2", "quantiles must each lie strictly between 0 and 1 (got 1.2)")]
    [InlineData("0,0.5", "quantiles must each lie strictly between 0 and 1 (got 0)")]
    [InlineData("0.9,0.5,0.1", "quantiles must be in increasing order (0.9 comes before 0.5)")]
    [InlineData("0.1,0.5,0.5,0.9", "quantiles must not repeat a level (0.5 is given twice)")]
    [InlineData("0.1,,0.9", "quantiles must be numbers in (0, 1) separated by commas")]
    public void Bad_quantile_lists_are_refused_with_one_line_naming_the_option(string text, string message)
    {
        var values = new RunOptionValues { Data = "x.csv", Target = "y" };
        var e = Assert.Throws<ArgumentException>(() => values.With("quantiles", text));
        Assert.StartsWith(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The CLI builds the values without With: the same check happens on the way to the run.
        var direct = Assert.Throws<ArgumentException>(() => (values with { Quantiles = text }).ToRunOptions());
        Assert.Equal(e.Message, direct.Message);
    }

    [Fact]
    public void The_median_is_added_when_missing_and_none_turns_quantiles_off()
    {
        var values = new RunOptionValues { Data = "x.csv", Target = "y" };
        Assert.Equal([0.1, 0.5, 0.9], values.With("quantiles", "0.1, 0.9").ToRunOptions().Quantiles!);
        Assert.Equal([0.05, 0.5, 0.95], values.With("quantiles", "0.05,0.5,0.95").ToRunOptions().Spec(1).Quantiles!);
        Assert.Null(values.With("quantiles", "none").ToRunOptions().Quantiles);
        Assert.Null(values.ToRunOptions().Spec(1).Quantiles);
        var logReturns = values.With("quantiles", "0.1,0.9").With("transform", "log-return").With("horizon", "3").ToRunOptions();
        var e = Assert.Throws<ArgumentException>(logReturns.Validate);
        Assert.StartsWith("quantiles with transform log-return need horizon 1 (got 3)", e.Message);
    }

    [Fact]
    public void A_config_file_can_set_quantiles_and_a_bad_value_names_its_key()
    {
        string path = Path.Combine(dir, "config.json");
        string? before = Environment.GetEnvironmentVariable("LSTMCLUSTER_CONFIG");
        try
        {
            Environment.SetEnvironmentVariable("LSTMCLUSTER_CONFIG", path);
            File.WriteAllText(path, """{ "train": { "quantiles": "0.25,0.75" } }""");
            Assert.Equal("0.25,0.75", RunOptionValues.FromDefaults(Defaults.Load()).Quantiles);
            File.WriteAllText(path, """{ "train": { "quantiles": "0.75,0.25" } }""");
            var e = Assert.Throws<ConfigException>(() => RunOptionValues.FromDefaults(Defaults.Load()));
            Assert.Equal("config key train.quantiles: quantiles must be in increasing order (0.75 comes before 0.25)", e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LSTMCLUSTER_CONFIG", before);
        }
    }

    private RunOptions Options(string file) => new()
    {
        Data = new CsvSeriesOptions { Path = file, Target = "value" },
        Preprocessing = new PreprocessingOptions { Lookback = 12, Horizon = 2, Normalize = Normalization.Window },
        Hidden = 8,
        Layers = 1,
        Quantiles = Levels,
        Training = new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 3 },
    };

    private string Csv()
    {
        var rng = new Random(8);
        string file = Path.Combine(dir, "noisy.csv");
        File.WriteAllLines(file, ["value", .. Enumerable.Range(0, 200).Select(i =>
            (20 + 3 * Math.Sin(2 * Math.PI * i / 25) + 2 * (rng.NextDouble() - 0.5)).ToString("R", System.Globalization.CultureInfo.InvariantCulture))]);
        return file;
    }

    [Fact]
    public void A_quantile_run_reports_intervals_and_sorted_levels_around_the_mse_point_and_survives_a_model_round_trip()
    {
        string file = Csv();
        var options = Options(file);
        var result = ForecastRun.Execute(options);

        var q = result.Test.Quantiles!;
        Assert.Equal(Levels, q.Levels.Select(l => l.Level));
        var interval = Assert.Single(q.Intervals);
        Assert.Equal(0.8, interval.Nominal);
        Assert.InRange(interval.Coverage, 0, 1);
        Assert.True(interval.MeanWidth > 0, "the head learned no spread");
        Assert.Equal(result.Test.Points, q.Points);
        Assert.NotNull(result.Validation.Quantiles);
        Assert.NotNull(q.Uncalibrated);
        // The training curve is the point's MSE, as without quantiles.
        using (var check = ForecastModel.Create(options.Spec(1), 3))
        {
            ParameterVector.Load(check, result.Model.Weights);
            Assert.Equal(result.Training.BestValidationLoss, Gradients.Loss(check, result.Data.Validation), 6);
        }

        // The point is the MSE head's, not the 0.5 level: they differ by the learned median offset.
        var tp = result.TestPredictions;
        bool medianMoved = false;
        for (int w = 0; w < tp.Origins.Length; w++)
            for (int k = 0; k < 2; k++)
            {
                Assert.True(tp.Quantiles![w][0][k] <= tp.Quantiles[w][1][k] && tp.Quantiles[w][1][k] <= tp.Quantiles[w][2][k]);
                medianMoved |= tp.Quantiles[w][1][k] != tp.Values[w][k];
            }
        Assert.True(medianMoved);
        Assert.All(result.Forecast, f =>
        {
            Assert.Equal(Levels, f.Quantiles.Select(v => v.Level));
            Assert.True(f.Quantiles[0].Value <= f.Quantiles[1].Value && f.Quantiles[1].Value <= f.Quantiles[2].Value);
        });

        string modelDir = Path.Combine(dir, "model");
        ModelStore.Save(modelDir, result.Model);
        Assert.Contains("\"quantiles\"", File.ReadAllText(Path.Combine(modelDir, "spec.json")));
        Assert.Contains("\"format_version\": 2", File.ReadAllText(Path.Combine(modelDir, "metadata.json")));
        var loaded = ModelStore.Load(modelDir);
        Assert.Equal(Levels, loaded.Spec.Quantiles);
        Assert.Equal(QuantileHead.PointOffsets, loaded.Spec.QuantileHead);
        Assert.Equal(result.Model.Weights, loaded.Weights);
        using var model = loaded.Build();
        var again = ForecastRun.Forecast(model, loaded.Preprocessor, result.Data.Series);
        Assert.Equal(result.Forecast.Select(f => f.Value), again.Select(f => f.Value));
        Assert.Equal(result.Forecast.Select(f => f.Quantiles.Select(v => v.Value).ToArray()), again.Select(f => f.Quantiles.Select(v => v.Value).ToArray()));

        // The PyTorch interchange carries point heads only, and says so.
        var e = Assert.Throws<InterchangeException>(() => PyTorchInterchange.Describe(loaded));
        Assert.Contains("a quantile model (levels 0.1, 0.5, 0.9) cannot be exported", e.Message);
    }

    [Fact]
    public void A_point_model_file_without_quantiles_still_loads_as_a_point_model()
    {
        string file = Csv();
        var result = ForecastRun.Execute(Options(file) with { Quantiles = null, Training = new TrainingOptions { Epochs = 1, Patience = 0 } });
        Assert.Null(result.Test.Quantiles);
        Assert.All(result.Forecast, f => Assert.Empty(f.Quantiles));
        string modelDir = Path.Combine(dir, "point");
        ModelStore.Save(modelDir, result.Model);
        // A model file written before quantiles existed has no such key.
        string spec = Path.Combine(modelDir, "spec.json");
        File.WriteAllText(spec, File.ReadAllText(spec).Replace("\"quantiles\": null,", "").Replace(",\n  \"quantiles\": null", ""));
        Assert.DoesNotContain("quantiles", File.ReadAllText(spec));
        Assert.False(ModelStore.Load(modelDir).Spec.IsQuantile);
    }
}
