using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace LstmCluster.Core.Model;

/// <summary>
/// Checks libtorch's float32 LSTM in evaluation against float64, once per shape in a process, and has every later forecast
/// computed in float64 if they ever disagree.
/// <para>
/// Why: evaluation without autograd (validation, forecasts, serving) runs oneDNN's inference LSTM, whose kernels oneDNN picks
/// by processor and cache sizes; training takes another path (oneDNN's reference LSTM). On one AMD EPYC (Zen 5) VM that
/// inference path gave forecasts 0.03–0.2 % away from PyTorch's and from a float64 reference (normalized outputs up to
/// 3e-2); on a second VM with the same processor model it was right at hidden 64 and off by 0.06–0.38 at hidden 4 to 16 and
/// 48, and Intel hosts agree to 1e-7 (measured 2026-12-02). Which shapes go wrong is not predictable, hence a check per shape. Holding oneDNN to AVX2 on every AMD processor (<c>DNNL_MAX_CPU_ISA</c>, the earlier fix) made training take
/// 1.8 times as long there (train K=1 at 0.55× the samples/s, side by side); this check costs one float64 forward per new
/// shape, and where the float32 path is sound nothing else changes.
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

    /// <summary>The shapes (batch, steps, inputs, hidden, layers) and torch thread counts whose float32 output was checked.</summary>
    private readonly ConcurrentDictionary<(long, long, long, long, long, int), bool> verified = new();

    private string? fault;

    /// <summary>Why forecasts are computed in float64 in this process, or null while the float32 LSTM agrees.</summary>
    public string? Fault => Volatile.Read(ref fault);

    /// <summary>Raised once, when a disagreement is found (the CLI prints it as a warning).</summary>
    public event Action<string>? FaultFound;

    /// <summary>
    /// The LSTM's output [batch, seq, hidden] in evaluation without autograd: <paramref name="float32"/>'s, checked against
    /// <paramref name="float64"/>'s (converted to float32) the first time its shape is seen; <paramref name="float64"/>'s
    /// once any check failed.
    /// </summary>
    internal Tensor Output(Tensor x, ModelSpec spec, Func<Tensor, Tensor> float32, Func<Tensor, Tensor> float64)
    {
        if (Fault is not null) return float64(x).to(ScalarType.Float32);
        var output = float32(x);
        var shape = (x.shape[0], x.shape[1], x.shape[2], (long)spec.HiddenSize, (long)spec.NumLayers, TorchSharp.torch.get_num_threads());
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
        Report($"libtorch's float32 LSTM differs from float64 by {worst:G3} on this processor (batch {shape.Item1}, {shape.Item2} steps, "
            + $"{shape.Item3} inputs, hidden {spec.HiddenSize} × {spec.NumLayers}); forecasts are computed in float64 from now on in this process");
        output.Dispose();
        return reference.to(ScalarType.Float32);
    }

    /// <summary>The largest absolute difference between a float32 output and its float64 reference.</summary>
    internal static double Deviation(Tensor float32, Tensor float64)
    {
        using var scope = NewDisposeScope();
        return (float32.to(ScalarType.Float64) - float64).abs().max().item<double>();
    }

    internal void Report(string why)
    {
        if (Interlocked.CompareExchange(ref fault, why, null) is null) FaultFound?.Invoke(why);
    }
}
