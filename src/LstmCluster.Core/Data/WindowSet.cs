using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Data;

/// <summary>
/// Model-space windows: <see cref="Count"/> inputs of [lookback, features] and targets of
/// [horizon], stored flat (row-major) so they can be sliced into batches, sharded and shipped
/// without tensors. <see cref="Origins"/>[i] is the index, in the original series, of the last
/// observation window i sees.
/// </summary>
public sealed class WindowSet
{
    public WindowSet(float[] inputs, float[] targets, int[] origins, int lookback, int features, int horizon)
    {
        if (inputs.Length != origins.Length * lookback * features)
            throw new ArgumentException($"inputs hold {inputs.Length} values, expected {origins.Length}×{lookback}×{features}");
        if (targets.Length != origins.Length * horizon)
            throw new ArgumentException($"targets hold {targets.Length} values, expected {origins.Length}×{horizon}");
        Inputs = inputs;
        Targets = targets;
        Origins = origins;
        Lookback = lookback;
        Features = features;
        Horizon = horizon;
    }

    public float[] Inputs { get; }
    public float[] Targets { get; }
    public int[] Origins { get; }
    public int Lookback { get; }
    public int Features { get; }
    public int Horizon { get; }
    public int Count => Origins.Length;

    private int InputStride => Lookback * Features;

    /// <summary>The windows at <paramref name="indices"/>, in that order.</summary>
    public WindowSet Select(IReadOnlyList<int> indices)
    {
        var x = new float[indices.Count * InputStride];
        var y = new float[indices.Count * Horizon];
        var o = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            int w = indices[i];
            Array.Copy(Inputs, w * InputStride, x, i * InputStride, InputStride);
            Array.Copy(Targets, w * Horizon, y, i * Horizon, Horizon);
            o[i] = Origins[w];
        }
        return new WindowSet(x, y, o, Lookback, Features, Horizon);
    }

    /// <summary>
    /// The windows of every set, one set after the other: each window stays as its own set built it (from one series, with
    /// that series' normalization), so no window spans two series. <see cref="Origins"/> are each window's own series' rows.
    /// </summary>
    public static WindowSet Concat(IReadOnlyList<WindowSet> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0) throw new ArgumentException("no window sets to join", nameof(sets));
        var first = sets[0];
        if (sets.Any(s => s.Lookback != first.Lookback || s.Features != first.Features || s.Horizon != first.Horizon))
            throw new ArgumentException("window sets of different shapes cannot be joined", nameof(sets));
        return new WindowSet([.. sets.SelectMany(s => s.Inputs)], [.. sets.SelectMany(s => s.Targets)], [.. sets.SelectMany(s => s.Origins)],
            first.Lookback, first.Features, first.Horizon);
    }

    /// <summary>Input tensor [count, lookback, features] (caller disposes, or a dispose scope does).</summary>
    public Tensor InputTensor() => torch.tensor(Inputs, [Count, Lookback, Features]);

    /// <summary>Target tensor [count, horizon].</summary>
    public Tensor TargetTensor() => torch.tensor(Targets, [Count, Horizon]);

    /// <summary>Inputs and targets of the windows at <paramref name="indices"/> as tensors.</summary>
    public (Tensor X, Tensor Y) Batch(IReadOnlyList<int> indices)
    {
        var subset = Select(indices);
        return (subset.InputTensor(), subset.TargetTensor());
    }
}
