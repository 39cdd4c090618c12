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

    public MasterOptimizer(ForecastModel model, TrainingOptions options)
    {
        options.Validate();
        this.model = model;
        this.options = options;
        weights = ParameterVector.Flatten(model);
        first = new float[weights.Length];
        second = options.Optimizer == OptimizerKind.Adam ? new float[weights.Length] : null;
        scratch = new float[weights.Length];
        LearningRate = options.LearningRate;
    }

    public ForecastModel Model => model;

    /// <summary>Optimizer steps applied so far.</summary>
    public long Steps { get; private set; }

    public double LearningRate { get; set; }

    /// <summary>Clips and applies <paramref name="gradient"/>; returns its norm before clipping. The model holds the new weights after it.</summary>
    public double Step(float[] gradient)
    {
        if (gradient.Length != weights.Length)
            throw new ArgumentException($"gradient has {gradient.Length} values, the model {weights.Length}");
        double norm = Norm(gradient);
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException("gradient is not finite (NaN or infinity): the learning rate is probably too high");
        // Same factor as torch.nn.utils.clip_grad_norm_.
        float factor = options.ClipNorm > 0 && norm > options.ClipNorm ? (float)(options.ClipNorm / (norm + 1e-6)) : 1f;
        float decay = (float)options.WeightDecay;
        for (int i = 0; i < gradient.Length; i++)
        {
            float g = factor == 1f ? gradient[i] : gradient[i] * factor;
            scratch[i] = decay == 0f ? g : g + decay * weights[i];
        }
        Steps++;
        if (second is not null) Adam(second);
        else Sgd();
        ParameterVector.Load(model, weights);
        return norm;
    }

    /// <summary>torch.optim.Adam (single-tensor path, amsgrad off): moments, bias corrections, then addcdiv.</summary>
    private void Adam(float[] exp_avg_sq)
    {
        double biasCorrection1 = 1 - Math.Pow(Beta1, Steps);
        double biasCorrection2 = 1 - Math.Pow(Beta2, Steps);
        float stepSize = (float)(LearningRate / biasCorrection1);
        float correction2Sqrt = (float)Math.Sqrt(biasCorrection2);
        const float oneMinusBeta1 = 1 - Beta1, oneMinusBeta2 = 1 - Beta2;
        for (int i = 0; i < weights.Length; i++)
        {
            float g = scratch[i];
            float m = first[i] * Beta1 + oneMinusBeta1 * g;
            float v = exp_avg_sq[i] * Beta2 + oneMinusBeta2 * g * g;
            first[i] = m;
            exp_avg_sq[i] = v;
            float denom = MathF.Sqrt(v) / correction2Sqrt + Epsilon;
            weights[i] += -stepSize * (m / denom);
        }
    }

    /// <summary>torch.optim.SGD (no dampening, no Nesterov): the momentum buffer starts as the first gradient.</summary>
    private void Sgd()
    {
        float lr = (float)LearningRate;
        float momentum = (float)options.Momentum;
        for (int i = 0; i < weights.Length; i++)
        {
            float d = scratch[i];
            if (momentum != 0f)
            {
                d = Steps == 1 ? d : first[i] * momentum + d;
                first[i] = d;
            }
            weights[i] += -lr * d;
        }
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

    private static double Norm(float[] v)
    {
        double ss = 0;
        foreach (var x in v) ss += (double)x * x;
        return Math.Sqrt(ss);
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
