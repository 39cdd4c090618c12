namespace LstmCluster.Core.Evaluation;

/// <summary>
/// Point-forecast errors in the series' original units. <see cref="Mape"/> and <see cref="Smape"/> are
/// percentages; <see cref="Mase"/> is unitless (below 1 means better than the in-sample naive forecast).
/// </summary>
public sealed record ErrorMetrics(double Mae, double Rmse, double Mape, double Smape, double Mase);

public static class Metrics
{
    /// <summary>
    /// Errors of <paramref name="predicted"/> against <paramref name="actual"/> (same length, at least one point).
    /// MAPE skips points whose actual is 0 (NaN if every actual is 0); a sMAPE term with |a| + |p| = 0 counts 0;
    /// MASE is MAE / <paramref name="maseScale"/>, NaN when the scale is not a positive finite number.
    /// </summary>
    public static ErrorMetrics Compute(ReadOnlySpan<double> actual, ReadOnlySpan<double> predicted, double maseScale)
    {
        if (actual.Length != predicted.Length)
            throw new ArgumentException(
                $"actual has {actual.Length} values but predicted has {predicted.Length}; they must be the same length.",
                nameof(predicted));
        if (actual.Length == 0)
            throw new ArgumentException("actual and predicted are empty; at least one point is needed.", nameof(actual));

        double absSum = 0, squareSum = 0, apeSum = 0, sapeSum = 0;
        var apeCount = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var a = actual[i];
            var p = predicted[i];
            var absError = Math.Abs(a - p);
            absSum += absError;
            squareSum += absError * absError;
            // A zero actual makes the percentage error infinite; skipping it is the usual convention
            // (intermittent series are better judged by sMAPE or MASE).
            if (a != 0)
            {
                apeSum += absError / Math.Abs(a);
                apeCount++;
            }
            var denominator = Math.Abs(a) + Math.Abs(p);
            // 0/0 here means both are exactly 0: a perfect forecast, so the term is 0, not NaN.
            if (denominator != 0)
                sapeSum += 2 * absError / denominator;
        }

        var n = actual.Length;
        var mae = absSum / n;
        var rmse = Math.Sqrt(squareSum / n);
        var mape = apeCount == 0 ? double.NaN : 100 * apeSum / apeCount;
        var smape = 100 * sapeSum / n;
        // A constant training series has scale 0; NaN says "undefined" instead of an infinite or negative ratio.
        var mase = double.IsFinite(maseScale) && maseScale > 0 ? mae / maseScale : double.NaN;
        return new ErrorMetrics(mae, rmse, mape, smape, mase);
    }

    /// <summary>
    /// MASE denominator (Hyndman &amp; Koehler 2006): mean |y[t] - y[t-m]| over t = m..n-1 of the training series.
    /// A series too short for one seasonal difference (fewer than m + 1 points) uses m = 1.
    /// </summary>
    public static double MaseScale(ReadOnlySpan<double> training, int season)
    {
        if (season < 1)
            throw new ArgumentException($"season must be at least 1 (got {season}).", nameof(season));
        if (training.Length < 2)
            throw new ArgumentException(
                $"the training series has {training.Length} value(s); the MASE scale needs at least 2.", nameof(training));

        var m = training.Length < season + 1 ? 1 : season;
        double sum = 0;
        for (var t = m; t < training.Length; t++)
            sum += Math.Abs(training[t] - training[t - m]);
        return sum / (training.Length - m);
    }
}
