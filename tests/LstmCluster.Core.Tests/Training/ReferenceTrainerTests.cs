using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Core.Tests.Training;

[Collection(TorchCollection.Name)]
public sealed class ReferenceTrainerTests
{
    private static PreparedData NoisySine(int n = 300)
    {
        var rng = new Random(3);
        var v = Enumerable.Range(0, n).Select(i => 10 + Math.Sin(i / 4.0) * 3 + 0.1 * rng.NextDouble()).ToArray();
        var series = new TimeSeries { Source = "sine", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(n) };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = 16, Horizon = 2 });
    }

    private static TrainingResult Train(PreparedData data, TrainingOptions options, int shards = 1)
    {
        using var model = ForecastModel.Create(new ModelSpec(1, 12, 1, 2), options.Seed);
        return ReferenceTrainer.Train(model, data.Train, data.Validation, options, shards);
    }

    [Fact]
    public void Two_runs_with_the_same_seed_are_bit_identical()
    {
        var data = NoisySine();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, Seed = 5, Patience = 0 };
        var a = Train(data, options);
        var b = Train(data, options);
        Assert.Equal(a.BestWeights, b.BestWeights);
        Assert.Equal(a.Epochs.Select(e => e.ValidationLoss), b.Epochs.Select(e => e.ValidationLoss));
        var c = Train(data, options with { Seed = 6 });
        Assert.NotEqual(a.BestWeights, c.BestWeights);
    }

    [Fact]
    public void Training_lowers_the_validation_loss_below_the_untrained_model()
    {
        var data = NoisySine();
        using var model = ForecastModel.Create(new ModelSpec(1, 12, 1, 2), 1);
        double before = Gradients.Loss(model, data.Validation);
        var result = ReferenceTrainer.Train(model, data.Train, data.Validation, new TrainingOptions { Epochs = 30, BatchSize = 16, LearningRate = 5e-3, Seed = 1 });
        Assert.True(result.BestEpoch > 0);
        Assert.True(result.BestValidationLoss < 0.5 * before, $"validation loss {result.BestValidationLoss} vs untrained {before}");
        // The model left behind holds the best weights.
        Assert.Equal(result.BestWeights, ParameterVector.Flatten(model));
        Assert.Equal(result.BestValidationLoss, Gradients.Loss(model, data.Validation), 5);
    }

    [Fact]
    public void Early_stopping_stops_after_patience_epochs_without_improvement_and_keeps_the_best()
    {
        var data = NoisySine();
        // A learning rate this high makes validation loss bounce, so improvements stop early.
        var result = Train(data, new TrainingOptions { Epochs = 200, BatchSize = 16, LearningRate = 0.5, Patience = 3, Seed = 2 });
        Assert.True(result.StoppedEarly);
        Assert.True(result.Epochs.Count < 200);
        // The kept weights are those of the lowest validation loss seen, untrained model included.
        Assert.All(result.Epochs, e => Assert.True(e.ValidationLoss >= result.BestValidationLoss));
    }

    [Fact]
    public void Learning_rate_schedules_follow_their_formulas()
    {
        var step = new TrainingOptions { LearningRate = 0.1, Schedule = LearningRateSchedule.Step, LrStepEpochs = 10, LrDecay = 0.5 };
        Assert.Equal(0.1, step.LearningRateAt(1), 12);
        Assert.Equal(0.1, step.LearningRateAt(10), 12);
        Assert.Equal(0.05, step.LearningRateAt(11), 12);
        var cosine = new TrainingOptions { LearningRate = 0.1, Schedule = LearningRateSchedule.Cosine, Epochs = 11 };
        Assert.Equal(0.1, cosine.LearningRateAt(1), 12);
        Assert.Equal(0.001, cosine.LearningRateAt(11), 12);
    }

    [Fact]
    public void Gradient_norm_is_clipped_to_the_threshold()
    {
        using var a = ForecastModel.Create(new ModelSpec(1, 4, 1, 1), 1);
        using var b = ForecastModel.Create(new ModelSpec(1, 4, 1, 1), 1);
        var huge = Enumerable.Repeat(100f, ParameterVector.Count(a)).ToArray();
        var clipped = huge.Select(g => g * (float)(1.0 / (Math.Sqrt(huge.Length) * 100 + 1e-6))).ToArray();
        using var sgdA = new MasterOptimizer(a, new TrainingOptions { Optimizer = OptimizerKind.Sgd, Momentum = 0, LearningRate = 0.1, ClipNorm = 1 });
        using var sgdB = new MasterOptimizer(b, new TrainingOptions { Optimizer = OptimizerKind.Sgd, Momentum = 0, LearningRate = 0.1, ClipNorm = 0 });
        double norm = sgdA.Step(huge);
        sgdB.Step(clipped);
        Assert.Equal(Math.Sqrt(huge.Length) * 100, norm, 3);
        var wa = sgdA.Weights();
        var wb = sgdB.Weights();
        for (int i = 0; i < wa.Length; i++) Assert.Equal(wb[i], wa[i], 5);
    }

    [Fact]
    public void Native_tensor_count_stays_flat_over_a_long_run()
    {
        var data = NoisySine();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, Seed = 1, Patience = 0 };
        Train(data, options);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Train(data, options with { Epochs = 12 });
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        // Each run keeps nothing alive: 4× the steps must not leave 4× the tensors.
        Assert.True(after - before < 50, $"{after - before} tensors leaked");
    }
}
