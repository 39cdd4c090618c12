using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Forecasting;

/// <summary>
/// Conformalized quantile regression (Romano, Patterson and Candès, 2019) on the validation split: each central interval
/// [q_lo, q_hi] of a quantile head is widened (or narrowed) at each step by the amount that makes it cover its nominal share
/// of the validation windows, and the widths are kept with the model (<see cref="Preprocessor.QuantileOffsets"/>).
/// </summary>
/// <remarks>
/// The pinball loss fits the levels on the training split, where the series may be calmer than later (AirPassengers'
/// swings grow with its level), and an LSTM that fits its training windows closely is over-confident out of sample.
/// Validation is the most recent data the model did not train on; the test split never takes part. The offsets are in
/// model space, so they scale with a window's own scale (window-scaled) and compound as returns (log-return), and the
/// median (the point forecast) is never moved: the point metrics are those of the trained head.
/// </remarks>
public static class QuantileCalibration
{
    /// <summary>
    /// <paramref name="data"/>'s preprocessor with the offsets that calibrate <paramref name="model"/>'s central intervals
    /// on <paramref name="data"/>'s validation windows; unchanged for a point head or without validation windows.
    /// </summary>
    public static Preprocessor Calibrate(ForecastModel model, PreparedData data)
    {
        var spec = model.Spec;
        if (!spec.IsQuantile || data.Validation.Count == 0) return data.Preprocessor;
        var outputs = Gradients.Predict(model, data.Validation);
        return data.Preprocessor with { QuantileOffsets = Offsets(spec, outputs, data.Validation.Targets, data.Validation.Count) };
    }

    /// <summary>
    /// Per level and step, what to add to the head's output (model space): −Q at the lower and +Q at the upper level of each
    /// central interval, where Q is the ⌈(n + 1)·nominal⌉-th smallest conformity score max(lo − y, y − hi) over the
    /// <paramref name="count"/> windows (the largest when that rank exceeds n); 0 for the median and unpaired levels.
    /// </summary>
    /// <param name="outputs">[count × spec.Outputs], level by level.</param>
    /// <param name="targets">[count × horizon], model space.</param>
    public static double[][] Offsets(ModelSpec spec, IReadOnlyList<float> outputs, IReadOnlyList<float> targets, int count)
    {
        int levels = spec.QuantileCount, h = spec.Horizon, width = spec.Outputs;
        var offsets = Enumerable.Range(0, levels).Select(_ => new double[h]).ToArray();
        if (count == 0) return offsets;
        var scores = new double[count];
        foreach (var (lower, upper, nominal) in QuantileLevels.CentralIntervals(spec.Quantiles!))
        {
            for (int k = 0; k < h; k++)
            {
                for (int i = 0; i < count; i++)
                {
                    double y = targets[i * h + k], lo = outputs[i * width + lower * h + k], hi = outputs[i * width + upper * h + k];
                    scores[i] = Math.Max(lo - y, y - hi);
                }
                Array.Sort(scores);
                int rank = (int)Math.Ceiling((count + 1) * nominal - 1e-9);
                double q = scores[Math.Clamp(rank, 1, count) - 1];
                offsets[lower][k] = -q;
                offsets[upper][k] = q;
            }
        }
        return offsets;
    }
}
