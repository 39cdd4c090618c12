using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Training;

/// <summary>The parameter server against probe workers: plain SGD without momentum or clipping, so every update is checkable by hand.</summary>
[Collection(TorchCollection.Name)]
public sealed class ParameterServerActorTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private const double Lr = 0.5;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly TrainingOptions Sgd = new()
    {
        Epochs = 50, BatchSize = 8, Optimizer = OptimizerKind.Sgd, Momentum = 0, ClipNorm = 0, LearningRate = Lr, Patience = 0, Seed = 5,
    };
    private static readonly int Size = TestSupport.TinySpec.ParameterCount;

    private (IActorRef Server, TestProbe[] Workers, float[] W0) Start(int k, EngineOptions engine)
    {
        var data = TestSupport.SineData();
        var probes = Enumerable.Range(0, k).Select(i => CreateTestProbe($"worker-{i}")).ToArray();
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, Sgd, engine with { Workers = k }, null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, probes.Select(p => p.Ref).ToList(), TestActor), "ps");
        using var reference = ForecastModel.Create(TestSupport.TinySpec, Sgd.Seed);
        return (server, probes, ParameterVector.Flatten(reference));
    }

    private static float[] Filled(float value) => Enumerable.Repeat(value, Size).ToArray();

    private async Task<T> Next<T>(TestProbe probe) => await probe.FishForMessageAsync<T>(m => m is T, Wait);

    [Fact]
    public async Task Server_deals_one_shard_per_worker_and_broadcasts_version_zero_from_the_seed()
    {
        var (_, workers, w0) = Start(2, new EngineOptions());
        for (int k = 0; k < 2; k++)
        {
            var assign = await workers[k].ExpectMsgAsync<AssignShard>(Wait);
            Assert.Equal((k, 2), (assign.Worker, assign.Plan.ShardCount));
            var weights = await workers[k].ExpectMsgAsync<Weights>(Wait);
            Assert.Equal(0, weights.Version);
            Assert.Equal(w0, weights.Values);
        }
    }

    [Fact]
    public async Task Server_waits_for_every_worker_averages_by_sample_count_and_broadcasts_the_next_version()
    {
        var (server, workers, w0) = Start(2, new EngineOptions());
        foreach (var w in workers) await Next<Weights>(w);

        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1), workers[0]);
        server.Tell(new GetServerState("job"));
        Assert.Equal(0, (await ExpectMsgAsync<ServerState>(Wait)).Version);

        server.Tell(new Gradient("job", 0, 1, Filled(4f), 3, 0.2), workers[1]);
        foreach (var w in workers)
        {
            var next = await w.ExpectMsgAsync<Weights>(Wait);
            Assert.Equal(1, next.Version);
            // (1·1 + 3·4) / 4 = 3.25, one SGD step.
            for (int i = 0; i < Size; i++) Assert.Equal(w0[i] - (float)(Lr * 3.25), next.Values[i], 1e-5f);
        }
    }

    [Fact]
    public async Task Server_drops_and_counts_duplicate_and_stale_gradients()
    {
        var (server, workers, w0) = Start(2, new EngineOptions());
        foreach (var w in workers) await Next<Weights>(w);

        server.Tell(new Gradient("job", 0, 0, Filled(1f), 2, 0.1));
        server.Tell(new Gradient("job", 0, 0, Filled(100f), 2, 0.1));   // duplicate of worker 0 at v0
        server.Tell(new Gradient("job", 5, 1, Filled(100f), 2, 0.1));   // from a version not yet sent
        server.Tell(new Gradient("job", 0, 1, Filled(3f), 2, 0.1));
        var next = await workers[0].ExpectMsgAsync<Weights>(Wait);
        server.Tell(new Gradient("job", 0, 1, Filled(100f), 2, 0.1));   // late: v0 is closed

        server.Tell(new GetServerState("job"));
        var state = await ExpectMsgAsync<ServerState>(Wait);
        Assert.Equal((1L, 2L, 1L, 1L, 1L), (state.Version, state.Applied, state.Duplicates, state.Stale, state.Late));
        // Only the two accepted gradients are in the step: mean 2.
        Assert.Equal(w0[0] - (float)(Lr * 2), next.Values[0], 1e-5f);
    }

    [Fact]
    public async Task Straggler_timeout_closes_the_round_with_a_quorum_and_drops_the_late_gradient()
    {
        var (server, workers, w0) = Start(3, new EngineOptions { StragglerTimeout = TimeSpan.FromMilliseconds(300), Quorum = 2 });
        foreach (var w in workers) await Next<Weights>(w);

        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1));
        server.Tell(new Gradient("job", 0, 1, Filled(2f), 1, 0.1));
        var next = await workers[2].ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(1, next.Version);
        Assert.Equal(w0[0] - (float)(Lr * 1.5), next.Values[0], 1e-5f);

        server.Tell(new Gradient("job", 0, 2, Filled(9f), 1, 0.1));
        server.Tell(new GetServerState("job"));
        var state = await ExpectMsgAsync<ServerState>(Wait);
        Assert.Equal((1L, 1L), (state.Version, state.Late));
    }

    [Fact]
    public async Task Without_a_quorum_the_timeout_keeps_waiting()
    {
        var (server, workers, _) = Start(3, new EngineOptions { StragglerTimeout = TimeSpan.FromMilliseconds(100), Quorum = 2 });
        foreach (var w in workers) await Next<Weights>(w);
        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1));
        // Several timeouts pass with one gradient; then the second arrives and its timeout closes the round.
        await workers[0].ExpectNoMsgAsync(TimeSpan.FromMilliseconds(350));
        server.Tell(new Gradient("job", 0, 1, Filled(1f), 1, 0.1));
        Assert.Equal(1, (await workers[0].ExpectMsgAsync<Weights>(Wait)).Version);
    }

    [Fact]
    public async Task A_stopped_workers_shard_goes_to_the_others_and_the_round_restarts()
    {
        var (server, workers, w0) = Start(2, new EngineOptions());
        foreach (var w in workers) await Next<Weights>(w);
        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1));
        Sys.Stop(workers[1].Ref);

        // The survivor now holds every training window (a one-shard plan), from where the job stands.
        var assign = await workers[0].ExpectMsgAsync<AssignShard>(Wait);
        Assert.Equal((0, 0, 1, 1, 0), (assign.Worker, assign.ShardIndex, assign.Plan.ShardCount, assign.StartEpoch, assign.StartStep));
        Assert.Equal(assign.Plan.WindowCount, assign.Windows.Count);

        // The open round restarts under a new version with unchanged weights: the half-round is not applied...
        var restart = await workers[0].ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(1, restart.Version);
        Assert.Equal(w0, restart.Values);

        // ...its late gradient is dropped, and the survivor alone closes the next round.
        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1));
        server.Tell(new Gradient("job", 1, 0, Filled(1f), 1, 0.1));
        var next = await workers[0].ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(2, next.Version);
        Assert.Equal(w0[0] - (float)Lr, next.Values[0], 1e-5f);
        server.Tell(new GetServerState("job"));
        Assert.Equal(1, (await ExpectMsgAsync<ServerState>(Wait)).Late);
    }

    [Fact]
    public async Task Async_applies_gradients_within_the_staleness_bound_and_drops_older_ones()
    {
        var (server, workers, w0) = Start(2, new EngineOptions { Mode = TrainingMode.Async, Staleness = 1 });
        foreach (var probe in workers) await Next<Weights>(probe);

        server.Tell(new Gradient("job", 0, 0, Filled(1f), 1, 0.1), workers[0]);
        Assert.Equal(1, (await workers[0].ExpectMsgAsync<Weights>(Wait)).Version);
        server.Tell(new Gradient("job", 0, 1, Filled(1f), 1, 0.1), workers[1]);   // one behind: applied
        Assert.Equal(2, (await workers[1].ExpectMsgAsync<Weights>(Wait)).Version);
        server.Tell(new Gradient("job", 0, 1, Filled(1f), 1, 0.1), workers[1]);   // duplicate: dropped, no new work handed out
        server.Tell(new Gradient("job", 1, 0, Filled(1f), 1, 0.1), workers[0]);   // one behind again: applied
        var w = await workers[0].ExpectMsgAsync<Weights>(Wait);
        server.Tell(new Gradient("job", 1, 1, Filled(1f), 1, 0.1), workers[1]);   // two behind: dropped
        await workers[1].ExpectMsgAsync<Weights>(Wait);

        server.Tell(new GetServerState("job"));
        var state = await ExpectMsgAsync<ServerState>(Wait);
        Assert.Equal((3L, 3L, 1L, 1L), (state.Version, state.Applied, state.Duplicates, state.Stale));
        Assert.Equal(w0[0] - (float)(3 * Lr), w.Values[0], 1e-5f);
    }

    [Fact]
    public async Task Local_sgd_averages_the_workers_weights_by_sample_count()
    {
        var (server, workers, _) = Start(2, new EngineOptions { Mode = TrainingMode.LocalSgd, SyncPeriod = 3 });
        foreach (var w in workers)
        {
            var round = await Next<LocalRound>(w);
            Assert.Equal((0L, 3, Lr), (round.Version, round.Steps, round.LearningRate));
        }
        server.Tell(new LocalWeights("job", 0, 0, Filled(1f), 3, 0.1));
        server.Tell(new LocalWeights("job", 0, 1, Filled(5f), 1, 0.1));
        var next = await workers[1].ExpectMsgAsync<LocalRound>(Wait);
        Assert.Equal(1, next.Version);
        Assert.All(next.Values, v => Assert.Equal(2f, v, 1e-6f));
    }

    [Fact]
    public async Task Server_reports_every_epoch_then_finishes_and_releases_its_workers()
    {
        var data = TestSupport.SineData();
        var probe = CreateTestProbe();
        var options = Sgd with { Epochs = 2, BatchSize = data.Train.Count };   // one round per epoch
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, options, new EngineOptions(), null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, [probe.Ref], TestActor));
        await probe.ExpectMsgAsync<AssignShard>(Wait);
        for (int v = 0; v < 2; v++)
        {
            await probe.ExpectMsgAsync<Weights>(Wait);
            server.Tell(new Gradient("job", v, 0, Filled(0.01f), data.Train.Count, 1.0 / (v + 1)));
            var progress = await ExpectMsgAsync<EpochProgress>(Wait);
            Assert.Equal((v + 1, 1.0 / (v + 1)), (progress.Report.Epoch, progress.Report.TrainLoss));
        }
        var finished = await ExpectMsgAsync<TrainingFinished>(Wait);
        Assert.Equal((2L, 2), (finished.Version, finished.Epochs.Length));
        Assert.Equal(new WorkerFigures(0, 2, 2L * data.Train.Count, 0), finished.Workers[0]);
        await probe.ExpectMsgAsync<ReleaseShard>(Wait);
    }

    [Fact]
    public async Task The_finished_job_says_what_its_rounds_were_made_of_with_the_slowest_workers_compute()
    {
        var data = TestSupport.SineData();
        var probes = new[] { CreateTestProbe(), CreateTestProbe() };
        var options = Sgd with { Epochs = 2, BatchSize = data.Train.Count };   // one round per epoch
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, options, new EngineOptions { Workers = 2 }, null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, [.. probes.Select(p => p.Ref)], TestActor));
        for (int v = 0; v < 2; v++)
        {
            foreach (var p in probes) await Next<Weights>(p);
            // Worker 1 says it computed for an hour: the slowest compute, which the round's own time bounds.
            server.Tell(new Gradient("job", v, 0, Filled(0.01f), data.Train.Count / 2, 0.5, TimeSpan.FromTicks(1)));
            server.Tell(new Gradient("job", v, 1, Filled(0.01f), data.Train.Count / 2, 0.5, TimeSpan.FromHours(1)));
        }
        var finished = await FishForMessageAsync<TrainingFinished>(m => m is TrainingFinished, Wait);
        var t = Assert.IsType<RoundTimes>(finished.Rounds);
        Assert.Equal(2, t.Measured);
        Assert.True(t.Round > TimeSpan.Zero && t.Round < TimeSpan.FromHours(1), $"{t}");
        Assert.Equal(t.Round.TotalMilliseconds, t.Compute.TotalMilliseconds, 3);
        Assert.Equal(0, t.HandOver.TotalMilliseconds, 3);
        Assert.True(t.ServerStep > TimeSpan.Zero, $"{t}");
    }

    [Fact]
    public async Task The_next_epochs_first_round_goes_out_before_validation_and_its_step_takes_the_next_epochs_learning_rate()
    {
        var data = TestSupport.SineData();
        // One probe is both the worker and the job's owner: what the server sends to either arrives in the order it was sent.
        var probe = CreateTestProbe();
        var options = Sgd with { Epochs = 3, BatchSize = data.Train.Count, Schedule = LearningRateSchedule.Step, LrStepEpochs = 1, LrDecay = 0.5 };
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, options, new EngineOptions(), null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, [probe.Ref], probe.Ref));
        await probe.ExpectMsgAsync<AssignShard>(Wait);
        var w0 = (await probe.ExpectMsgAsync<Weights>(Wait)).Values;
        server.Tell(new Gradient("job", 0, 0, Filled(1f), data.Train.Count, 1.0));

        // Epoch 1 (one round) ends: the worker gets epoch 2's first weights, then the server reports epoch 1's validation.
        var w1 = await probe.ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(1, w1.Version);
        for (int i = 0; i < Size; i++) Assert.Equal(w0[i] - (float)Lr, w1.Values[i], 1e-5f);
        // Sent at once, so it may reach the server while it validates: the step must still take epoch 2's rate.
        server.Tell(new Gradient("job", 1, 0, Filled(1f), data.Train.Count, 1.0));
        Assert.Equal((1, Lr), Reported(await probe.ExpectMsgAsync<EpochProgress>(Wait)));

        var w2 = await probe.ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(2, w2.Version);
        for (int i = 0; i < Size; i++) Assert.Equal(w1.Values[i] - (float)(Lr / 2), w2.Values[i], 1e-5f);
        Assert.Equal((2, Lr / 2), Reported(await probe.ExpectMsgAsync<EpochProgress>(Wait)));

        // Nothing follows the last epoch: its report, then the result.
        server.Tell(new Gradient("job", 2, 0, Filled(1f), data.Train.Count, 1.0));
        Assert.Equal((3, Lr / 4), Reported(await probe.ExpectMsgAsync<EpochProgress>(Wait)));
        await probe.ExpectMsgAsync<ReleaseShard>(Wait);
        Assert.Equal(3L, (await probe.ExpectMsgAsync<TrainingFinished>(Wait)).Version);
    }

    private static (int Epoch, double LearningRate) Reported(EpochProgress m) => (m.Report.Epoch, m.Report.LearningRate);

    [Fact]
    public async Task When_validation_stops_training_the_overlapping_rounds_gradient_is_not_applied()
    {
        var data = TestSupport.SineData();
        var probe = CreateTestProbe();
        // Zero gradients leave the weights, so epoch 2 cannot beat epoch 1: patience 1 stops training after it.
        var options = Sgd with { Epochs = 5, BatchSize = data.Train.Count, Patience = 1 };
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, options, new EngineOptions(), null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, [probe.Ref], probe.Ref));
        await probe.ExpectMsgAsync<AssignShard>(Wait);
        await probe.ExpectMsgAsync<Weights>(Wait);
        server.Tell(new Gradient("job", 0, 0, Filled(0f), data.Train.Count, 1.0));
        Assert.Equal(1, (await probe.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(1, (await probe.ExpectMsgAsync<EpochProgress>(Wait)).Report.Epoch);
        server.Tell(new Gradient("job", 1, 0, Filled(0f), data.Train.Count, 1.0));
        // Epoch 3's first round went out before validation said stop; its gradient finds the server gone.
        Assert.Equal(2, (await probe.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(2, (await probe.ExpectMsgAsync<EpochProgress>(Wait)).Report.Epoch);
        await probe.ExpectMsgAsync<ReleaseShard>(Wait);
        var finished = await probe.ExpectMsgAsync<TrainingFinished>(Wait);
        Assert.True(finished.StoppedEarly);
        Assert.Equal((2L, 2), (finished.Version, finished.Epochs.Length));
    }

    [Fact]
    public async Task A_non_finite_gradient_fails_the_job_with_a_reason()
    {
        var (server, workers, _) = Start(1, new EngineOptions());
        await Next<Weights>(workers[0]);
        server.Tell(new Gradient("job", 0, 0, Filled(float.NaN), 1, double.NaN));
        var failed = await FishForMessageAsync<TrainingFailed>(m => m is TrainingFailed, Wait);
        Assert.Contains("not finite", failed.Reason);
    }

    [Fact]
    public async Task Server_stops_its_run_and_releases_the_workers_when_the_coordinator_that_started_it_is_gone()
    {
        // The coordinator is a probe here: when it stops (its node died, or the singleton moved), nobody takes the result.
        var data = TestSupport.SineData();
        var coordinator = CreateTestProbe("coordinator");
        var worker = CreateTestProbe("worker");
        var setup = new TrainingSetup("job", TestSupport.TinySpec, data.Train, data.Validation, Sgd, new EngineOptions { Workers = 1 }, null);
        var server = Sys.ActorOf(ParameterServerActor.Props(setup, [worker.Ref], coordinator.Ref));
        Watch(server);
        await Next<Weights>(worker);

        Sys.Stop(coordinator.Ref);
        await ExpectTerminatedAsync(server, Wait);
        Assert.Equal("job", (await Next<ReleaseShard>(worker)).Job);
    }
}
