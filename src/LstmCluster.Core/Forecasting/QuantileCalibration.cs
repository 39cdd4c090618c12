using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

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
/// median and the point forecast are never moved: the point metrics are those of the trained point head.
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
    /// Refits <paramref name="model"/>'s offset head (<see cref="QuantileHead.PointOffsets"/>) to the errors of its trained
    /// point forecast: the mean pinball loss of the levels on the training windows, minimised over the offset head alone
    /// (the LSTM and the point head stay as trained) by full-batch Adam from the head training left, keeping the weights of
    /// the lowest validation pinball loss (stopping after <see cref="RefitPatience"/> steps without a fall of
    /// <see cref="RefitMinDelta"/>, at most <see cref="RefitSteps"/>). Nothing for a point model or a model of format 1.
    /// </summary>
    /// <remarks>
    /// During training the head chases the errors of a point forecast that is still moving, with the training's learning
    /// rate and the steps its early stopping allows (on a series of a few hundred rows, about a hundred): at the best epoch
    /// it still describes the errors of earlier epochs, which are much wider. Refitting it on the kept point forecast's
    /// features is a linear quantile regression on fixed inputs, cheap and deterministic. The intervals it gives are fitted
    /// on training windows, which the LSTM fits more closely than new ones: <see cref="Calibrate"/> then widens them on
    /// validation.
    /// </remarks>
    public static void FitOffsetHead(ForecastModel model, PreparedData data)
    {
        if (model.OffsetHead is not { } head || data.Train.Count == 0) return;
        var levels = model.Spec.Quantiles!;
        using var scope = torch.NewDisposeScope();
        var (trainHidden, trainPoint, trainTarget) = FeaturesOf(model, data.Train);
        var validation = data.Validation.Count > 0 ? FeaturesOf(model, data.Validation) : default;
        double ValidationLoss()
        {
            using var noGrad = torch.no_grad();
            using var inner = torch.NewDisposeScope();
            return Gradients.PinballLoss(model.LevelsOf(validation.Hidden, validation.Point), validation.Target, levels).item<float>();
        }

        var weights = ParameterVector.Flatten(head);
        var first = new float[weights.Length];
        var second = new float[weights.Length];
        var best = (float[])weights.Clone();
        double bestLoss = validation.Hidden is null ? double.PositiveInfinity : ValidationLoss(), progressLoss = bestLoss;
        int since = 0;
        head.train();
        for (int step = 1; step <= RefitSteps; step++)
        {
            using (var inner = torch.NewDisposeScope())
            {
                head.zero_grad();
                Gradients.PinballLoss(model.LevelsOf(trainHidden, trainPoint), trainTarget, levels).backward();
                ScalarOptimizerReference.Adam(RefitLearningRate, step, weights, first, second, ParameterVector.FlattenGradients(head));
                ParameterVector.Load(head, weights);
            }
            if (validation.Hidden is null) continue;
            double loss = ValidationLoss();
            if (loss < bestLoss)
            {
                bestLoss = loss;
                weights.CopyTo(best, 0);
            }
            // Patience counts steps without progress (a fall of RefitMinDelta), so a curve that creeps down by crumbs ends.
            if (loss < progressLoss * (1 - RefitMinDelta))
            {
                progressLoss = loss;
                since = 0;
            }
            else if (++since >= RefitPatience) break;
        }
        ParameterVector.Load(head, validation.Hidden is null ? weights : best);
        head.zero_grad();
    }

    /// <summary>Adam's learning rate for <see cref="FitOffsetHead"/>: ten times training's default, on a problem with no LSTM to upset.</summary>
    public const double RefitLearningRate = 0.01;

    /// <summary>The most full-batch steps of <see cref="FitOffsetHead"/>.</summary>
    public const int RefitSteps = 2000;

    /// <summary>Steps without progress (<see cref="RefitMinDelta"/>) on the validation pinball loss after which <see cref="FitOffsetHead"/> stops.</summary>
    public const int RefitPatience = 100;

    /// <summary>The relative fall of the validation pinball loss that counts as progress for <see cref="RefitPatience"/>.</summary>
    public const double RefitMinDelta = 1e-4;

    private static (Tensor Hidden, Tensor Point, Tensor Target) FeaturesOf(ForecastModel model, WindowSet windows)
    {
        using var noGrad = torch.no_grad();
        model.eval();
        var parts = new List<(Tensor Hidden, Tensor Point, Tensor Target)>();
        for (int start = 0; start < windows.Count; start += 1024)
        {
            var (x, y) = windows.Batch(Enumerable.Range(start, Math.Min(1024, windows.Count - start)).ToArray());
            var (hidden, point) = model.Features(x);
            parts.Add((hidden, point, y));
        }
        return parts.Count == 1 ? parts[0]
            : (torch.cat([.. parts.Select(p => p.Hidden)], 0), torch.cat([.. parts.Select(p => p.Point)], 0), torch.cat([.. parts.Select(p => p.Target)], 0));
    }

    /// <summary>
    /// The ⌈(n + 1)·<paramref name="nominal"/>⌉-th smallest of <paramref name="scores"/> (the largest when that rank exceeds
    /// n): how far an interval must widen to cover <paramref name="nominal"/> of n exchangeable points. Sorts the array.
    /// </summary>
    public static double ConformalQuantile(double[] scores, double nominal)
    {
        Array.Sort(scores);
        int rank = (int)Math.Ceiling((scores.Length + 1) * nominal - 1e-9);
        return scores[Math.Clamp(rank, 1, scores.Length) - 1];
    }

    /// <summary>
    /// Per level and step, what to add to the head's output (model space): −Q at the lower and +Q at the upper level of each
    /// central interval, where Q is the ⌈(n + 1)·nominal⌉-th smallest conformity score max(lo − y, y − hi) over the
    /// <paramref name="count"/> windows (the largest when that rank exceeds n); 0 for the median and unpaired levels.
    /// </summary>
    /// <param name="outputs">[count × spec.Outputs]: per window the point, then the levels one block after another.</param>
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
                    double y = targets[i * h + k], lo = outputs[i * width + spec.LevelOutput(lower) + k], hi = outputs[i * width + spec.LevelOutput(upper) + k];
                    scores[i] = Math.Max(lo - y, y - hi);
                }
                double q = ConformalQuantile(scores, nominal);
                offsets[lower][k] = -q;
                offsets[upper][k] = q;
            }
        }
        return offsets;
    }
}
