using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace LstmCluster.Core.Model;

/// <summary>
/// Checks libtorch's float32 LSTM in evaluation against float64, once per shape in a process, and has every later evaluation
/// of an LSTM of the same geometry (inputs, hidden size, layers, torch threads) computed in float64 if they ever disagree.
/// <para>
/// Why: evaluation without autograd (validation, forecasts, serving) runs oneDNN's inference LSTM, whose kernels oneDNN picks
/// by processor and cache sizes; training takes another path (oneDNN's reference LSTM). On one AMD EPYC (Zen 5) VM that
/// inference path gave forecasts 0.03–0.2 % away from PyTorch's and from a float64 reference (normalized outputs up to
/// 3e-2); on a second VM with the same processor model it was right at hidden 64 and off by 0.06–0.38 at hidden 4 to 16 and
/// 48, and Intel hosts agree to 1e-7 (measured 2026-12-02). Which shapes go wrong is not predictable, hence a check per shape. Holding oneDNN to AVX2 on every AMD processor (<c>DNNL_MAX_CPU_ISA</c>, the earlier fix) made training take
/// 1.8 times as long there (train K=1 at 0.55× the samples/s, side by side); this check costs one float64 forward per new
/// shape, and where the float32 path is sound nothing else changes.
/// </para>
/// <para>
/// Why per geometry, not per process: a float64 LSTM forward takes 6–10 times as long as the float32 one (batch 800, 32
/// steps, hidden 16 to 128, on that second VM: the bench's <c>eval-precision</c>), so one faulty hidden-16 model must
/// not slow every hidden-64 validation and forecast after it in a sweep or on a serving node. On that VM the error
/// depended on the hidden size alone: at hidden 16 and 48 every batch (1 to 200) and length (5 to 96 steps) was off by
/// about as much, at hidden 64 none was; so a geometry found wrong once is taken as wrong for every batch and length,
/// and is not asked again.
/// </para>
/// <para>
/// Why float64 and not the training path: float32 with autograd on (its output detached) is right on that VM too (6e-8),
/// but no cheaper where the fault is: 13.7 times the inference path's time at hidden 16 (float64: 10.7), 5.5 at hidden 4
/// (float64: 3.5), and only at hidden 48 cheaper than float64 (3.3 against 6.1; <c>eval-precision</c>, one run beside a CI).
/// </para>
/// </summary>
public sealed class LstmInferenceCheck
{
    /// <summary>This process's check: every <see cref="ForecastModel"/> goes through it.</summary>
    public static LstmInferenceCheck Process { get; } = new();

    /// <summary>
    /// The largest difference allowed between the float32 and float64 outputs (hidden states, within (−1, 1)): float32
    /// rounding moves them by about 1e-7, the fault above by about 1e-2.
    /// </summary>
    public const double Tolerance = 1e-3;

    /// <summary>The shapes (batch, steps, inputs, hidden, layers, torch threads) whose float32 output agreed.</summary>
    private readonly ConcurrentDictionary<(long, long, long, long, long, int), bool> verified = new();

    /// <summary>The geometries (inputs, hidden, layers, torch threads) found wrong, and why: evaluated in float64.</summary>
    private readonly ConcurrentDictionary<(long, long, long, int), string> faulty = new();

    /// <summary>Why some evaluations are computed in float64 in this process (one line per geometry found wrong), or empty.</summary>
    public IReadOnlyCollection<string> Faults => faulty.Values.ToArray();

    /// <summary>Raised once per geometry found wrong (the CLI prints it as a warning).</summary>
    public event Action<string>? FaultFound;

    /// <summary>
    /// The LSTM's output [batch, seq, hidden] in evaluation without autograd: <paramref name="float32"/>'s, checked against
    /// <paramref name="float64"/>'s (converted to float32) the first time its shape is seen; <paramref name="float64"/>'s
    /// for every shape of a geometry whose check failed.
    /// </summary>
    internal Tensor Output(Tensor x, ModelSpec spec, Func<Tensor, Tensor> float32, Func<Tensor, Tensor> float64)
    {
        int threads = TorchSharp.torch.get_num_threads();
        var geometry = (x.shape[2], (long)spec.HiddenSize, (long)spec.NumLayers, threads);
        if (faulty.ContainsKey(geometry)) return float64(x).to(ScalarType.Float32);
        var output = float32(x);
        var shape = (x.shape[0], x.shape[1], x.shape[2], (long)spec.HiddenSize, (long)spec.NumLayers, threads);
        if (x.shape[0] == 0 || verified.ContainsKey(shape)) return output;
        using var reference = float64(x);
        double worst = Deviation(output, reference);
        // A model whose weights went non-finite gives NaN either way: that says nothing about the processor.
        if (double.IsNaN(worst) && reference.isnan().any().item<bool>()) return output;
        if (worst <= Tolerance)
        {
            verified.TryAdd(shape, true);
            return output;
        }
        string why = $"libtorch's float32 LSTM differs from float64 by {worst:G3} on this processor (batch {shape.Item1}, {shape.Item2} steps, "
            + $"{shape.Item3} inputs, hidden {spec.HiddenSize} × {spec.NumLayers}); LSTMs of {shape.Item3} inputs and hidden "
            + $"{spec.HiddenSize} × {spec.NumLayers} are evaluated in float64 from now on in this process";
        if (faulty.TryAdd(geometry, why)) FaultFound?.Invoke(why);
        output.Dispose();
        return reference.to(ScalarType.Float32);
    }

    /// <summary>The largest absolute difference between a float32 output and its float64 reference.</summary>
    internal static double Deviation(Tensor float32, Tensor float64)
    {
        using var scope = NewDisposeScope();
        return (float32.to(ScalarType.Float64) - float64).abs().max().item<double>();
    }
}
