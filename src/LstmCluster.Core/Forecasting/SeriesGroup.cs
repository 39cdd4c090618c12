using LstmCluster.Core.Data;

namespace LstmCluster.Core.Forecasting;

/// <summary>
/// One series of a job over several series: its test-split figures and forecast once trained, or why it was skipped.
/// MASE is on the series' own scale (its training split's naive error), so series of any level compare.
/// </summary>
public sealed record SeriesOutcome(string Symbol)
{
    /// <summary>Why the series was not trained (too few rows, ...); null for a trained one.</summary>
    public string? Skipped { get; init; }

    /// <summary>Why its training failed (or that it was cancelled); null when it succeeded or was skipped.</summary>
    public string? Failed { get; init; }

    public int Rows { get; init; }
    public double ModelMase { get; init; } = double.NaN;
    public double NaiveMase { get; init; } = double.NaN;
    public double ModelMae { get; init; } = double.NaN;
    public double NaiveMae { get; init; } = double.NaN;
    public string? BestBaseline { get; init; }
    public double BestBaselineMase { get; init; } = double.NaN;
    public IReadOnlyList<ForecastPoint> Forecast { get; init; } = [];

    /// <summary>The target's observed values (the grid plot's history).</summary>
    public IReadOnlyList<double> History { get; init; } = [];

    /// <summary>Index of the first test observation in <see cref="History"/> (the plot shades the test span).</summary>
    public int TestStart { get; init; }

    public bool Trained => Skipped is null && Failed is null && double.IsFinite(ModelMase);

    /// <summary>The model's test MASE is below the naive forecast's.</summary>
    public bool BeatsNaive => Trained && ModelMase < NaiveMase;

    /// <summary>A trained series' outcome from its run.</summary>
    public static SeriesOutcome From(string symbol, RunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var test = result.Test;
        var naive = test.Baselines.TryGetValue("naive", out var n) ? n : null;
        string best = test.BestBaseline;
        return new SeriesOutcome(symbol)
        {
            Rows = result.Data.Series.Length,
            ModelMase = test.Model.Mase,
            ModelMae = test.Model.Mae,
            NaiveMase = naive?.Mase ?? double.NaN,
            NaiveMae = naive?.Mae ?? double.NaN,
            BestBaseline = best,
            BestBaselineMase = test.Baselines[best].Mase,
            Forecast = result.Forecast,
            History = result.Data.Series.Target,
            TestStart = result.Data.Split.ValidationEnd,
        };
    }
}

/// <summary>
/// What a job over several series reports as a whole: every series' outcome in the job's order, and over the trained
/// ones the median test MASE of the model and of the naive forecast, the median ratio of the two, and how many series
/// the model beats naive on.
/// </summary>
public sealed record GroupSummary(IReadOnlyList<SeriesOutcome> Series)
{
    public IReadOnlyList<SeriesOutcome> Trained => [.. Series.Where(s => s.Trained)];

    public IReadOnlyList<SeriesOutcome> Skipped => [.. Series.Where(s => s.Skipped is not null)];

    public IReadOnlyList<SeriesOutcome> Failed => [.. Series.Where(s => s.Failed is not null)];

    public double MedianModelMase => Median(Trained.Select(s => s.ModelMase));

    public double MedianNaiveMase => Median(Trained.Select(s => s.NaiveMase));

    /// <summary>Median over trained series of model MASE / naive MASE: below 1 when the typical series beats naive.</summary>
    public double MedianRatioToNaive => Median(Trained.Select(s => s.ModelMase / s.NaiveMase));

    public int BeatNaive => Series.Count(s => s.BeatsNaive);

    /// <summary>The median of the finite values; NaN for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
