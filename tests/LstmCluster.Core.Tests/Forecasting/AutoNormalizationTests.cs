using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Forecasting;

[Collection(TorchCollection.Name)]
public sealed class AutoNormalizationTests : IDisposable
{
    // The run fingerprints its data file for the model's metadata: any file will do, the series is built in memory.
    private readonly string file = Path.GetTempFileName();

    public void Dispose() => File.Delete(file);

    private static EvaluationReport Report(double mae) =>
        new(new ErrorMetrics(mae, mae, 0, 0, mae), new Dictionary<string, ErrorMetrics> { ["naive"] = new(1, 1, 0, 0, 1) }, 10, 10);

    [Fact]
    public void The_choice_is_the_lowest_validation_error_the_first_on_a_tie_and_never_a_non_finite_one()
    {
        Assert.Equal(1, ForecastRun.ChooseOnValidation([Report(0.5), Report(0.4), Report(0.45)]));
        Assert.Equal(0, ForecastRun.ChooseOnValidation([Report(0.4), Report(0.4)]));
        Assert.Equal(1, ForecastRun.ChooseOnValidation([Report(double.NaN), Report(3)]));
    }

    [Fact]
    public void Candidates_are_window_seasonal_window_and_global_with_a_season_and_window_and_global_without()
    {
        Assert.Equal([Normalization.WindowSeasonal, Normalization.Window, Normalization.Global],
            ForecastRun.NormalizationCandidates(new PreprocessingOptions { Season = 12 }));
        Assert.Equal([Normalization.Window, Normalization.Global], ForecastRun.NormalizationCandidates(new PreprocessingOptions()));
    }

