using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Actors.Training;

/// <summary>
/// One per running job: owns the master weights, the optimizer state and the version counter.
/// Deals the shards to its workers, broadcasts weights, aggregates what comes back (sync,
/// bounded-staleness async, or local-SGD averaging), and at the end of each epoch of the global
/// data runs validation, early stopping and the learning-rate schedule. Every contribution is
/// applied at most once per (job, version, worker); duplicates, stale and late ones are counted
/// and dropped. Reports <see cref="EpochProgress"/> and finally <see cref="TrainingFinished"/> or
/// <see cref="TrainingFailed"/> to <c>reportTo</c>, then stops.
/// <para>
/// Sends <c>reportTo</c> a <see cref="CheckpointTaken"/> at epoch ends and, in long epochs, at a round boundary (see
/// <see cref="EngineOptions.CheckpointEvery"/>); a server started with <see cref="TrainingSetup.Resume"/> continues from
/// such a checkpoint: the same optimizer state, version, epoch and step, so it computes what the lost server would have.
/// </para>
/// </summary>
public sealed class ParameterServerActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly TrainingSetup setup;
    private readonly List<IActorRef> workers;
    private readonly List<IActorRef> joining = [];
    private readonly IActorRef reportTo;
    private readonly HashSet<int> active = [];
    private readonly Dictionary<int, BatchGradient> round = [];
    private float[]? averageBuffer;   // the sync round's average (CloseRound)
    private readonly ContributionLedger ledger;
    private readonly List<EpochReport> history = [];
    private readonly Stopwatch clock = new();
    private readonly Stopwatch serverTime = new();
    private long roundOpened;
    private TimeSpan roundSlowest;    // the longest compute a contribution of the open round reported
    private readonly RoundClock roundClock = new();
    private readonly Stopwatch sinceCheckpoint = new();
    private readonly Remoting.ChunkedSender wire;
    private BatchPlan plan = null!;
    private ForecastModel? model;
    private MasterOptimizer? master;
    private EarlyStopping stopping = null!;
    private long version;
    private int epoch = 1;
    private int stepInEpoch;
    private long arrivalsInEpoch;
    private int roundSteps;
    private double lossSum;
    private long epochSamples, totalSamples, reassignments, checkpoints;
    private TimeSpan elapsedBefore;
    private bool released;
    private IActorRef liveness = ActorRefs.Nobody;   // WorkerLiveness: tells this server which workers are gone

    public ParameterServerActor(TrainingSetup setup, IReadOnlyList<IActorRef> workers, IActorRef reportTo)
    {
        this.setup = setup;
        this.workers = [.. workers];
        this.reportTo = reportTo;
        // Everything to workers and to reportTo goes through the chunked path, which keeps per-sender order on the wire.
        wire = new Remoting.ChunkedSender(Context.System);
        ledger = new ContributionLedger(workers.Count);
        Receive<Gradient>(m => Guard(() => OnGradient(m)));
        Receive<LocalWeights>(m => Guard(() => OnLocalWeights(m)));
        Receive<RoundTimeout>(m => Guard(() => OnRoundTimeout(m)));
        Receive<WorkerFailed>(m => Fail($"worker {m.Worker} failed: {m.Reason}"));
        // Only the coordinator is watched here; the workers are watched by the liveness child, which reports Lost.
        Receive<Terminated>(m =>
        {
            if (m.ActorRef.Equals(reportTo)) OnCoordinatorGone();
        });
        Receive<WorkerLiveness.Lost>(m => Guard(() => OnWorkerLost(m)));
        Receive<JoinWorker>(OnJoinWorker);
        Receive<GetServerState>(_ => Sender.Tell(new ServerState(setup.Job, version, epoch, ledger.Applied, ledger.Duplicates, ledger.Stale, ledger.Late)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private TrainingMode Mode => setup.Engine.Mode;

    public static Props Props(TrainingSetup setup, IReadOnlyList<IActorRef> workers, IActorRef reportTo) =>
        Akka.Actor.Props.Create(() => new ParameterServerActor(setup, workers, reportTo)).WithDispatcher(Dispatchers.Torch);

    protected override void PreStart()
    {
        // Not inside Guard: a dispose scope around the model's construction would free its parameters.
        try
        {
            Start();
        }
        catch (Exception e)
        {
            LogFailure(e);
            Fail(e.Message);
        }
    }

    private void Start()
    {
        Dispatchers.UseTorchThreads(setup.Engine.TorchThreads);
        var options = setup.Options;
        options.Validate();
        setup.Engine.Validate();
        if (workers.Count == 0) throw new ArgumentException("no workers for the job");
        plan = NewPlan(workers.Count);
        model = ForecastModel.Create(setup.Spec, options.Seed);
        if (setup.InitialWeights is { } initial) ParameterVector.Load(model, initial);
        master = new MasterOptimizer(model, options);
        master.LearningRate = options.LearningRateAt(1);
        stopping = new EarlyStopping(options);
        if (setup.Resume is { } checkpoint)
        {
            Restore(checkpoint);
        }
        else
        {
            // As the reference trainer: the untrained model is epoch 0, and training has to beat it to be kept.
            stopping.Start(setup.Validation.Count > 0 ? Gradients.Loss(model, setup.Validation) : double.PositiveInfinity, master.Weights);
        }
        var planSpec = PlanSpecFor(workers.Count);
        // Whoever started the job must still be there to take its result: see OnCoordinatorGone.
        Context.Watch(reportTo);
        liveness = Context.ActorOf(WorkerLiveness.Props(), "liveness");
        for (int k = 0; k < workers.Count; k++)
        {
            liveness.Tell(new WorkerLiveness.Watch(workers[k]));
            active.Add(k);
            wire.Tell(workers[k], new AssignShard(setup.Job, k, setup.Spec, planSpec, ShardWindows(k), options, k, epoch,
                stepInEpoch), Self);
        }
        clock.Start();
        sinceCheckpoint.Start();
        if (Mode == TrainingMode.Async)
        {
            var w = master.Weights();
            foreach (var k in active) wire.Tell(workers[k], new Weights(setup.Job, version, w), Self);
        }
        else
        {
            Broadcast();
        }
    }

    /// <summary>Takes over a checkpoint's state; on as many workers as it was taken with, the batches ahead are the same.</summary>
    private void Restore(TrainingCheckpoint c)
    {
        master!.Restore(c.Optimizer);
        stopping.Restore(c.Stopping);
        epoch = c.Epoch;
        stepInEpoch = c.Step;
        version = c.Version;
        history.AddRange(c.History);
        lossSum = c.EpochLossSum;
        epochSamples = c.EpochSamples;
        totalSamples = c.TotalSamples;
        elapsedBefore = c.Elapsed;
        // With global sampling the batches do not depend on the shards: a resume on any number of workers walks the same ones.
        if (c.Shards != plan.ShardCount && plan.Sampling == BatchSampling.ShardLocal)
        {
            // Another plan: the epoch's batches differ, so the epoch restarts on the new shards (its first steps are redone).
            log.Warning("job {0}: resuming on {1} workers, the checkpoint was taken on {2}: epoch {3} restarts", setup.Job, plan.ShardCount, c.Shards, epoch);
            stepInEpoch = 0;
            lossSum = 0;
            epochSamples = 0;
        }
        log.Info("job {0}: resumed from the checkpoint at epoch {1}, step {2}, version {3}", setup.Job, epoch, stepInEpoch, version);
    }

    private TimeSpan Elapsed => elapsedBefore + clock.Elapsed;

    // --- checkpoints ---

    /// <summary>
    /// At an epoch end (at most one a second) or, mid-epoch, once <see cref="EngineOptions.CheckpointEvery"/> has passed:
    /// called at a round boundary, after the round's step and before the next broadcast, so nothing is in flight that
    /// the checkpoint does not account for.
    /// </summary>
    private void MaybeCheckpoint(bool epochEnd)
    {
        if (setup.Engine.CheckpointEvery is not { } every) return;
        var since = sinceCheckpoint.Elapsed;
        bool due = epochEnd ? since >= (every < MinimumCheckpointGap ? every : MinimumCheckpointGap) : every > TimeSpan.Zero && since >= every;
        if (!due) return;
        var checkpoint = new TrainingCheckpoint(epoch, stepInEpoch, version, plan.ShardCount, master!.Export(), stopping.Export(), [.. history],
            lossSum, epochSamples, totalSamples, Elapsed);
        wire.Tell(reportTo, new CheckpointTaken(setup.Job, checkpoint), Self);
        checkpoints++;
        Telemetry.ClusterMetrics.CheckpointTaken();
        sinceCheckpoint.Restart();
    }

    private static readonly TimeSpan MinimumCheckpointGap = TimeSpan.FromSeconds(1);

    // --- rounds (sync and local-SGD) ---

    private void Broadcast()
    {
        roundOpened = Stopwatch.GetTimestamp();
        roundSlowest = TimeSpan.Zero;
        if (WireTrace.Enabled) WireTrace.Mark("round-open", $"v{version}", active.Count);
        var w = master!.Weights();
        if (Mode == TrainingMode.LocalSgd)
        {
            roundSteps = Math.Min(setup.Engine.SyncPeriod, plan.StepsPerEpoch - stepInEpoch);
            // One message for all: the serializer serializes a broadcast instance once, however many workers it goes to.
            var message = new LocalRound(setup.Job, version, w, roundSteps, master.LearningRate);
            foreach (var k in active) wire.Tell(workers[k], message, Self);
        }
        else
        {
            roundSteps = 1;
            var message = new Weights(setup.Job, version, w);
            foreach (var k in active) wire.Tell(workers[k], message, Self);
        }
        if (setup.Engine.StragglerTimeout is { } timeout)
            Timers.StartSingleTimer(nameof(RoundTimeout), new RoundTimeout(version), timeout);
    }

    private void OnGradient(Gradient m)
    {
        if (Mode == TrainingMode.Async)
        {
            OnAsyncGradient(m);
            return;
        }
        if (WireTrace.Enabled) WireTrace.Mark("gradient-in", $"worker-{m.Worker}", m.Values.Length);
        if (Mode == TrainingMode.LocalSgd || !Accept(m.Job, m.Version, m.Worker)) return;
        round[m.Worker] = new BatchGradient(m.Values, m.Loss, m.Samples);
        if (m.Compute > roundSlowest) roundSlowest = m.Compute;
        if (round.Count >= active.Count) CloseRound();
    }

    private void OnLocalWeights(LocalWeights m)
    {
        if (Mode != TrainingMode.LocalSgd || !Accept(m.Job, m.Version, m.Worker)) return;
        round[m.Worker] = new BatchGradient(m.Values, m.Loss, m.Samples);
        if (m.Compute > roundSlowest) roundSlowest = m.Compute;
        if (round.Count >= active.Count) CloseRound();
    }

    /// <summary>Whether a contribution belongs to the open round; counts and drops it otherwise.</summary>
    private bool Accept(string job, long v, int worker)
    {
        if (job != setup.Job || worker < 0 || worker >= workers.Count) return false;
        return ledger.TakeForRound(worker, v, version, active.Contains(worker), round.ContainsKey(worker));
    }

    private void OnRoundTimeout(RoundTimeout m)
    {
        if (m.Version != version || Mode == TrainingMode.Async) return;
        int quorum = Math.Min(active.Count, setup.Engine.Quorum ?? active.Count / 2 + 1);
        if (round.Count >= quorum && round.Count > 0)
        {
            log.Info("job {0}: round v{1} closes with {2} of {3} workers after the straggler timeout", setup.Job, version, round.Count, active.Count);
            CloseRound();
        }
        else if (setup.Engine.StragglerTimeout is { } timeout)
        {
            Timers.StartSingleTimer(nameof(RoundTimeout), new RoundTimeout(version), timeout);
        }
    }

    private void CloseRound()
    {
        Timers.Cancel(nameof(RoundTimeout));
        var roundTime = Stopwatch.GetElapsedTime(roundOpened);
        if (WireTrace.Enabled) WireTrace.Mark("round-close", $"v{version}", round.Count);
        var contributions = round.Values.Where(g => g.Samples > 0).ToList();
        var busyBefore = serverTime.Elapsed;
        serverTime.Start();
        if (contributions.Count > 0)
        {
            // One contribution is its own average (n·g/n is exact in double), without the pass over the vector.
            float[] average;
            if (contributions.Count == 1) average = contributions[0].Values;
            else
            {
                // One buffer for every round's average (Step and LoadWeights copy out of it before they return).
                average = averageBuffer ??= new float[contributions[0].Values.Length];
                Gradients.WeightedAverage(contributions, average);
            }
            if (Mode == TrainingMode.LocalSgd) master!.LoadWeights(average);
            else master!.Step(average);
        }
        foreach (var (k, g) in round)
        {
            ledger.Apply(k, g.Samples);
            lossSum += g.Loss * g.Samples;
            epochSamples += g.Samples;
        }
        serverTime.Stop();
        var step = serverTime.Elapsed - busyBefore;
        roundClock.Record(roundTime, roundSlowest, step);
        Telemetry.ClusterMetrics.RoundClosed(Stopwatch.GetElapsedTime(roundOpened), round.Values.Sum(g => (long)g.Samples),
            roundTime - (roundSlowest < roundTime ? roundSlowest : roundTime));
        Telemetry.ClusterMetrics.ServerWork(step);
        round.Clear();
        version++;
        stepInEpoch += roundSteps;
        if (stepInEpoch >= plan.StepsPerEpoch)
        {
            bool overlap = OverlapsValidation;
            // The workers compute the next epoch's first round while this server validates (see OverlapsValidation).
            if (overlap) Broadcast();
            if (EndEpoch() || overlap) return;
        }
        else
        {
            MaybeCheckpoint(epochEnd: false);
        }
        Broadcast();
    }

    /// <summary>
    /// Whether an epoch's end opens the next epoch's first round before validating. Validation takes a server a while
    /// (on the suite's series, 75–95 ms against 12 ms for a round), and the workers would wait for it idle. The round's
    /// gradients do not depend on what validation decides: they are computed at the weights being validated, and they
    /// reach this actor only after <see cref="EndEpoch"/> has set the next epoch's learning rate, so the step applied is
    /// the one a server that validated first would apply. When validation ends training instead, the round's gradients
    /// arrive after it stopped and are dropped. Sync rounds only: a local-SGD round carries the learning rate, so it must
    /// wait for the decision. Not in the last epoch (nothing follows it), nor when workers join at this boundary (the
    /// round is dealt again over all of them).
    /// </summary>
    private bool OverlapsValidation => Mode == TrainingMode.Sync && joining.Count == 0 && epoch < setup.Options.Epochs;

    // --- async ---

    private void OnAsyncGradient(Gradient m)
    {
        if (m.Job != setup.Job || m.Worker < 0 || m.Worker >= workers.Count) return;
        if (!ledger.FirstAsync(m.Worker, m.Version)) return;
        arrivalsInEpoch++;
        // A stale gradient is counted and dropped by the ledger; its arrival still counts toward the epoch.
        if (ledger.WithinStaleness(m.Worker, m.Version, version, setup.Engine.Staleness) && m.Samples > 0)
        {
            var busyBefore = serverTime.Elapsed;
            serverTime.Start();
            master!.Step(m.Values);
            serverTime.Stop();
            Telemetry.ClusterMetrics.RoundClosed(null, m.Samples);
            Telemetry.ClusterMetrics.ServerWork(serverTime.Elapsed - busyBefore);
            version++;
            ledger.Apply(m.Worker, m.Samples);
            lossSum += m.Loss * m.Samples;
            epochSamples += m.Samples;
        }
        ledger.ForgetBefore(version, setup.Engine.Staleness);
        if (arrivalsInEpoch >= (long)plan.StepsPerEpoch * plan.ShardCount)
        {
            arrivalsInEpoch = 0;
            if (EndEpoch()) return;
        }
        if (active.Contains(m.Worker)) wire.Tell(workers[m.Worker], new Weights(setup.Job, version, master!.Weights()), Self);
    }

    // --- epochs ---

    /// <summary>Validation, report, early stopping and the next epoch's learning rate; true when training ended.</summary>
    private bool EndEpoch()
    {
        serverTime.Start();
        totalSamples += epochSamples;
        double trainLoss = epochSamples > 0 ? lossSum / epochSamples : double.NaN;
        double validationLoss = setup.Validation.Count > 0 ? Gradients.Loss(model!, setup.Validation) : trainLoss;
        bool improved = stopping.Observe(epoch, validationLoss, master!.Weights);
        var report = new EpochReport(epoch, setup.Options.Epochs, trainLoss, validationLoss, master.LearningRate, improved,
            stopping.BestEpoch, totalSamples, totalSamples / Math.Max(1e-9, Elapsed.TotalSeconds), Elapsed);
        serverTime.Stop();
        history.Add(report);
        wire.Tell(reportTo, new EpochProgress(setup.Job, report, version, active.Count), Self);
        if (stopping.ShouldStop || epoch >= setup.Options.Epochs || setup.Options.MaxTime > TimeSpan.Zero && Elapsed >= setup.Options.MaxTime)
        {
            Finish();
            return true;
        }
        epoch++;
        stepInEpoch = 0;
        lossSum = 0;
        epochSamples = 0;
        master.LearningRate = setup.Options.LearningRateAt(epoch) * stopping.LearningRateFactor;
        if (joining.Count > 0) AdmitJoined();
        MaybeCheckpoint(epochEnd: true);
        return false;
    }

    // --- elastic join ---

    private void OnJoinWorker(JoinWorker m)
    {
        if (m.Job != setup.Job || Mode == TrainingMode.Async || workers.Contains(m.Worker) || joining.Contains(m.Worker)) return;
        liveness.Tell(new WorkerLiveness.Watch(m.Worker));
        joining.Add(m.Worker);
        log.Info("job {0}: worker {1} joins at the start of epoch {2}", setup.Job, m.Worker.Path, epoch + 1);
    }

    /// <summary>
    /// At an epoch boundary (the round about to open is the epoch's first): the workers that joined get indexes and the
    /// windows are dealt again over every active worker, so the next epoch runs on all of them. The caller broadcasts.
    /// </summary>
    private void AdmitJoined()
    {
        foreach (var w in joining)
        {
            workers.Add(w);
            ledger.AddWorker();
            active.Add(workers.Count - 1);
        }
        log.Info("job {0}: epoch {1} runs on {2} workers ({3} joined)", setup.Job, epoch, active.Count, joining.Count);
        joining.Clear();
        DealShards();
    }

    private void Finish()
    {
        clock.Stop();
        Timers.CancelAll();
        Release();
        wire.Tell(reportTo, new TrainingFinished(setup.Job, stopping.BestWeights!, stopping.BestEpoch, stopping.BestLoss, [.. history],
            stopping.ShouldStop, totalSamples, Elapsed, version, ledger.Figures(), serverTime.Elapsed, roundClock.Summary()), Self);
        Context.Stop(Self);
    }

    // --- failures ---

    /// <summary>
    /// The coordinator that started this run stopped (its node died or left, or the singleton moved): nobody takes
    /// this run's result, and a coordinator that recovers the job starts a new attempt of its own. Training on would
    /// hold the workers for nothing, so the run stops and releases them.
    /// </summary>
    private void OnCoordinatorGone()
    {
        log.Warning("job {0}: the coordinator that started it is gone; stopping this run and releasing its workers", setup.Job);
        Timers.CancelAll();
        Release();
        Context.Stop(Self);
    }

    /// <summary>
    /// A worker stopped, or its node's connection closed and it did not answer (<see cref="WorkerLiveness"/>): a joiner
    /// is forgotten, an active worker's shard goes to the others.
    /// </summary>
    private void OnWorkerLost(WorkerLiveness.Lost m)
    {
        if (joining.Remove(m.Worker)) return;
        int k = IndexOf(m.Worker);
        if (k >= 0) WorkerGone(k, m.Why);
    }

    private void WorkerGone(int k, string why)
    {
        if (!active.Remove(k)) return;
        log.Warning("job {0}: worker {1} {2}; its shard goes to the other {3}", setup.Job, k, why, active.Count);
        if (active.Count == 0)
        {
            Fail("every worker of the job has stopped");
            return;
        }
        Reassign();
    }

    /// <summary>
    /// Deals the training windows again over the active workers (a new plan with fewer shards), each
    /// starting where the job stands, so no window is lost with the worker that left. In sync and
    /// local-SGD modes the open round restarts under a new version: what was computed for the old one
    /// arrives late and is dropped, never mixed with the new shards' gradients.
    /// </summary>
    private void Reassign()
    {
        DealShards();
        reassignments++;
        if (Mode == TrainingMode.Async)
        {
            // Each survivor still has its own request in flight and gets new weights when it answers.
            arrivalsInEpoch = Math.Min(arrivalsInEpoch, (long)stepInEpoch * plan.ShardCount);
            return;
        }
        Timers.Cancel(nameof(RoundTimeout));
        round.Clear();
        version++;
        Broadcast();
    }

    /// <summary>A new plan over the active workers, each dealt its shard starting where the job stands.</summary>
    private void DealShards()
    {
        var dealt = active.OrderBy(k => k).ToList();
        var options = setup.Options;
        plan = NewPlan(dealt.Count);
        var planSpec = PlanSpecFor(dealt.Count);
        stepInEpoch = Math.Min(stepInEpoch, plan.StepsPerEpoch - 1);
        for (int j = 0; j < dealt.Count; j++)
        {
            wire.Tell(workers[dealt[j]], new AssignShard(setup.Job, dealt[j], setup.Spec, planSpec, ShardWindows(j),
                options, j, epoch, stepInEpoch), Self);
        }
    }

    private BatchPlan NewPlan(int shards) => PlanSpecFor(shards).Build();

    /// <summary>
    /// The windows of the current plan's shard <paramref name="shard"/>; with global-sliced sampling every shard is the whole
    /// training split, sent as it is (no copy; in one process the workers share it).
    /// </summary>
    private WindowSet ShardWindows(int shard) =>
        plan.Sampling == BatchSampling.GlobalSliced ? setup.Train : setup.Train.Select(plan.Shard(shard));

    private PlanSpec PlanSpecFor(int shards) =>
        new(setup.Train.Count, shards, setup.Options.BatchSize, setup.Options.Seed, setup.Engine.RunSampling());

    private int IndexOf(IActorRef actor)
    {
        for (int k = 0; k < workers.Count; k++)
            if (workers[k].Equals(actor)) return k;
        return -1;
    }

    /// <summary>
    /// Any failure of the job's computation fails the job with its message: a restart would silently start
    /// training over from the seed.
    /// </summary>
    private void Guard(Action action)
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            Dispatchers.UseTorchThreads(setup.Engine.TorchThreads);
            action();
        }
        catch (Exception e)
        {
            LogFailure(e);
            Fail(e.Message);
        }
    }

    /// <summary>
    /// A diverged run or bad options are the job's outcome, reported to its coordinator and shown there in one line;
    /// only an unexpected fault gets a stack trace here.
    /// </summary>
    private void LogFailure(Exception e)
    {
        if (e is TrainingDivergedException or ArgumentException) log.Debug("job {0}: training computation failed: {1}", setup.Job, e);
        else log.Error(e, "job {0}: training computation failed", setup.Job);
    }

    private void Fail(string reason)
    {
        log.Info("job {0} failed: {1}", setup.Job, reason);
        Timers.CancelAll();
        Release();
        wire.Tell(reportTo, new TrainingFailed(setup.Job, reason), Self);
        Context.Stop(Self);
    }

    private void Release()
    {
        if (released) return;
        released = true;
        foreach (var w in workers) wire.Tell(w, new ReleaseShard(setup.Job), Self);
    }

    protected override void PostStop()
    {
        Release();
        master?.Dispose();
        model?.Dispose();
        base.PostStop();
    }

    private sealed record RoundTimeout(long Version);
}
