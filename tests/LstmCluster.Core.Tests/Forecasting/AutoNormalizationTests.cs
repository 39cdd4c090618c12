using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
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

    private static PreparedData Seasonal(Func<int, double>? testPart = null)
    {
        var rng = new Random(4);
        int n = 160;
        var v = Enumerable.Range(0, n).Select(i => 20 + 5 * Math.Sin(2 * Math.PI * i / 12) + rng.NextDouble()).ToArray();
        var split = SplitPoints.Of(n, 0.7, 0.15);
        if (testPart is not null)
            for (int i = split.ValidationEnd; i < n; i++) v[i] = testPart(i);
        var series = new TimeSeries { Source = "seasonal", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(n) };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.WindowSeasonal });
    }

    private RunResult Auto(PreparedData data)
    {
        var options = new RunOptions
        {
            Data = new CsvSeriesOptions { Path = file, Target = "y" },
            Preprocessing = new PreprocessingOptions { Lookback = 12, Season = 12, Normalize = Normalization.WindowSeasonal },
            AutoNormalize = true,
            Hidden = 6,
            Layers = 1,
            Season = 12,
            Training = new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 3 },
        };
        return ForecastRun.Execute(options, data, ForecastRun.ReferenceEngine, null, CancellationToken.None);
    }

    [Fact]
    public void Auto_trains_every_candidate_and_keeps_the_lowest_validation_error_whatever_the_test_split_holds()
    {
        var plain = Auto(Seasonal());
        Assert.Equal(3, plain.Candidates.Count);
        var chosen = Assert.Single(plain.Candidates, c => c.Chosen);
        Assert.Equal(plain.Candidates.Min(c => c.Validation.Model.Mae), chosen.Validation.Model.Mae);
        Assert.Equal(chosen.Normalize, plain.Data.Preprocessor.Normalize);
        Assert.Equal(chosen.Test, plain.Test);

        // The test split replaced by a trend no candidate has seen: every test error changes, the choice and every validation error do not.
        var shifted = Auto(Seasonal(i => 100 + 3 * i));
        Assert.Equal(plain.Candidates.Select(c => c.Normalize), shifted.Candidates.Select(c => c.Normalize));
        Assert.Equal(plain.Candidates.Select(c => c.Validation), shifted.Candidates.Select(c => c.Validation), new ValidationComparer());
        Assert.Equal(chosen.Normalize, Assert.Single(shifted.Candidates, c => c.Chosen).Normalize);
        Assert.All(plain.Candidates.Zip(shifted.Candidates), p => Assert.NotEqual(p.First.Test.Model.Mae, p.Second.Test.Model.Mae));
    }

    private sealed class ValidationComparer : IEqualityComparer<EvaluationReport>
    {
        public bool Equals(EvaluationReport? a, EvaluationReport? b) => a!.Model == b!.Model;
        public int GetHashCode(EvaluationReport r) => r.Model.GetHashCode();
    }
}
