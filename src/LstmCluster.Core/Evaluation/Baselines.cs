namespace LstmCluster.Core.Evaluation;

public enum BaselineKind
{
    /// <summary>Every step repeats the last observation.</summary>
    Naive,
    /// <summary>Each step repeats the observation one season earlier (the last season's value at that phase).</summary>
    SeasonalNaive,
    /// <summary>The line from the first to the last observation, extended.</summary>
    Drift,
    /// <summary>Every step is the mean of the whole history.</summary>
    Mean,
}

/// <summary>
/// The simple forecasts (Hyndman &amp; Athanasopoulos, FPP ch. 5) a model has to beat to be worth its training time.
/// </summary>
public static class Baselines
{
    public static IReadOnlyList<BaselineKind> All { get; } =
        [BaselineKind.Naive, BaselineKind.SeasonalNaive, BaselineKind.Drift, BaselineKind.Mean];

    /// <summary>Stable snake_case name, used as the key in reports and output files.</summary>
    public static string Name(BaselineKind kind) => kind switch
    {
        BaselineKind.Naive => "naive",
        BaselineKind.SeasonalNaive => "seasonal_naive",
        BaselineKind.Drift => "drift",
        BaselineKind.Mean => "mean",
        _ => throw new ArgumentException($"unknown baseline kind {(int)kind}.", nameof(kind)),
    };

    /// <summary>
    /// Forecasts of the <paramref name="horizon"/> steps after the origin, where <paramref name="history"/> is every
    /// observation up to and including the origin (history[^1]).
    /// </summary>
    public static double[] Forecast(BaselineKind kind, ReadOnlySpan<double> history, int horizon, int season)
    {
        if (history.IsEmpty)
            throw new ArgumentException("history is empty; a baseline needs at least the origin value.", nameof(history));
        if (horizon < 1)
            throw new ArgumentException($"horizon must be at least 1 (got {horizon}).", nameof(horizon));
        if (season < 1)
            throw new ArgumentException($"season must be at least 1 (got {season}).", nameof(season));

        var last = history.Length - 1;
        var forecast = new double[horizon];
        switch (kind)
        {
            case BaselineKind.Naive:
                forecast.AsSpan().Fill(history[last]);
                break;
            case BaselineKind.SeasonalNaive:
                // Less than one full season has no value at every phase, so the naive forecast stands in.
                var m = history.Length < season ? 1 : season;
                for (var k = 1; k <= horizon; k++)
                {
                    var seasonsBack = (k + m - 1) / m; // ceil(k / m): steps past the first season reuse the last one
                    forecast[k - 1] = history[last + k - m * seasonsBack];
                }
                break;
            case BaselineKind.Drift:
                var slope = last == 0 ? 0 : (history[last] - history[0]) / last;
                for (var k = 1; k <= horizon; k++)
                    forecast[k - 1] = history[last] + k * slope;
                break;
            case BaselineKind.Mean:
                double sum = 0;
                foreach (var y in history)
                    sum += y;
                forecast.AsSpan().Fill(sum / history.Length);
                break;
            default:
                throw new ArgumentException($"unknown baseline kind {(int)kind}.", nameof(kind));
        }
        return forecast;
    }
}
