using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Training;

/// <summary>
/// The managed optimizer step against TorchSharp's own Adam and SGD (libtorch's formulas) over several
/// steps, with clipping, weight decay and momentum: the same weights to float tolerance.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class MasterOptimizerTests
{
    private static readonly ModelSpec Spec = new(InputSize: 2, HiddenSize: 6, NumLayers: 2, Horizon: 3);

    public static TheoryData<OptimizerKind, double, double, double> Cases() => new()
    {
        { OptimizerKind.Adam, 0.0, 0.0, 0.9 },
        { OptimizerKind.Adam, 0.01, 0.5, 0.9 },
        { OptimizerKind.Sgd, 0.0, 0.0, 0.9 },
        { OptimizerKind.Sgd, 0.001, 0.3, 0.5 },
        { OptimizerKind.Sgd, 0.0, 0.0, 0.0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steps_match_torchsharps_optimizer(OptimizerKind kind, double weightDecay, double clipNorm, double momentum)
    {
        var options = new TrainingOptions
        {
            Optimizer = kind, LearningRate = 0.01, WeightDecay = weightDecay, ClipNorm = clipNorm, Momentum = momentum, Seed = 4,
        };
        using var ours = ForecastModel.Create(Spec, 4);
        using var theirs = ForecastModel.Create(Spec, 4);
        ParameterVector.Load(ours, ParameterVector.Flatten(theirs));
        using var master = new MasterOptimizer(ours, options);
        using var torchOptimizer = kind == OptimizerKind.Adam
            ? (optim.Optimizer)optim.Adam(theirs.parameters(), options.LearningRate, weight_decay: weightDecay)
            : optim.SGD(theirs.parameters(), options.LearningRate, momentum: momentum, weight_decay: weightDecay);

        var rng = new Random(7);
        for (int step = 0; step < 6; step++)
        {
            var gradient = Enumerable.Range(0, Spec.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            master.Step(gradient);

            using var scope = NewDisposeScope();
            // Reference: clip as torch.nn.utils.clip_grad_norm_ would, then the TorchSharp optimizer's step.
            double norm = Math.Sqrt(gradient.Sum(g => (double)g * g));
            var applied = clipNorm > 0 && norm > clipNorm ? gradient.Select(g => g * (float)(clipNorm / (norm + 1e-6))).ToArray() : gradient;
            ParameterVector.LoadGradients(theirs, applied);
            torchOptimizer.step();
        }

        var expected = ParameterVector.Flatten(theirs);
        var actual = master.Weights();
        Assert.Equal(ParameterVector.Flatten(ours), actual);
        float worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst < 1e-6f, $"largest difference {worst}");
    }

    [Fact]
    public void Load_weights_replaces_the_master_copy_and_the_model()
    {
        using var model = ForecastModel.Create(Spec, 1);
        using var master = new MasterOptimizer(model, new TrainingOptions());
        var w = Enumerable.Range(0, Spec.ParameterCount).Select(i => i * 1e-3f).ToArray();
        master.LoadWeights(w);
        Assert.Equal(w, master.Weights());
        Assert.Equal(w, ParameterVector.Flatten(model));
        Assert.Throws<ArgumentException>(() => master.LoadWeights(new float[3]));
        Assert.Throws<ArgumentException>(() => master.Step(new float[3]));
    }
}
