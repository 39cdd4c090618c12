using LstmCluster.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Training;

/// <summary>
/// The master copy of the weights and its optimizer state: takes an averaged flat gradient, clips
/// it by global norm and applies one optimizer step. The reference trainer and the parameter
/// server both go through this class, which is what makes them comparable step for step.
/// </summary>
public sealed class MasterOptimizer : IDisposable
{
    private readonly ForecastModel model;
    private readonly optim.Optimizer optimizer;
    private readonly TrainingOptions options;

    public MasterOptimizer(ForecastModel model, TrainingOptions options)
    {
        options.Validate();
        this.model = model;
        this.options = options;
        optimizer = options.Optimizer switch
        {
            OptimizerKind.Sgd => optim.SGD(model.parameters(), options.LearningRate, momentum: options.Momentum, weight_decay: options.WeightDecay),
            _ => optim.Adam(model.parameters(), options.LearningRate, weight_decay: options.WeightDecay),
        };
    }

    public ForecastModel Model => model;

    /// <summary>Optimizer steps applied so far.</summary>
    public long Steps { get; private set; }

    public double LearningRate
    {
        get => optimizer.ParamGroups.First().LearningRate;
        set
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = value;
        }
    }

    /// <summary>Clips and applies <paramref name="gradient"/>; returns its norm before clipping.</summary>
    public double Step(float[] gradient)
    {
        double norm = Norm(gradient);
        if (!double.IsFinite(norm))
            throw new InvalidOperationException("gradient is not finite (NaN or infinity): the learning rate is probably too high");
        float[] applied = gradient;
        if (options.ClipNorm > 0 && norm > options.ClipNorm)
        {
            // Same factor as torch.nn.utils.clip_grad_norm_.
            float factor = (float)(options.ClipNorm / (norm + 1e-6));
            applied = new float[gradient.Length];
            for (int i = 0; i < gradient.Length; i++) applied[i] = gradient[i] * factor;
        }
        using var scope = torch.NewDisposeScope();
        ParameterVector.LoadGradients(model, applied);
        optimizer.step();
        Steps++;
        return norm;
    }

    public float[] Weights() => ParameterVector.Flatten(model);

    public void LoadWeights(ReadOnlySpan<float> weights) => ParameterVector.Load(model, weights);

    private static double Norm(float[] v)
    {
        double ss = 0;
        foreach (var x in v) ss += (double)x * x;
        return Math.Sqrt(ss);
    }

    public void Dispose() => optimizer.Dispose();
}