    private static PreparedData Seasonal(Func<int, double>? testPart = null, double trend = 0)
    {
        var rng = new Random(4);
        int n = 160;
        var v = Enumerable.Range(0, n).Select(i => 20 + trend * i + 5 * Math.Sin(2 * Math.PI * i / 12) + rng.NextDouble()).ToArray();
        var split = SplitPoints.Of(n, 0.7, 0.15);
        if (testPart is not null)
            for (int i = split.ValidationEnd; i < n; i++) v[i] = testPart(i);
        var series = new TimeSeries { Source = "seasonal", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(n) };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.WindowSeasonal });
    }

    private RunResult Auto(PreparedData data) => ForecastRun.Execute(Options(epochs: 4), data, ForecastRun.ReferenceEngine, null, CancellationToken.None);

    [Fact]
    public void Auto_trains_every_candidate_and_keeps_the_lowest_validation_error_whatever_the_test_split_holds()
    {
        var plain = Auto(Seasonal());
        // The three normalizations, then their ensemble (two distinct models at least join it on this series).
        Assert.Equal(4, plain.Candidates.Count);
        Assert.Equal([false, false, false, true], plain.Candidates.Select(c => c.IsEnsemble));
        Assert.True(plain.Candidates[^1].Members.Count >= 2);
        var chosen = Assert.Single(plain.Candidates, c => c.Chosen);
        Assert.Equal(plain.Candidates.Min(c => c.Validation.Model.Mae), chosen.Validation.Model.Mae);
        Assert.Equal(chosen.Normalize, plain.Data.Preprocessor.Normalize);
        Assert.Equal(chosen.Test, plain.Test);

        // The test split replaced by a trend no candidate has seen: every test error changes, the choice and every validation error do not.
        var shifted = Auto(Seasonal(i => 100 + 3 * i));
        Assert.Equal(plain.Candidates.Select(c => c.Normalize), shifted.Candidates.Select(c => c.Normalize));
        Assert.Equal(plain.Candidates.Select(c => c.Validation), shifted.Candidates.Select(c => c.Validation), new ValidationComparer());
        var shiftedChoice = Assert.Single(shifted.Candidates, c => c.Chosen);
        Assert.Equal((chosen.Normalize, chosen.IsEnsemble), (shiftedChoice.Normalize, shiftedChoice.IsEnsemble));
        Assert.All(plain.Candidates.Zip(shifted.Candidates), p => Assert.NotEqual(p.First.Test.Model.Mae, p.Second.Test.Model.Mae));
    }

    private RunOptions Options(double[]? quantiles = null, int epochs = 3) => new()
    {
        Data = new CsvSeriesOptions { Path = file, Target = "y" },
        Preprocessing = new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.WindowSeasonal },
        AutoNormalize = true,
        Hidden = 6,
        Layers = 1,
        Season = 12,
        Quantiles = quantiles,
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 3 },
    };

    /// <summary>Each candidate trained alone, as auto trains them.</summary>
    private static RunResult[] Members(RunOptions options, PreparedData data) =>
        [.. ForecastRun.Candidates(options, data).Select(c => ForecastRun.Execute(c.Options, c.Data, ForecastRun.ReferenceEngine, null, CancellationToken.None))];

    [Fact]
    public void The_ensemble_averages_its_members_forecasts_step_by_step_and_is_scored_on_the_same_windows()
    {
        var data = Seasonal();
        var trained = Members(Options([0.1, 0.5, 0.9]), data);
        var ensemble = Ensemble.Of(trained, lead: 1)!;
        Assert.Same(trained[1].Training, ensemble.Training);
        var members = Ensemble.Members(trained);
        Assert.True(members.Count >= 2);
        Assert.Equal(members.Select(m => m.Model), ensemble.Model.Members);
        Assert.Equal(members.Select(m => m.Data.Preprocessor.Normalize), ensemble.EnsembleMembers);
        for (int w = 0; w < ensemble.TestPredictions.Origins.Length; w++)
            for (int k = 0; k < members[0].TestPredictions.Values[w].Length; k++)
            {
                Assert.Equal(members.Average(m => m.TestPredictions.Values[w][k]), ensemble.TestPredictions.Values[w][k], 9);
                // Each level is the mean of the members' same level moved by the ensemble's calibration; the levels stay in order.
                var levels = ensemble.TestPredictions.Quantiles![w].Select(l => l[k]).ToArray();
                Assert.Equal(levels.Order(), levels);
                var raw = Enumerable.Range(0, levels.Length)
                    .Select(q => members.Average(m => m.TestPredictions.Quantiles![w][q][k]) + ensemble.Model.EnsembleOffsets![q][k]).Order().ToArray();
                Assert.Equal(raw, levels, new Tolerance(1e-9));
            }
        for (int w = 0; w < ensemble.ValidationPredictions!.Origins.Length; w++)
            Assert.Equal(members.Average(m => m.ValidationPredictions!.Values[w][0]), ensemble.ValidationPredictions.Values[w][0], 9);
        Assert.Equal(members.Average(m => m.Forecast[0].Value), ensemble.Forecast[0].Value, 9);
        // Scored as any model is: its errors are those of its mean forecast.
        double mae = ensemble.TestPredictions.Origins.Select((o, w) => Enumerable.Range(0, 1)
            .Average(k => Math.Abs(data.Series.Target[o + 1 + k] - ensemble.TestPredictions.Values[w][k]))).Average();
        Assert.Equal(mae, ensemble.Test.Model.Mae, 9);
        Assert.NotNull(ensemble.Test.Quantiles!.Uncalibrated);
        // Calibrated on validation as one model's intervals are: the 80 % interval covers at least 80 % of its points there,
        // and the median is never moved.
        Assert.True(ensemble.Validation.Quantiles!.Intervals[0].Coverage >= 0.8, $"{ensemble.Validation.Quantiles.Intervals[0].Coverage}");
        Assert.All(ensemble.Model.EnsembleOffsets![1], v => Assert.Equal(0, v));
    }

    private sealed class Tolerance(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= eps * Math.Max(1, Math.Abs(a));
        public int GetHashCode(double v) => 0;
    }

    [Fact]
    public void Auto_keeps_the_ensemble_only_when_its_validation_error_is_the_lowest()
    {
        var data = Seasonal();
        var members = Members(Options(), data);
        var chosen = ForecastRun.Choose(members);
        var ensemble = Assert.Single(chosen.Candidates, c => c.IsEnsemble);
        var lowest = chosen.Candidates.MinBy(c => c.Validation.Model.Mae)!;
        Assert.True(lowest.Chosen);
        Assert.Equal(ensemble.Chosen, chosen.Model.IsEnsemble);
        // With the ensemble's validation error made the worst, a single candidate is kept, whatever the ensemble's test error.
        var worse = members.Select(m => m with
        {
            ValidationPredictions = m.ValidationPredictions! with { Values = [.. m.ValidationPredictions.Values.Select(v => v.Select(x => x + 1000.0).ToArray())] },
        }).ToArray();
        var kept = ForecastRun.Choose(worse);
        Assert.False(kept.Model.IsEnsemble);
        Assert.False(Assert.Single(kept.Candidates, c => c.IsEnsemble).Chosen);
        Assert.Equal(ForecastRun.KeptTraining(kept, worse), kept.Candidates.ToList().FindIndex(c => c.Chosen));
    }

    [Fact]
    public void A_stored_ensemble_loads_with_every_member_and_forecasts_what_it_forecast_when_trained()
    {
        var data = Seasonal();
        var ensemble = Ensemble.Of(Members(Options([0.1, 0.5, 0.9]), data), lead: 2)!;
        var dir = Directory.CreateTempSubdirectory("ensemble-").FullName;
        try
        {
            ModelStore.Save(dir, ensemble.Model);
            Assert.True(File.Exists(Path.Combine(dir, ModelStore.EnsembleFileName)));
            var loaded = ModelStore.Load(dir);
            Assert.Equal(ensemble.Model.Members.Count, loaded.Members.Count);
            Assert.Equal(ensemble.Model.Members.Select(m => m.Weights), loaded.Members.Select(m => m.Weights));
            Assert.Equal(ensemble.Model.Weights, loaded.Weights);
            using var networks = ModelNetworks.Build(loaded);
            var forecast = networks.Forecast(data.Series);
            Assert.Equal(ensemble.Forecast.Select(p => p.Value), forecast.Select(p => p.Value));
            Assert.Equal(ensemble.Forecast.SelectMany(p => p.Quantiles), forecast.SelectMany(p => p.Quantiles));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_mean_takes_a_model_once_and_global_only_while_validation_stays_in_the_training_range()
    {
        var inRange = Members(Options(), Seasonal());
        Assert.All(inRange, r => Assert.True(Ensemble.MayJoin(r)));
        // The same run twice is one member.
        Assert.Equal(Ensemble.Members(inRange).Count, Ensemble.Members([.. inRange, inRange[^1]]).Count);

        // A trend that carries validation a fifth of the training range above it: global stays out, the window models join.
        var rising = Seasonal(trend: 1.0);
        var split = rising.Split;
        var train = rising.Series.Target[..split.TrainEnd];
        Assert.True(rising.Series.Target[split.TrainEnd..split.ValidationEnd].Max() > train.Max() + 0.15 * (train.Max() - train.Min()));
        // Window-seasonal is left out on this trend (ForecastRun.LeftOut): window and global are trained.
        var trending = Members(Options(), rising);
        Assert.Equal([Normalization.Window, Normalization.Global], trending.Select(r => r.Data.Preprocessor.Normalize));
        Assert.Equal([true, false], trending.Select(Ensemble.MayJoin));
        Assert.DoesNotContain(Normalization.Global, Ensemble.Members(trending).Select(r => r.Data.Preprocessor.Normalize));
    }

    [Fact]
    public void Window_seasonal_is_not_trained_when_no_step_is_seasonal_on_training_because_its_windows_are_windows()
    {
        // On a steep trend the last value beats seasonal naive at every step on the training split.
        var rising = Seasonal(trend: 1.0);
        Assert.DoesNotContain(true, rising.Preprocessor.SeasonalSteps);
        var leftOut = Assert.Single(ForecastRun.LeftOut(Options(), rising));
        Assert.Equal((Normalization.WindowSeasonal, Normalization.Window), (leftOut.Normalize, leftOut.SameAs));
        Assert.Contains("did not beat the last value", leftOut.Reason);
        Assert.Equal([Normalization.Window, Normalization.Global], ForecastRun.Candidates(Options(), rising).Select(c => c.Options.Preprocessing.Normalize));

        // What training it would cost for nothing: window's windows, bit for bit, in every split.
        var window = PreparedData.Build(rising.Series, new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.Window }, rising.Split);
        foreach (var (a, b) in new[] { (rising.Train, window.Train), (rising.Validation, window.Validation), (rising.Test, window.Test) })
        {
            Assert.Equal(a.Inputs, b.Inputs);
            Assert.Equal(a.Targets, b.Targets);
        }

        // The run names it, trains the others, and still keeps the lowest validation error among them.
        var run = ForecastRun.Execute(Options(epochs: 2), rising, ForecastRun.ReferenceEngine, null, CancellationToken.None);
        Assert.Equal([Normalization.Window, Normalization.Global], run.Candidates.Where(c => !c.IsEnsemble).Select(c => c.Normalize));
        Assert.Equal(leftOut, Assert.Single(run.LeftOut));

        // Where a step is seasonal, window-seasonal differs from window and is trained.
        var seasonal = Seasonal();
        Assert.Contains(true, seasonal.Preprocessor.SeasonalSteps);
        Assert.Empty(ForecastRun.LeftOut(Options(), seasonal));
        Assert.Equal(3, ForecastRun.Candidates(Options(), seasonal).Count);
        // A series prepared with another normalization is checked as window-seasonal would fit it.
        var asGlobal = PreparedData.Build(rising.Series, new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.Global }, rising.Split);
        Assert.Single(ForecastRun.LeftOut(Options(), asGlobal));
    }

    [Theory]
    [InlineData("""{ "combination": "mean", "members": ["members/1"], "lead": 0 }""", "at least 2")]
    [InlineData("""{ "combination": "mean", "members": ["members/1", "../elsewhere"], "lead": 0 }""", "outside the model directory")]
    [InlineData("""{ "combination": "median", "members": ["members/1", "members/2"], "lead": 0 }""", "not supported")]
    [InlineData("""{ "combination": "mean", "members": ["members/1", "members/2"], "lead": 5 }""", "lead 5")]
    [InlineData("""{ "combination": "mean", "members": ["members/1", "members/3"], "lead": 0 }""", "no such model directory")]
    public void A_broken_ensemble_file_is_refused_with_its_reason(string json, string reason)
    {
        var data = Seasonal();
        var ensemble = Ensemble.Of(Members(Options(), data), lead: 0)!;
        var dir = Directory.CreateTempSubdirectory("ensemble-").FullName;
        try
        {
            ModelStore.Save(dir, ensemble.Model with { Members = [.. ensemble.Model.Members.Take(2)] });
            File.WriteAllText(Path.Combine(dir, ModelStore.EnsembleFileName), json);
            var e = Assert.Throws<ModelFileException>(() => ModelStore.Load(dir));
            Assert.Contains(reason, e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class ValidationComparer : IEqualityComparer<EvaluationReport>
    {
        public bool Equals(EvaluationReport? a, EvaluationReport? b) => a!.Model == b!.Model;
        public int GetHashCode(EvaluationReport r) => r.Model.GetHashCode();
    }
}
