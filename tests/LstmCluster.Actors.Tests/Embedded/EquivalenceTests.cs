using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Embedded;

/// <summary>
/// The central invariant: K synchronous workers with global batch B take the same optimizer steps
/// as the single-process reference trainer walking the same K-shard plan, so the weights agree to
/// float tolerance (only the order of float sums differs).
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class EquivalenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Sync_training_with_k_workers_gives_the_reference_trainers_weights(int k)
    {
        var data = TestSupport.SineData();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 9 };

        using var reference = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: k);

        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = k }, TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var reports = new List<EpochReport>();
        var actual = engine.Train(model, data.Train, data.Validation, options, reports.Add);

        var steps = new BatchPlan(data.Train.Count, k, options.BatchSize, options.Seed).StepsPerEpoch;
        Assert.Equal(options.Epochs * steps, engine.LastRun!.Rounds);
        Assert.Equal(expected.Epochs.Count, reports.Count);
        for (int e = 0; e < reports.Count; e++)
        {
            Assert.Equal(expected.Epochs[e].TrainLoss, reports[e].TrainLoss, 4);
            Assert.Equal(expected.Epochs[e].ValidationLoss, reports[e].ValidationLoss, 4);
        }
        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        Assert.Equal(expected.Samples, actual.Samples);
        float diff = TestSupport.MaxAbsDifference(ParameterVector.Flatten(reference), ParameterVector.Flatten(model));
        output.WriteLine($"K = {k}: {engine.LastRun.Rounds} rounds, max |w_engine - w_reference| = {diff:E2}");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        Assert.Equal(0, engine.LastRun.Dropped);
        Assert.All(engine.LastRun.Workers, w => Assert.Equal(options.Epochs * steps, w.Rounds));
    }

    [Fact]
    public void The_plateau_rule_cuts_the_rate_and_stops_at_the_same_epochs_in_the_engine_as_in_the_reference_trainer()
    {
        var data = TestSupport.SineData();
        // Only a 99 % fall is progress: the rate halves after every epoch from the second, and patience 3 ends at epoch 4.
        var options = new TrainingOptions { Epochs = 10, BatchSize = 16, LearningRate = 0.01, Patience = 3, MinDelta = 0.99, LrPlateau = 1, Seed = 9 };

        using var reference = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: 2);

        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 2 }, TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var actual = engine.Train(model, data.Train, data.Validation, options);

        Assert.Equal(4, expected.Epochs.Count);
        Assert.Equal(StopReason.EarlyStop, expected.Stop);
        Assert.Equal(expected.Stop, actual.Stop);
        Assert.Equal(expected.Epochs.Select(e => e.LearningRate), actual.Epochs.Select(e => e.LearningRate));
        Assert.Equal([0.01, 0.01, 0.005, 0.0025], actual.Epochs.Select(e => Math.Round(e.LearningRate, 6)));
        float diff = TestSupport.MaxAbsDifference(ParameterVector.Flatten(reference), ParameterVector.Flatten(model));
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
    }
}
