using System.Numerics;
using System.Numerics.Tensors;
using LstmCluster.Core.Model;

namespace LstmCluster.Core.Training;

/// <summary>
/// The master copy of the weights and its optimizer state: takes an averaged flat gradient, clips
/// it by global norm and applies one optimizer step. The reference trainer and the parameter
/// server both go through this class, which is what makes them comparable step for step.
/// </summary>
/// <remarks>
/// The step runs on the flat <c>float[]</c> vectors in managed code, with PyTorch's own formulas and
/// operation order (<c>torch.optim.Adam</c> and <c>torch.optim.SGD</c>, checked against PyTorch by
/// <c>PyTorchParityTests</c>), and then loads the weights into the model. It does not use TorchSharp's
/// optimizers: with several threads allocating (K workers in one process) their step failed 3 of 24 two-worker
/// runs with "Expected false to be true ... toFloat at c10/core/Scalar.h:140" or "Unknown scalar type" (stack
/// trace in TorchSharp.Modules.Adam.step), most likely a managed <c>Scalar</c> wrapper finalized by a garbage
/// collection while native code still used it; without them 48 of 48 such runs passed. The flat vectors are
/// what the parameter server holds anyway: no flatten per round either.
/// </remarks>
public sealed class MasterOptimizer : IDisposable
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;

    private readonly ForecastModel model;
    private readonly TrainingOptions options;
    private readonly float[] weights;
    private readonly float[] first;      // Adam: exp_avg; SGD: the momentum buffer
    private readonly float[]? second;    // Adam: exp_avg_sq
    private readonly float[] scratch;    // SGD: the gradient as applied (clipped, with weight decay)
    private readonly int split;          // where the offset head's parameters start (the length without one)

    public MasterOptimizer(ForecastModel model, TrainingOptions options)
    {
        options.Validate();
        this.model = model;
        this.options = options;
        weights = ParameterVector.Flatten(model);
        first = new float[weights.Length];
        second = options.Optimizer == OptimizerKind.Adam ? new float[weights.Length] : null;
        scratch = new float[weights.Length];
        split = weights.Length - checked((int)model.Spec.OffsetParameters);
        LearningRate = options.LearningRate;
    }

    public ForecastModel Model => model;

    /// <summary>Optimizer steps applied so far.</summary>
    public long Steps { get; private set; }

    public double LearningRate { get; set; }

    /// <summary>Clips and applies <paramref name="gradient"/>; returns its norm before clipping. The model holds the new weights after it.</summary>
    /// <remarks>
    /// A quantile model's offset head (the end of the vector) is clipped by its own norm, the rest (the LSTM and the point
    /// head) by theirs: clipped together, the pinball loss's gradient would shrink the point head's steps, and a model with
    /// quantiles would no longer forecast the points of the same model without them.
    /// </remarks>
    public double Step(float[] gradient)
    {
        if (gradient.Length != weights.Length)
            throw new ArgumentException($"gradient has {gradient.Length} values, the model {weights.Length}");
        double norm = Norm(gradient);
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException("gradient is not finite (NaN or infinity): the learning rate is probably too high");
        Steps++;
        if (split == weights.Length)
        {
            Apply(gradient, 0, weights.Length, ClipFactor(norm));
        }
        else
        {
            Apply(gradient, 0, split, ClipFactor(Norm(gradient.AsSpan(0, split))));
            Apply(gradient, split, weights.Length - split, ClipFactor(Norm(gradient.AsSpan(split))));
        }
        ParameterVector.Load(model, weights);
        return norm;
    }

    /// <summary>The factor torch.nn.utils.clip_grad_norm_ scales a gradient of norm <paramref name="norm"/> by.</summary>
    private float ClipFactor(double norm) =>
        options.ClipNorm > 0 && norm > options.ClipNorm ? (float)(options.ClipNorm / (norm + 1e-6)) : 1f;

    /// <summary>One optimizer step on elements [<paramref name="offset"/>, + <paramref name="count"/>), their gradient scaled by <paramref name="factor"/>.</summary>
    private void Apply(float[] gradient, int offset, int count, float factor)
    {
        var g = gradient.AsSpan(offset, count);
        var w = weights.AsSpan(offset, count);
        var m = first.AsSpan(offset, count);
        float decay = (float)options.WeightDecay;
        if (second is not null) Adam(g, factor, decay, w, m, second.AsSpan(offset, count));
        else Sgd(g, factor, decay, w, m);
    }

    /// <summary>
    /// torch.optim.Adam (single-tensor path, amsgrad off) after the clip and the weight decay: moments, bias corrections,
    /// then addcdiv, per element the operations of <see cref="ScalarOptimizerReference.Adam"/> in the same order (tested
    /// equal), in one pass over the four vectors. Vector arithmetic rounds each operation as the scalar code does (no
    /// fused multiply-add). One pass instead of one per operation: a 200k-parameter model's vectors are 800 KB each, and
    /// the step's cost is the memory it walks (OptimizerBench: ns per parameter).
    /// </summary>
    private void Adam(ReadOnlySpan<float> gradient, float factor, float decay, Span<float> w, Span<float> m, Span<float> v)
    {
        double biasCorrection1 = 1 - Math.Pow(Beta1, Steps);
        double biasCorrection2 = 1 - Math.Pow(Beta2, Steps);
        float stepSize = (float)(LearningRate / biasCorrection1);
        float correction2Sqrt = (float)Math.Sqrt(biasCorrection2);
        const float oneMinusBeta1 = 1 - Beta1, oneMinusBeta2 = 1 - Beta2;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vFactor = new Vector<float>(factor);
            var vDecay = new Vector<float>(decay);
            var vBeta1 = new Vector<float>(Beta1);
            var vBeta2 = new Vector<float>(Beta2);
            var vOneMinusBeta1 = new Vector<float>(oneMinusBeta1);
            var vOneMinusBeta2 = new Vector<float>(oneMinusBeta2);
            var vCorrection2Sqrt = new Vector<float>(correction2Sqrt);
            var vEpsilon = new Vector<float>(Epsilon);
            var vStep = new Vector<float>(-stepSize);
            for (; i <= gradient.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var g = new Vector<float>(gradient[i..]);
                var wi = new Vector<float>(w[i..]);
                if (factor != 1f) g *= vFactor;
                if (decay != 0f) g = wi * vDecay + g;
                // m = m·β1 + (1 − β1)·g
                var mi = g * vOneMinusBeta1 + new Vector<float>(m[i..]) * vBeta1;
                // v = v·β2 + ((1 − β2)·g)·g
                var vi = new Vector<float>(v[i..]) * vBeta2 + g * vOneMinusBeta2 * g;
                // w = w + (−stepSize)·(m / (√v / √(1 − β2ᵗ) + ε))
                var denominator = Vector.SquareRoot(vi) / vCorrection2Sqrt + vEpsilon;
                wi = mi / denominator * vStep + wi;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                wi.CopyTo(w[i..]);
            }
        }
        for (; i < gradient.Length; i++)
        {
            float g = gradient[i];
            if (factor != 1f) g *= factor;
            if (decay != 0f) g = w[i] * decay + g;
            m[i] = g * oneMinusBeta1 + m[i] * Beta1;
            v[i] = v[i] * Beta2 + g * oneMinusBeta2 * g;
            float denominator = MathF.Sqrt(v[i]) / correction2Sqrt + Epsilon;
            w[i] = m[i] / denominator * -stepSize + w[i];
        }
    }

    /// <summary>torch.optim.SGD (no dampening, no Nesterov): the momentum buffer starts as the first gradient.</summary>
    private void Sgd(ReadOnlySpan<float> gradient, float factor, float decay, Span<float> w, Span<float> buffer)
    {
        float lr = (float)LearningRate;
        float momentum = (float)options.Momentum;
        // The gradient as applied (clipped, with weight decay) in scratch, then the vectorised passes: SGD's few operations
        // per element leave little for a fused loop to save.
        var d = scratch.AsSpan(0, gradient.Length);
        if (factor == 1f) gradient.CopyTo(d);
        else TensorPrimitives.Multiply(gradient, factor, d);
        if (decay != 0f) TensorPrimitives.MultiplyAdd(w, decay, d, d);
        if (momentum != 0f)
        {
            // buf = buf·μ + d (the first step: buf = d)
            if (Steps == 1) d.CopyTo(buffer);
            else TensorPrimitives.MultiplyAdd(buffer, momentum, d, buffer);
            d = buffer;
        }
        TensorPrimitives.MultiplyAdd(d, -lr, w, w);
    }

    /// <summary>Everything a later step depends on (weights, moments, step count, learning rate), copied: a checkpoint.</summary>
    public OptimizerState Export() =>
        new((float[])weights.Clone(), (float[])first.Clone(), (float[]?)second?.Clone(), Steps, LearningRate);

    /// <summary>
    /// Continues from <paramref name="state"/> (a checkpoint of a model of the same shape and optimizer): the next
    /// <see cref="Step"/> computes what it would have computed in the run that exported it.
    /// </summary>
    public void Restore(OptimizerState state)
    {
        if (state.Weights.Length != weights.Length || state.FirstMoment.Length != weights.Length)
            throw new ArgumentException($"the checkpoint holds {state.Weights.Length} weights, the model {weights.Length}");
        if ((state.SecondMoment is null) != (second is null) || (state.SecondMoment is { } s && s.Length != weights.Length))
            throw new ArgumentException($"the checkpoint's optimizer state does not fit {options.Optimizer}");
        state.Weights.CopyTo(weights, 0);
        state.FirstMoment.CopyTo(first, 0);
        state.SecondMoment?.CopyTo(second!, 0);
        Steps = state.Steps;
        LearningRate = state.LearningRate;
        ParameterVector.Load(model, weights);
    }

    /// <summary>A copy of the master weights (callers keep or send it).</summary>
    public float[] Weights() => (float[])weights.Clone();

    /// <summary>Replaces the master weights (local-SGD averaging, a worker's new round) and loads them into the model.</summary>
    public void LoadWeights(ReadOnlySpan<float> values)
    {
        if (values.Length != weights.Length)
            throw new ArgumentException($"weights have {values.Length} values, the model {weights.Length}");
        values.CopyTo(weights);
        ParameterVector.Load(model, weights);
    }

    /// <summary>
    /// The L2 norm in double, as the scalar loop had it (it sets the clipping factor, whose float value then matches the
    /// scalar loop's): each value widened to double and squared, the squares summed in four vector accumulators, in one
    /// pass and without a double copy of the vector.
    /// </summary>
    internal static double Norm(ReadOnlySpan<float> v)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && v.Length >= 2 * Vector<float>.Count)
        {
            Vector<double> a = Vector<double>.Zero, b = Vector<double>.Zero, c = Vector<double>.Zero, d = Vector<double>.Zero;
            for (; i <= v.Length - 2 * Vector<float>.Count; i += 2 * Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(v[i..]), out var low, out var high);
                a += low * low;
                b += high * high;
                Vector.Widen(new Vector<float>(v[(i + Vector<float>.Count)..]), out low, out high);
                c += low * low;
                d += high * high;
            }
            sum = Vector.Sum((a + b) + (c + d));
        }
        for (; i < v.Length; i++) sum += (double)v[i] * v[i];
        return Math.Sqrt(sum);
    }

    public void Dispose()
    {
        // Managed state only; kept disposable so callers' `using` stays valid if native state returns.
    }
}

/// <summary>
/// A <see cref="MasterOptimizer"/>'s state: the weights, Adam's exp_avg (or SGD's momentum buffer) and exp_avg_sq
/// (null for SGD), the steps taken (Adam's bias correction) and the learning rate in force.
/// </summary>
public sealed record OptimizerState(float[] Weights, float[] FirstMoment, float[]? SecondMoment, long Steps, double LearningRate);

/// <summary>Training diverged (a non-finite gradient): a result of the options and the data, reported in one line, not a fault of the code.</summary>
public sealed class TrainingDivergedException(string message) : InvalidOperationException(message);
