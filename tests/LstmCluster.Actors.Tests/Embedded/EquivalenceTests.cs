using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Embedded;

/// <summary>
/// The central invariant: K synchronous workers with global batch B take the same optimizer steps as the
/// single-process reference trainer, so the weights agree to float tolerance (only the order of float sums
/// differs). With global sampling (the default) that is the bare trainer (<c>--workers 0</c>, one shard) for any K;
/// with shard-local sampling it is the reference trainer walking the same K-shard plan.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class EquivalenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Sync_training_with_k_workers_gives_the_single_process_trainers_model_whatever_k(int k)
    {
        // Adam with clipping (the defaults), 3 epochs of 17 rounds; test RMSE in original units, as `train` reports it.
        var csv = Path.Combine(Path.GetTempPath(), $"lstmcluster-equivalence-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, TestSupport.SineCsv(400));
        using var cleanup = new DeleteOnDispose(csv);
        var sine = TestSupport.SineRun(epochs: 3);
        var run = sine with { Data = sine.Data with { Path = csv }, Hidden = 16, Layers = 2 };
        var data = ForecastRun.Prepare(run);
        var expected = ForecastRun.Execute(run, data, ForecastRun.ReferenceEngine, null, CancellationToken.None);

        var engineOptions = new EngineOptions { Workers = k };
        Assert.Equal(BatchSampling.Global, engineOptions.Sampling);
        using var engine = EmbeddedEngine.Start(engineOptions, TestSupport.SerializeEverything);
        var reports = new List<EpochReport>();
        var actual = ForecastRun.Execute(run, data, engine.AsTrainer(), reports.Add, CancellationToken.None);

        var steps = new BatchPlan(data.Train.Count, 1, run.Training.BatchSize, run.Training.Seed).StepsPerEpoch;
        Assert.Equal(run.Training.Epochs * steps, engine.LastRun!.Rounds);
        Assert.Equal(expected.Training.Epochs.Count, reports.Count);
        for (int e = 0; e < reports.Count; e++)
        {
            Assert.Equal(expected.Training.Epochs[e].TrainLoss, reports[e].TrainLoss, 5);
            Assert.Equal(expected.Training.Epochs[e].ValidationLoss, reports[e].ValidationLoss, 5);
        }
        Assert.Equal(expected.Training.BestEpoch, actual.Training.BestEpoch);
        Assert.Equal(expected.Training.Samples, actual.Training.Samples);
        float diff = TestSupport.MaxAbsDifference(expected.Model.Weights, actual.Model.Weights);
        double rmse = actual.Test.Model.Rmse, reference = expected.Test.Model.Rmse;
        double relative = Math.Abs(rmse - reference) / reference;
        output.WriteLine($"K = {k}: {engine.LastRun.Rounds} rounds, test RMSE {rmse:R} vs single process {reference:R} (relative {relative:E2}), " +
            $"max |w_K - w_single| = {diff:E2}");
        Assert.True(relative <= 1e-5, $"test RMSE {rmse} vs {reference}: relative difference {relative}");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        Assert.Equal(0, engine.LastRun.Dropped);
        // Every worker takes part in every round (a part may be empty) and together they saw every sample once per epoch.
        Assert.All(engine.LastRun.Workers, w => Assert.Equal(run.Training.Epochs * steps, w.Rounds));
        Assert.Equal((long)run.Training.Epochs * data.Train.Count, engine.LastRun.Workers.Sum(w => w.Samples));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Global_sliced_sampling_gives_the_single_process_trainers_model_with_an_even_share_per_worker(int k)
    {
        var data = TestSupport.SineData();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 9 };

        using var reference = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: 1);

        // Every message serialized: each worker receives the whole training split over the wire format.
        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = k, Sampling = BatchSampling.GlobalSliced }, TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var actual = engine.Train(model, data.Train, data.Validation, options);

        var steps = new BatchPlan(data.Train.Count, 1, options.BatchSize, options.Seed).StepsPerEpoch;
        Assert.Equal(options.Epochs * steps, engine.LastRun!.Rounds);
        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        Assert.Equal(expected.Samples, actual.Samples);
        for (int e = 0; e < expected.Epochs.Count; e++) Assert.Equal(expected.Epochs[e].ValidationLoss, actual.Epochs[e].ValidationLoss, 1e-5);
        float diff = TestSupport.MaxAbsDifference(ParameterVector.Flatten(reference), ParameterVector.Flatten(model));
        var shares = engine.LastRun.Workers.Select(w => w.Samples).ToArray();
        output.WriteLine($"K = {k} global-sliced: max |w_engine - w_single| = {diff:E2}; samples per worker {string.Join(", ", shares)}");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        // Even slices: over the run no worker computed more than one window a round over another.
        Assert.Equal((long)options.Epochs * data.Train.Count, shares.Sum());
        Assert.True(shares.Max() - shares.Min() <= options.Epochs * steps, $"shares {string.Join(", ", shares)} over {options.Epochs * steps} rounds");
        Assert.Equal("global-sliced", engine.LastRun.ToJson()["sampling"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Shard_local_sampling_gives_the_reference_trainers_weights_on_the_same_k_shard_plan(int k)
    {
        var data = TestSupport.SineData();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 9 };

        using var reference = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: k);
        using var single = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        ReferenceTrainer.Train(single, data.Train, data.Validation, options, shards: 1);

        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = k, Sampling = BatchSampling.ShardLocal }, TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var reports = new List<EpochReport>();
        var actual = engine.Train(model, data.Train, data.Validation, options, reports.Add);

        var steps = new BatchPlan(data.Train.Count, k, options.BatchSize, options.Seed).StepsPerEpoch;
        Assert.Equal(options.Epochs * steps, engine.LastRun!.Rounds);
        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        Assert.Equal(expected.Samples, actual.Samples);
        float diff = TestSupport.MaxAbsDifference(ParameterVector.Flatten(reference), ParameterVector.Flatten(model));
        float fromSingle = TestSupport.MaxAbsDifference(ParameterVector.Flatten(single), ParameterVector.Flatten(model));
        output.WriteLine($"K = {k} shard-local: max |w_engine - w_reference(K shards)| = {diff:E2}, from the one-shard model {fromSingle:E2}");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        // What global sampling is for: shard-local batches depend on K, and so does the model.
        Assert.True(fromSingle > 1e-3f, $"shard-local K = {k} came within {fromSingle} of the one-shard model");
    }

    [Fact]
    public void A_quantile_model_trains_its_offset_head_in_the_engine_as_in_the_reference_trainer_and_its_point_as_without_quantiles()
    {
        var data = TestSupport.SineData(horizon: 2);
        var spec = TestSupport.TinySpec with { Horizon = 2, Quantiles = [0.1, 0.5, 0.9] };
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 9 };

        using var reference = ForecastModel.Create(spec, options.Seed);
        // Global sampling (the default): two workers walk the single-process trainer's batches.
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: 1);

        // Every message serialized: the spec's levels reach the workers over the wire format, as on a cluster.
        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 2 }, TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(spec, options.Seed);
        var actual = engine.Train(model, data.Train, data.Validation, options);

        Assert.Equal(2 * (1 + 3), model.Spec.Outputs);
        for (int e = 0; e < expected.Epochs.Count; e++)
        {
            Assert.Equal(expected.Epochs[e].TrainLoss, actual.Epochs[e].TrainLoss, 1e-5);
            Assert.Equal(expected.Epochs[e].ValidationLoss, actual.Epochs[e].ValidationLoss, 1e-5);
        }
        var engineWeights = ParameterVector.Flatten(model);
        var referenceWeights = ParameterVector.Flatten(reference);
        float diff = TestSupport.MaxAbsDifference(referenceWeights, engineWeights);
        output.WriteLine($"quantile model, K = 2: max |w_engine - w_reference| = {diff:E2}");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        // The workers trained the offset head (the pinball loss reached it: it left its zero start) ...
        int pointParameters = spec.ParameterCount - (int)spec.OffsetParameters;
        Assert.Contains(engineWeights[pointParameters..], w => Math.Abs(w) > 1e-4f);
        // ... and left the rest as the MSE alone trains it: the same engine without quantiles reaches the same LSTM and point head.
        using var point = ForecastModel.Create(spec with { Quantiles = null }, options.Seed);
        var plain = engine.Train(point, data.Train, data.Validation, options);
        Assert.Equal(plain.Epochs.Select(e => e.ValidationLoss), actual.Epochs.Select(e => e.ValidationLoss));
        float pointDiff = TestSupport.MaxAbsDifference(ParameterVector.Flatten(point), engineWeights[..pointParameters]);
        output.WriteLine($"point part against the engine's model without quantiles: max difference {pointDiff:E2}");
        Assert.True(pointDiff < 1e-6f, $"the LSTM and point head differ by up to {pointDiff} from the same model trained without quantiles");
    }

    [Fact]
    public void The_plateau_rule_cuts_the_rate_and_stops_at_the_same_epochs_in_the_engine_as_in_the_reference_trainer()
    {
        var data = TestSupport.SineData();
        // Only a 99 % fall is progress: the rate halves after every epoch from the second, and patience 3 ends at epoch 4.
        var options = new TrainingOptions { Epochs = 10, BatchSize = 16, LearningRate = 0.01, Patience = 3, MinDelta = 0.99, LrPlateau = 1, Seed = 9 };

        using var reference = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        var expected = ReferenceTrainer.Train(reference, data.Train, data.Validation, options, shards: 2);

        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 2, Sampling = BatchSampling.ShardLocal }, TestSupport.SerializeEverything);
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

    private sealed class DeleteOnDispose(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }
}
