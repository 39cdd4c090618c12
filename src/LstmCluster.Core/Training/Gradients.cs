using System.Numerics.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Training;

/// <summary>A mini-batch gradient as it travels: flat, with the sample count that weights it and the batch loss.</summary>
public sealed record BatchGradient(float[] Values, double Loss, int Samples);

/// <summary>Forward, loss and backward of a batch; what a worker does each round.</summary>
public static class Gradients
{
    /// <summary>
    /// The gradient of the model's training objective (<see cref="Objective"/>) over the windows at <paramref name="indices"/>,
    /// at the model's current weights, with the batch's <see cref="LossOf"/> (the point forecast's mean squared error) as its
    /// loss. The model is left in training mode with its gradients set.
    /// </summary>
    public static BatchGradient Compute(ForecastModel model, WindowSet windows, IReadOnlyList<int> indices)
    {
        using var scope = torch.NewDisposeScope();
        model.train();
        model.zero_grad();
        var (x, y) = windows.Batch(indices);
        var (point, levels) = model.Forward(x);
        var loss = LossOf(point, y);
        Objective(model.Spec, loss, levels, y).backward();
        return new BatchGradient(ParameterVector.FlattenGradients(model), loss.item<float>(), indices.Count);
    }

    /// <summary>
    /// The loss a model is trained, validated and stopped on, and that the loss plot shows: the mean squared error of the
    /// point forecast, with or without quantiles.
    /// </summary>
    /// <param name="point">The point forecast [batch, horizon] (<see cref="ForecastModel.Forward"/>).</param>
    /// <param name="target">[batch, horizon].</param>
    public static Tensor LossOf(Tensor point, Tensor target, nn.Reduction reduction = nn.Reduction.Mean) =>
        nn.functional.mse_loss(point, target, reduction);

    /// <summary>
    /// What backward runs on: <paramref name="loss"/> (<see cref="LossOf"/>), plus with quantiles the mean pinball loss of the
    /// <paramref name="levels"/> (<see cref="PinballLoss"/>). The levels are built on the detached point and LSTM state
    /// (<see cref="ForecastModel.Forward"/>), so the pinball term reaches the offset head alone and the two terms train
    /// disjoint parameters: their relative weight (1) changes no step of the LSTM or the point head, and for the offset head
    /// only a scale that Adam normalises away and its own clipping (<see cref="MasterOptimizer"/>) sees.
    /// </summary>
    /// <param name="levels">[batch, levels × horizon], level by level, or null for a point head.</param>
    public static Tensor Objective(ModelSpec spec, Tensor loss, Tensor? levels, Tensor target) =>
        levels is null ? loss : loss + PinballLoss(levels, target, spec.Quantiles!);

    /// <summary>
    /// Pinball (quantile) loss: for level q and error e = y − ŷ_q, max(q·e, (q − 1)·e), so under-forecasting costs q per
    /// unit and over-forecasting 1 − q; its minimiser is the q-quantile. Averaged (or summed) over batch, levels and steps.
    /// </summary>
    /// <param name="output">[batch, levels × horizon], level by level.</param>
    /// <param name="target">[batch, horizon].</param>
    public static Tensor PinballLoss(Tensor output, Tensor target, IReadOnlyList<double> levels, nn.Reduction reduction = nn.Reduction.Mean)
    {
        using var scope = torch.NewDisposeScope();
        long batch = target.shape[0], horizon = target.shape[1];
        var predicted = output.view(batch, levels.Count, horizon);
        var error = target.unsqueeze(1) - predicted;
        var q = torch.tensor(levels.Select(l => (float)l).ToArray(), [1, levels.Count, 1], dtype: output.dtype);
        var loss = torch.maximum(q * error, (q - 1) * error);
        var reduced = reduction switch
        {
            nn.Reduction.Sum => loss.sum(),
            nn.Reduction.None => loss,
            _ => loss.mean(),
        };
        return reduced.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sample-weighted average into <paramref name="destination"/> (as long as the gradients): sum(n_i g_i) / sum(n_i), the
    /// gradient of the union batch. One vectorised pass per contribution (<see cref="TensorPrimitives"/>), each added with
    /// its weight n_i / sum(n) in float: within a few ulps of the double accumulation it replaced
    /// (<see cref="ScalarOptimizerReference.WeightedAverage"/>), and exact for one contribution. The parameter server
    /// averages every round into one buffer it keeps, instead of a new large-object-heap array (800 KB at hidden 128) that
    /// the runtime would zero and the GC collect each round.
    /// </summary>
    public static void WeightedAverage(IReadOnlyList<BatchGradient> gradients, Span<float> destination)
    {
        if (gradients.Count == 0) throw new ArgumentException("no gradients to average");
        int length = gradients[0].Values.Length;
        if (destination.Length != length) throw new ArgumentException($"the destination holds {destination.Length} values, the gradients {length}");
        long total = 0;
        foreach (var g in gradients)
        {
            if (g.Values.Length != length) throw new ArgumentException($"gradient lengths differ ({g.Values.Length} vs {length})");
            total += g.Samples;
        }
        if (total == 0) throw new ArgumentException("gradients carry no samples");
        bool first = true;
        foreach (var g in gradients)
        {
            if (g.Samples == 0) continue;
            float weight = (float)((double)g.Samples / total);
            if (first) TensorPrimitives.Multiply(g.Values, weight, destination);
            else TensorPrimitives.MultiplyAdd(g.Values, weight, destination, destination);
            first = false;
        }
    }

    /// <summary>The model's loss (<see cref="LossOf"/>) on every window, per window and step (evaluation mode, no autograd).</summary>
    public static double Loss(ForecastModel model, WindowSet windows, int batchSize = 1024)
    {
        if (windows.Count == 0) return double.NaN;
        using var noGrad = torch.no_grad();
        model.eval();
        double sum = 0;
        for (int start = 0; start < windows.Count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var idx = Enumerable.Range(start, Math.Min(batchSize, windows.Count - start)).ToArray();
            var (x, y) = windows.Batch(idx);
            sum += LossOf(model.Forward(x).Point, y, nn.Reduction.Sum).item<float>();
        }
        return sum / ((double)windows.Count * model.Spec.Horizon);
    }

    /// <summary>Model outputs [count × <see cref="ModelSpec.Outputs"/>] in model space, row-major.</summary>
    public static float[] Predict(ForecastModel model, WindowSet windows, int batchSize = 1024)
    {
        int width = model.Spec.Outputs;
        var result = new float[windows.Count * width];
        using var noGrad = torch.no_grad();
        model.eval();
        for (int start = 0; start < windows.Count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            int n = Math.Min(batchSize, windows.Count - start);
            var x = windows.Select(Enumerable.Range(start, n).ToArray()).InputTensor();
            ParameterVector.CopyTo(model.forward(x), result.AsSpan(start * width, n * width));
        }
        return result;
    }
}
