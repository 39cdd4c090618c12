using LstmCluster.Core.Model;

namespace LstmCluster.Core.Evaluation;

/// <summary>One quantile level on a split: its mean pinball loss (original units) and the share of actual values at or below it.</summary>
public sealed record QuantileScore(double Level, double Pinball, double BelowFraction);

/// <summary>
/// A central interval [q_lower, q_upper] (upper = 1 − lower) on a split: its nominal coverage (upper − lower), the share of
/// actual values inside it (bounds included) and its mean width (original units).
/// </summary>
public sealed record IntervalCoverage(double Lower, double Upper, double Nominal, double Coverage, double MeanWidth);

/// <summary>How well a quantile head's levels fit a split: each level's pinball loss, each central interval's coverage.</summary>
public sealed record QuantileReport(IReadOnlyList<QuantileScore> Levels, IReadOnlyList<IntervalCoverage> Intervals, double MeanPinball, int Points)
{
    /// <summary>The same split scored without the validation calibration (the head's raw levels), when one was applied.</summary>
    public QuantileReport? Uncalibrated { get; init; }
}

/// <summary>Scores quantile forecasts against the held-out truth, pooling every (origin, step) point as <see cref="HoldoutEvaluation"/> does.</summary>
public static class QuantileEvaluation
{
    /// <summary>Pinball loss of forecasting <paramref name="predicted"/> as the <paramref name="level"/>-quantile when <paramref name="actual"/> happens.</summary>
    public static double Pinball(double level, double actual, double predicted)
    {
        double e = actual - predicted;
        return Math.Max(level * e, (level - 1) * e);
    }

    /// <param name="series">The target in original units.</param>
    /// <param name="origins">Index of each window's last observation.</param>
    /// <param name="forecasts">Per window, per level (in the order of <paramref name="levels"/>), the <paramref name="horizon"/> values.</param>
    /// <param name="levels">Strictly increasing levels in (0, 1).</param>
    public static QuantileReport Evaluate(ReadOnlySpan<double> series, IReadOnlyList<int> origins, IReadOnlyList<double[][]> forecasts,
        IReadOnlyList<double> levels, int horizon)
    {
        if (QuantileLevels.Problem(levels) is { } problem) throw new ArgumentException(problem, nameof(levels));
        if (forecasts.Count != origins.Count)
            throw new ArgumentException($"{origins.Count} origin(s) but {forecasts.Count} quantile forecast(s)", nameof(forecasts));
        int points = origins.Count * horizon;
        var pinball = new double[levels.Count];
        var below = new int[levels.Count];
        var intervals = QuantileLevels.CentralIntervals(levels);
        var inside = new int[intervals.Count];
        var width = new double[intervals.Count];
        for (int w = 0; w < origins.Count; w++)
        {
            var f = forecasts[w];
            if (f.Length != levels.Count || f.Any(row => row.Length != horizon))
                throw new ArgumentException($"quantile forecast {w} is not {levels.Count} levels × {horizon} steps", nameof(forecasts));
            for (int k = 0; k < horizon; k++)
            {
                int t = origins[w] + 1 + k;
                if (origins[w] < 0 || t >= series.Length)
                    throw new ArgumentException($"origin {origins[w]} + step {k + 1} lies outside the series of {series.Length} values", nameof(origins));
                double y = series[t];
                for (int q = 0; q < levels.Count; q++)
                {
                    pinball[q] += Pinball(levels[q], y, f[q][k]);
                    if (y <= f[q][k]) below[q]++;
                }
                for (int i = 0; i < intervals.Count; i++)
                {
                    double lo = f[intervals[i].Lower][k], hi = f[intervals[i].Upper][k];
                    if (lo <= y && y <= hi) inside[i]++;
                    width[i] += hi - lo;
                }
            }
        }
        double n = Math.Max(1, points);
        var scores = levels.Select((l, q) => new QuantileScore(l, points > 0 ? pinball[q] / n : double.NaN, points > 0 ? below[q] / n : double.NaN)).ToArray();
        var coverage = intervals.Select((iv, i) => new IntervalCoverage(levels[iv.Lower], levels[iv.Upper], iv.Nominal,
            points > 0 ? inside[i] / n : double.NaN, points > 0 ? width[i] / n : double.NaN)).ToArray();
        return new QuantileReport(scores, coverage, points > 0 ? scores.Average(s => s.Pinball) : double.NaN, points);
    }
}
