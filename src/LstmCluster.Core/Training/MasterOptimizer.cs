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
    private readonly float[] scratch;    // the gradient as applied (clipped, with weight decay)
    private readonly float[] temp;       // Adam's per-element intermediates
    private readonly double[] wide;      // the gradient in double, for its norm
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
        temp = new float[Math.Min(Block, weights.Length)];
        wide = new double[weights.Length];
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
        double norm = Norm(gradient, wide);
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException("gradient is not finite (NaN or infinity): the learning rate is probably too high");
        Steps++;
        if (split == weights.Length)
        {
            Apply(gradient, 0, weights.Length, ClipFactor(norm));
        }
        else
        {
            Apply(gradient, 0, split, ClipFactor(Norm(gradient.AsSpan(0, split), wide)));
            Apply(gradient, split, weights.Length - split, ClipFactor(Norm(gradient.AsSpan(split), wide)));
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
        float decay = (float)options.WeightDecay;
        // Every operation is per element: the vector is walked in blocks that stay in the L1/L2 cache through the
        // several vectorised passes of a step (a 200k-parameter model's vectors are 800 KB each).
        for (int start = offset; start < offset + count; start += Block)
        {
            int length = Math.Min(Block, offset + count - start);
            var g = scratch.AsSpan(start, length);
            var w = weights.AsSpan(start, length);
            if (factor == 1f) gradient.AsSpan(start, length).CopyTo(g);
            else TensorPrimitives.Multiply(gradient.AsSpan(start, length), factor, g);
            if (decay != 0f) TensorPrimitives.MultiplyAdd(w, decay, g, g);
            if (second is not null) Adam(w, g, first.AsSpan(start, length), second.AsSpan(start, length), temp.AsSpan(0, length));
            else Sgd(w, g, first.AsSpan(start, length));
        }
    }

    /// <summary>Elements per block of <see cref="Step"/>: five 16 KB vectors, well inside a core's L2 cache.</summary>
    private const int Block = 4096;

    /// <summary>
    /// torch.optim.Adam (single-tensor path, amsgrad off): moments, bias corrections, then addcdiv. Each line is one
    /// vectorised pass (<see cref="TensorPrimitives"/>) doing per element what the scalar loop did, in the same order
    /// (<see cref="ScalarOptimizerReference.Adam"/>; tested equal).
    /// </summary>
    private void Adam(Span<float> w, Span<float> g, Span<float> m, Span<float> v, Span<float> t)
    {
        double biasCorrection1 = 1 - Math.Pow(Beta1, Steps);
        double biasCorrection2 = 1 - Math.Pow(Beta2, Steps);
        float stepSize = (float)(LearningRate / biasCorrection1);
        float correction2Sqrt = (float)Math.Sqrt(biasCorrection2);
        const float oneMinusBeta1 = 1 - Beta1, oneMinusBeta2 = 1 - Beta2;
        // m = m·β1 + (1 − β1)·g
        TensorPrimitives.Multiply(m, Beta1, m);
        TensorPrimitives.MultiplyAdd(g, oneMinusBeta1, m, m);
        // v = v·β2 + ((1 − β2)·g)·g
        TensorPrimitives.Multiply(g, oneMinusBeta2, t);
        TensorPrimitives.Multiply(t, g, t);
        TensorPrimitives.MultiplyAdd(v, Beta2, t, v);
        // w = w + (−stepSize)·(m / (√v / √(1 − β2ᵗ) + ε))
        TensorPrimitives.Sqrt(v, t);
        TensorPrimitives.Divide(t, correction2Sqrt, t);
        TensorPrimitives.Add(t, Epsilon, t);
        TensorPrimitives.Divide(m, t, t);
        TensorPrimitives.MultiplyAdd(t, -stepSize, w, w);
    }

    /// <summary>torch.optim.SGD (no dampening, no Nesterov): the momentum buffer starts as the first gradient.</summary>
    private void Sgd(Span<float> w, Span<float> d, Span<float> buffer)
    {
        float lr = (float)LearningRate;
        float momentum = (float)options.Momentum;
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
    /// scalar loop's): the values widened to double, then their squares summed, both vectorised.
    /// </summary>
    internal static double Norm(ReadOnlySpan<float> v, Span<double> wide)
    {
        TensorPrimitives.ConvertTruncating<float, double>(v, wide);
        return Math.Sqrt(TensorPrimitives.SumOfSquares<double>(wide[..v.Length]));
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
