using Akka.Actor;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Cluster.Tests;

[Collection(ClusterCollection.Name)]
public sealed class InProcessClusterTests
{
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(30);
    private static readonly string[] Coordinator = ["coordinator"], Server = ["parameter-server"], Worker = ["worker"];

    internal static RunOptions AirPassengers(int epochs, int patience = 5) => new()
    {
        Data = new CsvSeriesOptions { Path = RepoPaths.Sample("AirPassengers.csv"), Target = "value" },
        Preprocessing = new PreprocessingOptions { Lookback = 24, Horizon = 3, Season = 12, Normalize = Normalization.WindowSeasonal },
        Hidden = 8,
        Layers = 1,
        Season = 12,
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 8, Patience = patience, Seed = 3 },
    };

    [Fact]
    public async Task Four_nodes_with_roles_form_a_cluster_and_run_a_job_to_completion()
    {
        await using var cluster = await StartWithTwoWorkers();
        // Through the proxy of a worker node: the coordinator singleton lives on the coordinator node.
        var proxy = cluster.Nodes[3].Actors.Coordinator;

        var answer = await proxy.Ask<IJobMessage>(new SubmitJob(AirPassengers(epochs: 3), Workers: 2), Ask);
        var id = Assert.IsType<JobAccepted>(answer).Job;
        var status = await WaitForEnd(cluster, proxy, id, TimeSpan.FromSeconds(180));

        Assert.True(status.State == JobState.Succeeded, $"job ended {status.State}: {status.Reason}");
        Assert.Equal(3, status.Forecast!.Length);
        Assert.All(status.Forecast, v => Assert.True(double.IsFinite(v)));
        Assert.True(status.Round > 0);
        Assert.True(double.IsFinite(status.TestMase));
        var list = await proxy.Ask<JobList>(ListJobs.Instance, Ask);
        Assert.Equal(id, Assert.Single(list.Jobs).Job);
    }

    [Fact]
    public async Task Readiness_reports_converged_once_every_member_has_seen_the_view_where_all_are_Up()
    {
        // InProcessCluster.Start returns once the first node sees every member Up: the leader's own view, which may not
        // have reached the others yet. Converged is what says it has.
        await using var cluster = await InProcessCluster.Start(Coordinator, Server, Worker);
        var readiness = new LstmCluster.Hosting.Node.ClusterReadiness(cluster.Nodes[0].System);
        await cluster.WaitUntil(() => readiness.Check().Converged, TimeSpan.FromSeconds(60), $"converged ({readiness.Check().Detail})");

        var seen = readiness.Check();
        Assert.True(seen.Ready, seen.Detail);
        Assert.Equal("3 nodes up", seen.Detail);
        // Every node now counts all three Up in its own view (what its split-brain resolver counts). Each node's view
        // is updated from its own events, a moment after its gossip went back to the first node: wait for it, bounded.
        await cluster.WaitUntil(() => cluster.Nodes.All(n => Akka.Cluster.Cluster.Get(n.System).State.Members
                .Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(10), "every node seeing all three Up");
    }

    [Fact]
    public async Task A_node_its_cluster_has_quarantined_downs_itself_without_waiting_for_its_resolver()
    {
        // The resolver's stable-after is a minute here, so within the wait below only QuarantineGuard can end the node:
        // the others cannot gossip a Down to a node they have quarantined, and its own resolver does not decide in time.
        const string timings = """
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
            akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 3s
            akka.cluster.split-brain-resolver.stable-after = 60s
            akka.cluster.run-coordinated-shutdown-when-down = on
            """;
        await using var cluster = await InProcessCluster.Start(timings, Coordinator, Server, Worker);
        var victim = cluster.Nodes[2].System;
        var self = Akka.Cluster.Cluster.Get(victim).SelfUniqueAddress;
        await cluster.WaitUntil(() => cluster.Nodes.All(n => Akka.Cluster.Cluster.Get(n.System).State.Members
                .Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(30), "every node seeing all three Up");

        // What the others do to a node they have downed and removed: quarantine its incarnation for good.
        foreach (var (system, _, _) in cluster.Nodes.Take(2))
            ((Akka.Remote.IRemoteActorRefProvider)((ExtendedActorSystem)system).Provider).Quarantine(self.Address, self.Uid);

        await victim.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<CoordinatedShutdown.ClusterDowningReason>(CoordinatedShutdown.Get(victim).ShutdownReason);
        Assert.All(cluster.Nodes.Take(2), n => Assert.False(n.System.WhenTerminated.IsCompleted));
    }

    [Fact]
    public async Task A_local_sgd_job_with_its_own_mode_runs_across_the_nodes()
    {
        await using var cluster = await StartWithTwoWorkers();
        var proxy = cluster.Nodes[2].Actors.Coordinator;
        var answer = await proxy.Ask<IJobMessage>(new SubmitJob(AirPassengers(epochs: 3), Workers: 2, Mode: TrainingMode.LocalSgd, SyncPeriod: 3), Ask);
        var status = await WaitForEnd(cluster, proxy, Assert.IsType<JobAccepted>(answer).Job, TimeSpan.FromSeconds(180));
        Assert.True(status.State == JobState.Succeeded, $"job ended {status.State}: {status.Reason}");
        // Local SGD makes one master version per 3 local steps (the last round of an epoch takes what remains).
        var options = AirPassengers(epochs: 3);
        var data = ForecastRun.Prepare(options);
        int steps = new BatchPlan(data.Train.Count, 2, options.Training.BatchSize, options.Training.Seed).StepsPerEpoch;
        Assert.Equal(3 * ((steps + 2) / 3), status.Round);
    }

    [Fact]
    public async Task A_worker_that_leaves_mid_job_hands_its_shard_over_and_training_goes_on()
    {
        await using var cluster = await StartWithTwoWorkers();
        var proxy = cluster.Nodes[0].Actors.Coordinator;

        // Held open whatever the machine's speed: no early stopping and more epochs than the test lives; cancelled at the end.
        var id = Assert.IsType<JobAccepted>(await proxy.Ask<IJobMessage>(
            new SubmitJob(AirPassengers(TrainingOptions.MaxEpochs, patience: 0), Workers: 2), Ask)).Job;
        await WaitForStatus(cluster, proxy, id, s => s is { State: JobState.Running, Epoch: >= 1, Workers: 2 }, "the first epoch on two workers");
        await cluster.Nodes[3].System.Terminate();

        // The parameter server deals the shard to the remaining worker (its epochs report the active workers)
        // and training goes on: two more epochs finish on one worker.
        var handedOver = await WaitForStatus(cluster, proxy, id, s => s is { Workers: 1 } || s.State != JobState.Running, "the job to run on the remaining worker");
        Assert.True(handedOver is { State: JobState.Running, Workers: 1 }, $"the job never ran on one worker: {handedOver}");
        var later = await WaitForStatus(cluster, proxy, id, s => s.Epoch >= handedOver.Epoch + 2 || s.State != JobState.Running,
            "two more epochs on the remaining worker");
        Assert.True(later is { State: JobState.Running, Workers: 1 }, $"training stopped after the hand-over: {later}");

        // The pool holds the one worker left; cancelling the job frees it.
        await cluster.WaitUntil(() => proxy.Ask<CoordinatorState>(GetCoordinatorState.Instance, Ask).Result is { TotalWorkers: 1 },
            TimeSpan.FromSeconds(60), "the pool to hold the remaining worker");
        var cancelled = await proxy.Ask<JobStatus>(new CancelJob(id), Ask);
        Assert.Equal(JobState.Cancelled, cancelled.State);
        await cluster.WaitUntil(() => proxy.Ask<CoordinatorState>(GetCoordinatorState.Instance, Ask).Result is { TotalWorkers: 1, FreeWorkers: 1, Running: 0 },
            TimeSpan.FromSeconds(60), "the remaining worker to be free again");
    }

    [Fact]
    public async Task A_worker_that_joins_mid_job_gets_a_shard_at_the_next_epoch()
    {
        await using var cluster = await InProcessCluster.Start(Coordinator, Server, Worker);
        var proxy = cluster.Nodes[0].Actors.Coordinator;
        await cluster.WaitUntil(() => proxy.Ask<CoordinatorState>(GetCoordinatorState.Instance, Ask).Result.TotalWorkers == 1,
            TimeSpan.FromSeconds(60), "the first worker discovered");

        // No worker count: the job takes every free worker, now and as they join. Held open; cancelled at the end.
        var id = Assert.IsType<JobAccepted>(await proxy.Ask<IJobMessage>(
            new SubmitJob(AirPassengers(TrainingOptions.MaxEpochs, patience: 0)), Ask)).Job;
        var before = await WaitForStatus(cluster, proxy, id, s => s is { State: JobState.Running, Epoch: >= 1, Workers: 1 }, "the first epoch on one worker");

        await cluster.AddNode(Worker);
        var grown = await WaitForStatus(cluster, proxy, id, s => s.Workers == 2 || s.State != JobState.Running, "the job to run on two workers");
        Assert.True(grown is { State: JobState.Running, Workers: 2 }, $"the joined worker was never used: {grown}");
        Assert.True(grown.Epoch > before.Epoch);
        var later = await WaitForStatus(cluster, proxy, id, s => s.Epoch >= grown.Epoch + 2 || s.State != JobState.Running, "two more epochs");
        Assert.True(later is { State: JobState.Running, Workers: 2 }, $"training stopped after the join: {later}");

        Assert.Equal(JobState.Cancelled, (await proxy.Ask<JobStatus>(new CancelJob(id), Ask)).State);
        await cluster.WaitUntil(() => proxy.Ask<CoordinatorState>(GetCoordinatorState.Instance, Ask).Result is { TotalWorkers: 2, FreeWorkers: 2 },
            TimeSpan.FromSeconds(60), "both workers free again");
    }

    [Fact]
    public async Task A_job_larger_than_one_frame_reaches_the_coordinator_on_another_node()
    {
        await using var cluster = await InProcessCluster.Start(Coordinator, Server, Worker);
        var workerNode = cluster.Nodes[2];
        // About 6 MB of CSV: more than the 4 MiB frame, which a plain Tell through the singleton proxy would lose.
        var csv = new System.Text.StringBuilder("step,value\n");
        for (int i = 0; i < 400_000; i++) csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},{Math.Sin(i / 10.0) + 10:F6}\n");
        Assert.True(csv.Length > 5_000_000);
        var options = AirPassengers(epochs: 1) with
        {
            Data = new CsvSeriesOptions { Path = "big.csv", Target = "value" },
            Preprocessing = new PreprocessingOptions { Lookback = 8, Horizon = 1 },
            Season = 1,
        };
        var answer = await LstmCluster.Hosting.Node.CoordinatorDelivery.AskAsync(workerNode.System, workerNode.Actors.Coordinator,
            new SubmitJob(options, csv.ToString(), Workers: 1), TimeSpan.FromSeconds(60), CancellationToken.None);
        var id = Assert.IsType<JobAccepted>(answer).Job;
        var cancelled = await workerNode.Actors.Coordinator.Ask<JobStatus>(new CancelJob(id), Ask);
        Assert.Equal(JobState.Cancelled, cancelled.State);
    }

    /// <summary>Coordinator, parameter server and two workers, once the coordinator has found both workers.</summary>
    private static async Task<InProcessCluster> StartWithTwoWorkers()
    {
        var cluster = await InProcessCluster.Start(Coordinator, Server, Worker, Worker);
        try
        {
            var proxy = cluster.Nodes[0].Actors.Coordinator;
            await cluster.WaitUntil(() => proxy.Ask<CoordinatorState>(GetCoordinatorState.Instance, Ask).Result.TotalWorkers == 2,
                TimeSpan.FromSeconds(60), "both workers discovered");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Polls the job's status until <paramref name="reached"/> holds; the timeout only bounds a broken run.</summary>
    private static async Task<JobStatus> WaitForStatus(InProcessCluster cluster, IActorRef proxy, string id, Func<JobStatus, bool> reached, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(180);
        while (true)
        {
            var status = await proxy.Ask<JobStatus>(new GetJobStatus(id), Ask);
            if (reached(status)) return status;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited 180 s for {what}; job {id} is {status.State} at epoch {status.Epoch} on {status.Workers} workers");
            await Task.Delay(100);
        }
    }

    private static async Task<JobStatus> WaitForEnd(InProcessCluster cluster, IActorRef proxy, string id, TimeSpan timeout)
    {
        JobStatus? last = null;
        await cluster.WaitUntil(() =>
        {
            last = proxy.Ask<JobStatus>(new GetJobStatus(id), Ask).Result;
            return last.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
        }, timeout, $"job {id} to end (last: {last?.State} epoch {last?.Epoch})");
        return last!;
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
