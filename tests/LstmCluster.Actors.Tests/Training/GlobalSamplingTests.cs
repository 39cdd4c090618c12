using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Training;

/// <summary>
/// Global sampling keeps the single-process trainer's batch sequence through what changes the number of workers
/// mid-run: a worker lost mid-epoch (the round re-runs over the survivors' new shards) and a resume from a mid-epoch
/// checkpoint on another number of workers.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class GlobalSamplingTests : TestKit
{
    private readonly ITestOutputHelper log;

    public GlobalSamplingTests(ITestOutputHelper output) : base(TestSupport.Config, output: output) => log = output;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 9 };

    private static float[] SingleProcessWeights()
    {
        var data = TestSupport.SineData();
        using var reference = ForecastModel.Create(TestSupport.TinySpec, Options.Seed);
        return ReferenceTrainer.Train(reference, data.Train, data.Validation, Options, shards: 1).BestWeights;
    }

    private TrainingSetup Setup(int workers, EngineOptions? engine = null, TrainingCheckpoint? resume = null)
    {
        var data = TestSupport.SineData();
        return new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, Options,
            (engine ?? new EngineOptions()) with { Workers = workers }, null, resume);
    }

    [Theory]
    [InlineData(BatchSampling.Global)]
    [InlineData(BatchSampling.GlobalSliced)]
    public async Task A_worker_lost_mid_epoch_leaves_the_model_of_the_single_process_trainer(BatchSampling sampling)
    {
        var expected = SingleProcessWeights();
        var workers = new List<IActorRef>
        {
            Sys.ActorOf(WorkerActor.Props()),
            Sys.ActorOf(Props.Create(() => new StopsAfter(5))),
            Sys.ActorOf(WorkerActor.Props()),
        };
        Sys.ActorOf(ParameterServerActor.Props(Setup(3, new EngineOptions { Sampling = sampling }), workers, TestActor));

        var finished = await FishForMessageAsync<TrainingFinished>(m => m is TrainingFinished, Wait);
        float diff = TestSupport.MaxAbsDifference(expected, finished.BestWeights);
        log.WriteLine($"{sampling}: worker 1 lost after 5 rounds: {finished.Workers[1].Rounds} of its rounds applied, max |w - w_single| = {diff:E2}");
        Assert.True(finished.Workers[1].Rounds <= 5, $"the lost worker has {finished.Workers[1].Rounds} rounds");
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
        // Every window of both epochs was computed once, whoever held it.
        Assert.Equal(2L * TestSupport.SineData().Train.Count, finished.Samples);
    }

    [Fact]
    public async Task A_resume_from_a_mid_epoch_checkpoint_on_another_number_of_workers_continues_the_same_batches()
    {
        var expected = SingleProcessWeights();
        var first = CreateTestProbe();
        var engine = new EngineOptions { CheckpointEvery = TimeSpan.FromTicks(1) };
        var server = Sys.ActorOf(ParameterServerActor.Props(Setup(2, engine), [Sys.ActorOf(WorkerActor.Props()), Sys.ActorOf(WorkerActor.Props())],
            first.Ref));
        var taken = await first.FishForMessageAsync<CheckpointTaken>(m => m is CheckpointTaken { Checkpoint: { Epoch: 1, Step: 5 } }, Wait);
        Sys.Stop(server);

        var three = Enumerable.Range(0, 3).Select(_ => Sys.ActorOf(WorkerActor.Props())).ToList();
        Sys.ActorOf(ParameterServerActor.Props(Setup(3, engine, taken.Checkpoint), three, TestActor));
        var finished = await FishForMessageAsync<TrainingFinished>(m => m is TrainingFinished, Wait);
        float diff = TestSupport.MaxAbsDifference(expected, finished.BestWeights);
        log.WriteLine($"checkpoint at epoch 1 step 5 on 2 workers, resumed on 3: max |w - w_single| = {diff:E2}");
        Assert.Equal(2, taken.Checkpoint.Shards);
        Assert.True(diff < 1e-5f, $"weights differ by up to {diff}");
    }

    /// <summary>A worker that stops (with its node, as it were) right after it was sent its n-th weights.</summary>
    private sealed class StopsAfter : ReceiveActor
    {
        public StopsAfter(int rounds)
        {
            var worker = Context.ActorOf(WorkerActor.Props(), "worker");
            int seen = 0;
            ReceiveAny(m =>
            {
                worker.Forward(m);
                if (m is Weights && ++seen == rounds) Context.Stop(Self);
            });
        }
    }
}
