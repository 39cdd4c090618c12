using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Data;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// The coordinator's job registry: accepts, validates and queues jobs, and runs at most
/// <see cref="EngineOptions.MaxConcurrentJobs"/> at once, each on workers of its <see cref="WorkerPool"/> with one
/// parameter server, one <see cref="JobRunner"/> child per training attempt; answers status, list and file queries,
/// cancels and deletes on request.
/// <para>
/// The registry is event-sourced (Akka.Persistence): accepted jobs, starts, sparse progress, checkpoints and every end are
/// journaled (<see cref="IJobEvent"/>), with a snapshot every <see cref="CoordinatorSettings.SnapshotEvery"/> events;
/// uploads, checkpoints and finished jobs' files live in the <see cref="JobStore"/>. A coordinator that restarts (or a
/// singleton that moves to another node) recovers the registry: finished jobs keep serving their files, queued jobs stay
/// queued, and a job whose run was cut off is queued again for a new attempt (up to <see cref="CoordinatorSettings.MaxAttempts"/>),
/// resuming from its last checkpoint. Each attempt trains under its own run id, so anything an older run's parameter
/// server still sends is dropped (and counted). Jobs handed in by the embedded engine (<see cref="SubmitTraining"/>) live
/// in memory only: their listener is in-process.
/// </para>
/// Runners report how their attempt goes; only the registry journals and decides (requeue, fail, succeed). Loading data
/// runs off the actor (<c>PipeTo(Self)</c>), so the mailbox keeps answering status and cancel. A job whose workers are not
/// free waits at the head of the queue. The queue is ordered by priority, then takes turns between owners (API tokens), then
/// first come first served (<see cref="JobQueue"/>).
/// </summary>
public sealed partial class CoordinatorActor : ReceivePersistentActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly CoordinatorSettings settings;
    private readonly EngineOptions engine;
    private readonly JobStore store;
    private readonly WorkerPool pool;
    private readonly Dictionary<string, RegisteredJob> jobs = [];
    private readonly JobQueue queue;
    private readonly OwnerStorage storage;
    private readonly Remoting.ChunkedSender wire;
    private long sequence;

    public CoordinatorActor(EngineOptions engine)
        : this(new CoordinatorSettings { Engine = engine })
    {
    }

    public CoordinatorActor(CoordinatorSettings settings)
    {
        settings.Engine.Validate();
        this.settings = settings;
        engine = settings.Engine;
        store = settings.Store ?? JobStore.CreateTemporary();
        queue = new JobQueue(settings.Budget.MaxRunningPerOwner);
        storage = new OwnerStorage(store);
        wire = new Remoting.ChunkedSender(Context.System);
        pool = new WorkerPool(Context, log, settings.ElasticJoin && !settings.FixedPool);

        Recover<SnapshotOffer>(OnSnapshotOffer);
        Recover<JobSubmitted>(e => Restore(e.Job));
        Recover<JobDeleted>(e => jobs.Remove(e.Job));
        RecoverGroups();
        RecoverSweeps();
        Recover<IJobEvent>(e =>
        {
            if (JobOf(e) is { } id && jobs.TryGetValue(id, out var job)) job.Record = JobEvents.Apply(job.Record, e);
        });
        Recover<RecoveryCompleted>(_ => OnRecoveryCompleted());

        Command<ResumeRecovered>(OnResumeRecovered);
        Command<SubmitJob>(OnSubmitJob);
        Command<SubmitTraining>(OnSubmitTraining);
        Command<JobPreparation.Prepared>(OnPrepared);
        Command<JobPreparation.PrepareFailed>(OnPrepareFailed);
        CommandRuns();
        CommandGroups();
        CommandSweeps();
        Command<GetJobStatus>(OnGetJobStatus);
        Command<CancelJob>(m => OnCancelJob(m.Job));
        Command<DeleteJob>(OnDeleteJob);
        Command<GetCoordinatorState>(_ => Sender.Tell(new CoordinatorState(queue.Count, runs.Count, pool.Free, pool.Total) { Fenced = fenced }));
        Command<ListJobs>(_ =>
        {
            var running = RunningByOwner();
            var places = queue.Places(running);
            Sender.Tell(new JobList([.. jobs.Values.OrderByDescending(j => j.Record.Sequence).Select(j => StatusWithPlace(j, places, running))]));
        });
        Command<GetJobArtifacts>(OnGetJobArtifacts);
        Command<GetJobHistory>(OnGetJobHistory);
        Command<WorkerAvailable>(m => AddWorker(m.Worker));
        Command<ParameterServerHostAvailable>(m => AddHost(m.Host));
        Command<Terminated>(OnTerminated);
        Command<RetentionTick>(_ => Retain());
        Command<SaveSnapshotSuccess>(m => DeleteSnapshots(new SnapshotSelectionCriteria(m.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(m => log.Warning("could not save a snapshot of the job registry: {0}", m.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => settings.PersistenceId;

    /// <summary>
    /// The journal cannot be read (not a database, a foreign or corrupt event): recovering past it would serve a
    /// registry with jobs missing and could reuse their ids, so the coordinator stops and says which journal and why.
    /// Nothing in the journal is changed. <see cref="CoordinatorSettings.JournalUnreadable"/> lets the node exit.
    /// </summary>
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        string why = reason.GetBaseException().Message;
        log.Error("the job journal ({0}) cannot be read: {1}. Nothing in it was changed; the coordinator stops. "
            + "Restore or move the journal, or start with another --state-dir.", settings.JournalName, why);
        settings.JournalUnreadable?.Invoke($"the job journal ({settings.JournalName}) cannot be read: {why}");
        base.OnRecoveryFailure(reason, message);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EngineOptions engine) => Akka.Actor.Props.Create(() => new CoordinatorActor(engine));

    public static Props Props(CoordinatorSettings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(settings));

    protected override void PreStart()
    {
        base.PreStart();
        int local = settings.LocalWorkers ?? engine.PoolSize;
        for (int i = 0; i < local; i++) AddWorker(Context.ActorOf(WorkerActor.Props(engine.TorchThreads), $"worker-{i}"));
        if (settings.LocalParameterServers) AddHost(Context.ActorOf(ParameterServerHost.Props(), ParameterServerHost.Name));
        if (settings.Discovery is { } discovery) Context.ActorOf(discovery, "discovery");
        if (settings.KeepFor is not null) Timers.StartPeriodicTimer(nameof(RetentionTick), RetentionTick.Instance, TimeSpan.FromMinutes(10));
    }

    // --- recovery ---

    private void OnSnapshotOffer(SnapshotOffer offer)
    {
        if (offer.Snapshot is not RegistrySnapshot snapshot) return;
        jobs.Clear();
        groups.Clear();
        sequence = snapshot.Sequence;
        foreach (var record in snapshot.Jobs) Restore(record);
        foreach (var group in snapshot.Groups ?? []) groups[group.Id] = group;
    }

    private void Restore(JobRecord record)
    {
        jobs[record.Id] = new RegisteredJob(record, ActorRefs.Nobody) { Durable = true, Recorded = true };
        sequence = Math.Max(sequence, record.Sequence);
    }

    /// <summary>
    /// Nothing runs right after recovery: a run the journal calls Running was cut off, and a status query answered
    /// before <see cref="OnResumeRecovered"/> must not say otherwise. The rest is a command (it journals), and jobs
    /// submitted meanwhile are not among these.
    /// </summary>
    private void OnRecoveryCompleted()
    {
        ReserveMemberIds();
        // Whose turn it is comes back with the records: the owners served longest ago still go first.
        queue.RestoreTurns(jobs.Values);
        var open = jobs.Values.Where(j => !j.Record.Ended).ToList();
        var cutOff = open.Where(j => j.Record.State == JobState.Running).Select(j => j.Id).ToArray();
        foreach (var job in open.Where(j => j.Record.State == JobState.Running)) job.Record = job.Record with { State = JobState.Queued };
        Self.Tell(new ResumeRecovered([.. open.Select(j => j.Id)], cutOff));
    }

    /// <summary>
    /// After recovery: jobs that were queued are prepared and queued again; a job whose run was cut off by the restart
    /// gets a new attempt, or fails once it has had <see cref="CoordinatorSettings.MaxAttempts"/>. Finished jobs only answer.
    /// </summary>
    private void OnResumeRecovered(ResumeRecovered m)
    {
        var open = m.Jobs.Select(id => jobs.GetValueOrDefault(id)).OfType<RegisteredJob>().Where(j => !j.Record.Ended).OrderBy(j => j.Record.Sequence).ToList();
        if (jobs.Count > 0) log.Info("job registry recovered: {0} jobs, {1} to resume", jobs.Count, open.Count);
        foreach (var job in open)
        {
            if (m.CutOff.Contains(job.Id))
            {
                string cutOff = $"the coordinator restarted during attempt {job.Record.Attempts}";
                if (job.Record.Attempts >= settings.MaxAttempts)
                {
                    Record(job, new JobFailed(job.Id, DateTimeOffset.UtcNow, $"{cutOff}, the last of {settings.MaxAttempts}"));
                    continue;
                }
                Record(job, new JobRequeued(job.Id, $"{cutOff}: queued for attempt {job.Record.Attempts + 1}"));
            }
            // Its place in the queue now, in the original order; Schedule waits while the head is still being prepared.
            queue.Add(job);
            Prepare(job);
        }
        ResumeSweeps();
        ResumeGroups();
    }

    // --- membership ---

    private void AddWorker(IActorRef worker)
    {
        if (!pool.AddWorker(worker)) return;
        Schedule();
        pool.Grow(worker);
    }

    private void AddHost(IActorRef host)
    {
        if (pool.AddHost(host)) Schedule();
    }

    private void OnTerminated(Terminated m)
    {
        if (pool.Remove(m.ActorRef, out var lost))
        {
            // Through the runner, so it reports the loss after whatever that host's server sent before it stopped.
            foreach (var run in lost) runs.GetValueOrDefault(run)?.Runner?.Tell(HostLeft.Instance);
            return;
        }
        // A cancelled run's workers, held until its runner stopped (its job may be deleted by now).
        bool released = releaseWhenStopped.Remove(m.ActorRef, out var held);
        if (released) pool.Release(held!);
        if (jobs.Values.FirstOrDefault(j => m.ActorRef.Equals(j.Runner)) is { } job) OnRunnerStopped(job);
        else if (released) Schedule();
    }

    // --- submission ---

    /// <summary>
    /// Why <paramref name="adding"/> more waiting jobs (<paramref name="plural"/>: jobs, a sweep's trials, a group's series)
    /// for <paramref name="owner"/> would not fit the queue (the node's <c>--max-queued-jobs</c>, then the owner's
    /// <c>--max-queued-per-owner</c>), or null. Busy (429, try again later) while jobs wait that will leave the queue; a
    /// submission larger than the limit itself never fits, and says so.
    /// </summary>
    private JobRejected? QueueRefusal(int adding, string plural, string? owner)
    {
        var budget = settings.Budget;
        int waiting = jobs.Values.Count(j => j.Record.State == JobState.Queued);
        if (waiting + adding > budget.MaxQueuedJobs)
            return new JobRejected(adding == 1
                ? $"{waiting} jobs are waiting, this node's limit (--max-queued-jobs {budget.MaxQueuedJobs}); try again later"
                : $"{adding} {plural} and {waiting} jobs waiting are over this node's limit (--max-queued-jobs {budget.MaxQueuedJobs}); try again later",
                Busy: waiting > 0);
        if (owner is null || budget.MaxQueuedPerOwner is not { } limit) return null;
        int own = jobs.Values.Count(j => j.Record.State == JobState.Queued && j.Record.Owner == owner);
        if (own + adding <= limit) return null;
        return new JobRejected(adding == 1
            ? $"{own} jobs of '{owner}' are waiting, the limit for one owner (--max-queued-per-owner {limit}); try again when some have started"
            : $"{adding} {plural} and {own} jobs of '{owner}' waiting are over the limit for one owner (--max-queued-per-owner {limit}); try again when some have started",
            Busy: own > 0);
    }

    /// <summary>
    /// Why storing <paramref name="adding"/> more bytes (the upload) for <paramref name="owner"/> would take it over its
    /// <c>--max-stored-mb-per-owner</c>, or null. Counts every folder of the owner's in the store: its jobs (a group's
    /// members and a sweep's trials included), its groups, and the groups still being checked. Never busy: waiting does not
    /// free the space, deleting does.
    /// </summary>
    private JobRejected? StorageRefusal(string? owner, long adding)
    {
        if (owner is null || settings.Budget.MaxStoredBytesPerOwner is not { } limit) return null;
        var owned = jobs.Values.Where(j => j.Durable && j.Record.Owner == owner).Select(j => (j.Id, j.Record.Ended)).ToList();
        var ownedGroups = groups.Values.Where(g => g.Owner == owner).Select(g => (g.Id, g.Ended))
            .Concat(resolving.Where(p => p.Value.Submit.Owner == owner).Select(p => (p.Key, false)))
            .Concat(checkingSweeps.Where(p => p.Value.Submit.Owner == owner).Select(p => (p.Key, false))).ToList();
        long used = storage.Of(owned.Concat(ownedGroups));
        if (used + adding <= limit) return null;
        string limitText = $"{OwnerStorage.Text(limit)} (--max-stored-mb-per-owner)";
        string held = $"{OwnerStorage.Text(used)} in {Counted(owned.Count, "job")}" + (ownedGroups.Count > 0 ? $" and {Counted(ownedGroups.Count, "group")}" : "");
        const string remedy = "delete jobs it no longer needs (lstmcluster delete ID, or DELETE /jobs/{id} or /groups/{id}) and submit again";
        string reason = adding > limit
            ? $"the upload ({OwnerStorage.Text(adding)}) is larger than one owner's storage limit of {limitText}"
            : used >= limit
                ? $"'{owner}' stores {held}, which reaches its limit of {limitText}: {remedy}"
                : $"the upload ({OwnerStorage.Text(adding)}) and the {held} '{owner}' stores would be over its limit of {limitText}: {remedy}";
        return new JobRejected(reason, OverQuota: true);
    }

    private void OnSubmitJob(SubmitJob m)
    {
        // On a cluster a job that names no worker count takes every free worker when it starts (0 = all).
        int requested = m.Workers ?? (settings.FixedPool ? engine.Workers : 0);
        string label = JobBudget.Bounded(m.Options.Data.Path is { Length: > 0 } path ? Path.GetFileName(path) : "inline.csv");
        if ((QueueRefusal(1, "jobs", m.Owner) ?? StorageRefusal(m.Owner, UploadBytes(m.CsvText))) is { } full)
        {
            // Nothing is kept of it, not even an id: the client tries again later (429 with Retry-After), or deletes first.
            Sender.Tell(full);
            return;
        }
        if (SeriesSelection.IsMany(m.Options.Data.Symbol))
        {
            SubmitGroup(m, label);
            return;
        }
        var job = NewJob(new JobRecord
        {
            Id = $"job-{sequence + 1}", Sequence = sequence + 1, Priority = m.Priority, Workers = requested, Options = m.Options,
            Owner = m.Owner,
            Mode = m.Mode, Staleness = m.Staleness, SyncPeriod = m.SyncPeriod, Sampling = m.Sampling, Data = label, Target = m.Options.Data.Target,
            Epochs = m.Options.Training.Epochs, Submitted = DateTimeOffset.UtcNow,
        }, Sender, durable: true);
        if (Reject(job, () =>
            {
                m.Options.Validate();
                if (m.Options.Strategy == SeriesStrategy.Global)
                    throw new ArgumentException("strategy global applies to several series: give symbol all or a list (A,B,C)");
                if (m.Workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {m.Workers})");
                m.Apply(engine).Validate();
            })) return;
        if (m.CsvText is not null)
        {
            try
            {
                store.SaveUpload(job.Id, label, m.CsvText);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Rejected(job, $"could not store the uploaded data: {e.Message}");
                return;
            }
            job.Record = job.Record with { Upload = label };
        }
        Prepare(job);
    }

    private static string Counted(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n:N0} {noun}s";

    private static long UploadBytes(string? csv) => csv is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(csv);

    /// <summary>Loads the job's data off the actor (and a recovered job's checkpoint, unless a newer one is in memory).</summary>
    private void Prepare(RegisteredJob job) =>
        JobPreparation.Start(job.Record, store, loadCheckpoint: job.Record.Checkpoint is not null && job.Resume is null, Self);

    private void OnSubmitTraining(SubmitTraining m)
    {
        var job = NewJob(new JobRecord
        {
            Id = $"job-{sequence + 1}", Sequence = sequence + 1, Priority = m.Priority, Workers = m.Setup.Engine.Workers,
            Epochs = m.Setup.Options.Epochs, Submitted = DateTimeOffset.UtcNow,
        }, Sender, durable: false);
        job.Listener = m.Listener;
        var setup = m.Setup with { Job = job.Id };
        if (Reject(job, () =>
            {
                setup.Options.Validate();
                setup.Engine.Validate();
                _ = new BatchPlan(setup.Train.Count, job.Record.Workers, setup.Options.BatchSize, setup.Options.Seed);
            })) return;
        job.Setup = setup;
        Accept(job);
    }

    private RegisteredJob NewJob(JobRecord record, IActorRef submitter, bool durable)
    {
        sequence = record.Sequence;
        var job = new RegisteredJob(record, submitter) { Durable = durable };
        jobs[job.Id] = job;
        return job;
    }

    /// <summary>Runs a validation; on failure rejects the job with the reason and returns true.</summary>
    private bool Reject(RegisteredJob job, Action validate)
    {
        string? reason = null;
        if (settings.FixedPool && job.Record.Workers > pool.Total) reason = $"the job asks for {job.Record.Workers} workers but the pool has {pool.Total}";
        else
        {
            try
            {
                validate();
            }
            catch (Exception e) when (e is ArgumentException or DataException)
            {
                reason = e.Message;
            }
        }
        if (reason is null) return false;
        Rejected(job, reason);
        return true;
    }

    /// <summary>A job refused before it was accepted: the submitter hears why; nothing of it is kept (it was never journaled).</summary>
    private void Rejected(RegisteredJob job, string reason)
    {
        jobs.Remove(job.Id);
        queue.Remove(job);
        DeleteFiles(job.Id);
        if (job.Record.Group is not null)
        {
            SkipMember(job, reason);
            Schedule();
        }
        else job.Submitter.Tell(new JobRejected(JobBudget.Bounded(reason)));
    }

    private void OnPrepared(JobPreparation.Prepared m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Queued) return;
        job.Prepared = m.Data;
        job.Candidates = m.Candidates;
        if (m.Global is { } global)
        {
            job.Global = global;
            SkipSeries(job, global.Skipped);
        }
        if (m.Checkpoint is not null) job.Resume = m.Checkpoint;
        if (m.CheckpointProblem is { } problem) log.Warning("job {0}: {1}; it trains from the start", job.Id, problem);
        job.Setup = JobPreparation.Setup(job.Record, store, m.Data, engine);
        // A new submission over budget is refused; a recovered one was accepted under the budget of its day.
        if (!job.Recorded && settings.Budget.Check(job.Setup.Spec, m.Data, job.Setup.Options) is { } over)
        {
            Rejected(job, over);
            return;
        }
        Accept(job);
    }

    private void OnPrepareFailed(JobPreparation.PrepareFailed m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Queued) return;
        if (m.Skipped is { } skipped) SkipSeries(job, skipped);
        // A recovered job whose data no longer loads fails on the record; a new submission is simply refused.
        if (job.Recorded) Fail(job, m.Reason);
        else Rejected(job, m.Reason);
    }

    private void Accept(RegisteredJob job)
    {
        if (job.Recorded)
        {
            // Recovered from the journal: its submitter heard JobAccepted long ago, and it holds its place in the queue.
            if (!queue.Contains(job)) queue.Add(job);
            Schedule();
            return;
        }
        void Enqueue()
        {
            job.Recorded = true;
            job.Submitter.Tell(new JobAccepted(job.Id));
            // A group's member is in the queue already (see OnGroupResolved).
            if (!queue.Contains(job)) queue.Add(job);
            Schedule();
        }
        if (!job.Durable)
        {
            Enqueue();
            return;
        }
        // Accepted once journaled: a job the client was told about survives any restart.
        Persist(new JobSubmitted(job.Record), _ =>
        {
            Enqueue();
            AfterPersist();
        });
    }

    /// <summary>
    /// After every message, the jobs by state and the queue's length for <c>/metrics</c> (<see cref="Telemetry.ClusterMetrics"/>):
    /// an immutable snapshot the exporter reads from its own thread, never the registry itself. A few hundred jobs are
    /// counted in microseconds, and the coordinator handles a few messages a second.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        bool handled = base.AroundReceive(receive, message);
        var byState = new Dictionary<JobState, int>();
        foreach (var job in jobs.Values) byState[job.Record.State] = byState.GetValueOrDefault(job.Record.State) + 1;
        Telemetry.ClusterMetrics.PublishJobs(Self.Path.ToString(), byState, queue.Count);
        return handled;
    }

    protected override void PostStop()
    {
        Telemetry.ClusterMetrics.WithdrawJobs(Self.Path.ToString());
        store.DeleteIfTemporary();
        base.PostStop();
    }

    private sealed record ResumeRecovered(string[] Jobs, string[] CutOff);

    private sealed record RetentionTick
    {
        public static RetentionTick Instance { get; } = new();
        private RetentionTick() { }
    }
}
