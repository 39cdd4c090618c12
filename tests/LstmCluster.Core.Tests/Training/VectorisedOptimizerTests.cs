using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Core.Tests.Training;

/// <summary>The parameter server's vectorised averaging and optimizer step against the scalar loops they replaced.</summary>
[Collection(TorchCollection.Name)]
public sealed class VectorisedOptimizerTests(ITestOutputHelper output)
{
    private static readonly ModelSpec Spec = new(InputSize: 1, HiddenSize: 16, NumLayers: 2, Horizon: 3);

    public static TheoryData<string, TrainingOptions> Optimizers => new()
    {
        { "adam, clipped", new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 0.01, ClipNorm = 1, Seed = 3 } },
        { "adam, weight decay, no clipping", new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 0.003, ClipNorm = 0, WeightDecay = 0.01, Seed = 3 } },
        { "sgd, momentum, weight decay, clipped", new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, WeightDecay = 0.001, ClipNorm = 0.5, Seed = 3 } },
        { "sgd, momentum", new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, ClipNorm = 0, Seed = 3 } },
        { "sgd, weight decay, clipped", new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0, WeightDecay = 0.001, ClipNorm = 0.5, Seed = 3 } },
        { "sgd, plain", new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0, ClipNorm = 0, Seed = 3 } },
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Vectorised_steps_match_the_scalar_loops(string name, TrainingOptions options)
    {
        using var model = ForecastModel.Create(Spec, options.Seed);
        using var master = new MasterOptimizer(model, options);
        var weights = ParameterVector.Flatten(model);
        var first = new float[weights.Length];
        var second = options.Optimizer == OptimizerKind.Adam ? new float[weights.Length] : null;
        var scratch = new float[weights.Length];
        var rng = new Random(11);
        for (int step = 1; step <= 30; step++)
        {
            // Gradients of varied scale, some above the clipping norm, some below.
            float scale = (float)Math.Pow(10, rng.NextDouble() * 3 - 2.5);
            var gradient = Enumerable.Range(0, weights.Length).Select(_ => (float)(rng.NextDouble() - 0.5) * scale).ToArray();
            double vectorNorm = master.Step(gradient);
            double scalarNorm = ScalarOptimizerReference.Step(options, master.LearningRate, step, weights, first, second, scratch, gradient);
            Assert.Equal(scalarNorm, vectorNorm, scalarNorm * 1e-6);
        }
        var state = master.Export();
        int exact = state.Weights.Zip(weights).Count(p => p.First == p.Second);
        output.WriteLine($"{name}: {exact} of {weights.Length} weights bit-for-bit equal, max difference relative to the largest {MaxRelative(state.Weights, weights):E2}");
        // Same operations per element in the same order: bit-for-bit on x64 today (30 of 30 steps); float tolerance is the
        // contract, should a runtime fuse a multiply-add.
        Assert.True(MaxRelative(state.Weights, weights) < 1e-6, $"weights differ by {MaxRelative(state.Weights, weights)} relative");
        Assert.True(MaxRelative(state.FirstMoment, first) < 1e-6);
        if (second is not null) Assert.True(MaxRelative(state.SecondMoment!, second) < 1e-6);
        // The model holds the master weights after each step.
        Assert.Equal(state.Weights, ParameterVector.Flatten(model));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(32)]
    public void The_weighted_average_matches_the_double_accumulation(int contributions)
    {
        var rng = new Random(contributions);
        const int Length = 50_003;
        var gradients = Enumerable.Range(0, contributions).Select(k => new BatchGradient(
            Enumerable.Range(0, Length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), 0.1, k == 1 ? 0 : rng.Next(1, 40))).ToList();
        // Into a buffer as the server keeps it, holding other values (NaN) before.
        var vectorised = Enumerable.Repeat(float.NaN, Length).ToArray();
        Gradients.WeightedAverage(gradients, vectorised);
        var scalar = ScalarOptimizerReference.WeightedAverage(gradients);
        double maxAbs = vectorised.Zip(scalar).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"{contributions} contributions: max |vectorised - scalar| = {maxAbs:E2}");
        // A few float roundings of values below 0.5.
        Assert.True(maxAbs <= contributions * 1.2e-7, $"differs by {maxAbs}");
        if (contributions == 1) Assert.Equal(scalar, vectorised);
        // The server reuses its buffer every round: the same values, whatever the buffer held.
        var buffer = Enumerable.Range(0, Length).Select(_ => (float)rng.NextDouble()).ToArray();
        Gradients.WeightedAverage(gradients, buffer);
        Assert.Equal(vectorised, buffer);
    }

    [Fact]
    public void The_vectorised_norm_matches_the_double_loop()
    {
        var rng = new Random(5);
        var v = Enumerable.Range(0, 123_457).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e3f).ToArray();
        double scalar = ScalarOptimizerReference.Norm(v);
        Assert.Equal(scalar, MasterOptimizer.Norm(v), scalar * 1e-12);
    }

    /// <summary>Largest difference relative to the vector's largest value (a weight near zero has no relative precision).</summary>
    private static double MaxRelative(float[] a, float[] b)
    {
        double max = 0, scale = b.Max(x => Math.Abs(x));
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return scale == 0 ? max : max / scale;
    }
}
