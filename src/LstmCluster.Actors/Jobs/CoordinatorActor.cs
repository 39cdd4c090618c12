using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// How a coordinator finds its workers and parameter servers, and what it leaves behind for a finished job.
/// </summary>
public sealed record CoordinatorSettings
{
    public EngineOptions Engine { get; init; } = new();

    /// <summary>
    /// Workers the coordinator creates as its own children (the embedded engine); null means
    /// <see cref="EngineOptions.PoolSize"/>. 0 on a cluster: workers arrive as <see cref="WorkerAvailable"/>,
    /// a job then waits for enough of them instead of being rejected, and a job that names no worker count
    /// takes every free worker.
    /// </summary>
    public int? LocalWorkers { get; init; }

    /// <summary>Start parameter servers on a child <see cref="ParameterServerHost"/> (embedded); false waits for <see cref="ParameterServerHostAvailable"/>.</summary>
    public bool LocalParameterServers { get; init; } = true;

    /// <summary>Renders a finished job's files (<see cref="GetJobArtifacts"/>); null keeps none.</summary>
    public ArtifactWriter? Artifacts { get; init; }

    /// <summary>Written into metrics.json as the engine that trained.</summary>
    public string EngineLabel { get; init; } = "embedded-actors";

    /// <summary>
    /// A child that finds workers and parameter-server hosts and tells its parent (this coordinator)
    /// <see cref="WorkerAvailable"/> / <see cref="ParameterServerHostAvailable"/>: <c>Cluster.ClusterDiscovery</c> on a cluster.
    /// </summary>
    public Props? Discovery { get; init; }

    /// <summary>Finished jobs kept, with their files (the oldest are deleted first): <c>--keep-jobs</c>.</summary>
    public int History { get; init; } = 1000;

    /// <summary>Finished jobs older than this are deleted with their files (<c>--keep-days</c>); null keeps them by count only.</summary>
    public TimeSpan? KeepFor { get; init; }

    /// <summary>
    /// Where uploads and finished jobs' files live (<c>--state-dir</c>); null gives the coordinator a private temporary
    /// store, deleted when it stops (embedded runs, tests).
    /// </summary>
    public JobStore? Store { get; init; }

    /// <summary>The journal's id for this coordinator's job registry: one registry per journal.</summary>
    public string PersistenceId { get; init; } = "lstmcluster-coordinator";

    /// <summary>A running job's progress is journaled at most this often (the first epoch always).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A snapshot of the registry after this many events, so recovery reads one snapshot and a few events.</summary>
    public int SnapshotEvery { get; init; } = 200;

    /// <summary>A worker that joins while a job that takes every free worker runs is added to it at its next epoch (sync, local SGD).</summary>
    public bool ElasticJoin { get; init; } = true;

    /// <summary>Training runs a job gets when coordinator restarts cut them off; then it fails with the reason.</summary>
    public int MaxAttempts { get; init; } = 3;

    internal bool FixedPool => (LocalWorkers ?? Engine.PoolSize) > 0;
}

/// <summary>
/// Accepts, validates and queues jobs; runs at most <see cref="EngineOptions.MaxConcurrentJobs"/> at once on its
/// pool of workers, one parameter server per running job; tracks state and progress; cancels and deletes on request.
/// <para>
/// The job registry is event-sourced (Akka.Persistence): accepted jobs, starts, sparse progress and every end are
/// journaled (<see cref="IJobEvent"/>), with a snapshot every <see cref="CoordinatorSettings.SnapshotEvery"/> events;
/// uploads and finished jobs' files live in the <see cref="JobStore"/>. A coordinator that restarts (or a singleton
/// that moves to another node) recovers the registry: finished jobs keep serving their files, queued jobs stay
/// queued, and a job whose run was cut off is queued again for a new attempt (up to <see cref="CoordinatorSettings.MaxAttempts"/>).
/// Each attempt trains under its own run id, so anything an older run's parameter server still sends is dropped.
/// Jobs handed in by the embedded engine (<see cref="SubmitTraining"/>) live in memory only: their listener is in-process.
/// </para>
/// Loading data and the final evaluation run off the actor (<c>PipeTo(Self)</c>), so the mailbox keeps answering
/// status and cancel. A job whose workers are not free waits at the head of the queue.
/// </summary>
public sealed class CoordinatorActor : ReceivePersistentActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly CoordinatorSettings settings;
    private readonly EngineOptions engine;
    private readonly JobStore store;
    private readonly List<IActorRef> pool = [];
    private readonly HashSet<IActorRef> free = [];
    private readonly List<IActorRef> hosts = [];
    private readonly Dictionary<string, Job> jobs = [];
    private readonly Dictionary<string, Job> runs = [];
    private readonly List<Job> queue = [];
    private readonly Remoting.ChunkedSender wire;
    private int running;
    private long sequence;
    private int nextHost;
    private long fenced;

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
        wire = new Remoting.ChunkedSender(Context.System);

        Recover<SnapshotOffer>(OnSnapshotOffer);
        Recover<JobSubmitted>(e => Restore(e.Job));
        Recover<JobDeleted>(e => jobs.Remove(e.Job));
        Recover<IJobEvent>(e =>
        {
            if (JobOf(e) is { } id && jobs.TryGetValue(id, out var job)) job.Record = JobEvents.Apply(job.Record, e);
        });
        Recover<RecoveryCompleted>(_ => OnRecoveryCompleted());

        Command<ResumeRecovered>(OnResumeRecovered);
        Command<SubmitJob>(OnSubmitJob);
        Command<SubmitTraining>(OnSubmitTraining);
        Command<Prepared>(OnPrepared);
        Command<PrepareFailed>(OnPrepareFailed);
        Command<EpochProgress>(OnEpochProgress);
        Command<TrainingFinished>(OnTrainingFinished);
        Command<TrainingFailed>(OnTrainingFailed);
        Command<CheckpointTaken>(OnCheckpointTaken);
        Command<CheckpointStored>(OnCheckpointStored);
        Command<Evaluated>(OnEvaluated);
        Command<GetJobStatus>(OnGetJobStatus);
        Command<CancelJob>(m => OnCancelJob(m.Job));
        Command<DeleteJob>(OnDeleteJob);
        Command<GetCoordinatorState>(_ => Sender.Tell(new CoordinatorState(queue.Count, running, free.Count, pool.Count) { Fenced = fenced }));
        Command<ListJobs>(_ => Sender.Tell(new JobList([.. jobs.Values.OrderByDescending(j => j.Record.Sequence).Select(Status)])));
        Command<GetJobArtifacts>(OnGetJobArtifacts);
        Command<WorkerAvailable>(m => AddWorker(m.Worker));
        Command<ParameterServerHostAvailable>(m => AddHost(m.Host));
        Command<TrainingStarted>(OnTrainingStarted);
        Command<Terminated>(OnTerminated);
        Command<ServerGone>(OnServerGone);
        Command<RetentionTick>(_ => Retain());
        Command<SaveSnapshotSuccess>(m => DeleteSnapshots(new SnapshotSelectionCriteria(m.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(m => log.Warning("could not save a snapshot of the job registry: {0}", m.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => settings.PersistenceId;

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
        sequence = snapshot.Sequence;
        foreach (var record in snapshot.Jobs) Restore(record);
    }

    private void Restore(JobRecord record)
    {
        jobs[record.Id] = new Job(record, ActorRefs.Nobody) { Durable = true, Recorded = true };
        sequence = Math.Max(sequence, record.Sequence);
    }

    /// <summary>
    /// Nothing runs right after recovery: a run the journal calls Running was cut off, and a status query answered
    /// before <see cref="OnResumeRecovered"/> must not say otherwise. The rest is a command (it journals), and jobs
    /// submitted meanwhile are not among these.
    /// </summary>
    private void OnRecoveryCompleted()
    {
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
        var open = m.Jobs.Select(id => jobs.GetValueOrDefault(id)).OfType<Job>().Where(j => !j.Record.Ended).OrderBy(j => j.Record.Sequence).ToList();
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
    }

    // --- membership: workers and parameter-server hosts come and go ---

    private void AddWorker(IActorRef worker)
    {
        if (pool.Contains(worker)) return;
        Context.Watch(worker);
        pool.Add(worker);
        free.Add(worker);
        log.Info("worker {0} joined the pool ({1} workers)", worker.Path, pool.Count);
        Schedule();
        if (free.Contains(worker)) Grow(worker);
    }

    /// <summary>
    /// Elastic join: a free worker goes to a running job that takes every free worker (sync or local-SGD; the queue
    /// came first), whose parameter server deals it a shard at the next epoch boundary.
    /// </summary>
    private void Grow(IActorRef worker)
    {
        if (!settings.ElasticJoin || settings.FixedPool) return;
        var job = jobs.Values
            .Where(j => j.Record.State == JobState.Running && j.Record.Workers == 0 && j.Server is not null && j.RunId is not null
                && j.Setup?.Engine.Mode is not TrainingMode.Async)
            .OrderByDescending(j => j.Record.Priority).ThenBy(j => j.Record.Sequence).FirstOrDefault();
        if (job is null) return;
        free.Remove(worker);
        job.AssignedWorkers.Add(worker);
        wire.Tell(job.Server!, new JoinWorker(job.RunId!, worker), Self);
        log.Info("job {0}: worker {1} joins the running job", job.Id, worker.Path);
    }

    private void AddHost(IActorRef host)
    {
        if (hosts.Contains(host)) return;
        Context.Watch(host);
        hosts.Add(host);
        log.Info("parameter-server host {0} available ({1} hosts)", host.Path, hosts.Count);
        Schedule();
    }

    private void OnTerminated(Terminated m)
    {
        if (pool.Remove(m.ActorRef))
        {
            free.Remove(m.ActorRef);
            log.Warning("worker {0} left the pool ({1} workers)", m.ActorRef.Path, pool.Count);
            // A running job's parameter server watches its workers too and hands the shard to the others.
            return;
        }
        if (hosts.Remove(m.ActorRef))
        {
            log.Warning("parameter-server host {0} left ({1} hosts)", m.ActorRef.Path, hosts.Count);
            foreach (var job in jobs.Values.Where(j => j.Record.State == JobState.Running && m.ActorRef.Equals(j.Host)).ToList())
                ServerLost(job, "the parameter-server node left");
            Schedule();
            return;
        }
        foreach (var job in jobs.Values.Where(j => j.Record.State == JobState.Running && m.ActorRef.Equals(j.Server)))
        {
            // A server stops right after its last report, and across nodes the death notice can overtake that
            // report (it is reassembled from chunks): give the report time to arrive before failing the job.
            Timers.StartSingleTimer($"server-gone-{job.Id}", new ServerGone(job.Id, m.ActorRef), ServerGoneGrace);
        }
    }

    /// <summary>How long a job waits for its stopped parameter server's last report (a chunked transfer's timeout is 30 s).</summary>
    private static readonly TimeSpan ServerGoneGrace = TimeSpan.FromSeconds(35);

    private void OnServerGone(ServerGone m)
    {
        // Still running on that server: it stopped without reporting (its node shut down), and must not leave the job Running forever.
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Running || !m.Server.Equals(job.Server)) return;
        ServerLost(job, "the parameter server stopped");
        Schedule();
    }

    /// <summary>
    /// The running job's parameter server is gone without a result: a journaled job goes back to the head of the queue
    /// and resumes from its last checkpoint (or from the start) on any parameter-server node, up to
    /// <see cref="CoordinatorSettings.MaxAttempts"/> attempts; an in-memory job fails.
    /// </summary>
    private void ServerLost(Job job, string what)
    {
        int attempt = job.Record.Attempts;
        if (!job.Durable || attempt >= settings.MaxAttempts)
        {
            Fail(job, job.Durable ? $"{what} during attempt {attempt}, the last of {settings.MaxAttempts}" : $"{what} before the job ended");
            return;
        }
        Timers.Cancel($"server-gone-{job.Id}");
        FreeWorkers(job);
        string from = job.Resume is { } c ? $"resumes from its checkpoint at epoch {c.Epoch}, step {c.Step} (round {c.Version})" : "starts over (no checkpoint yet)";
        log.Warning("job {0}: {1} at round {2} during attempt {3}; attempt {4} {5}", job.Id, what, job.Record.Round, attempt, attempt + 1, from);
        Record(job, new JobRequeued(job.Id, $"{what} during attempt {attempt}: attempt {attempt + 1} {from}"));
        queue.Add(job);
    }

    /// <summary>
    /// A running job's checkpoint: the point its next attempt resumes from (at once, in memory), stored off the actor
    /// (file first, then the journal) so status and cancel never wait behind a disk. Checkpoints that arrive while one is
    /// being written are coalesced: only the newest is written next.
    /// </summary>
    private void OnCheckpointTaken(CheckpointTaken m)
    {
        if (RunOf(m.Job) is not { } job || !job.Durable) return;
        job.Resume = m.Checkpoint;
        if (job.CheckpointWriting) job.CheckpointPending = true;
        else WriteCheckpoint(job);
    }

    private void WriteCheckpoint(Job job)
    {
        var c = job.Resume!;
        job.CheckpointWriting = true;
        job.CheckpointPending = false;
        string id = job.Id;
        var files = store;
        Task.Run(() =>
        {
            byte[] file = CheckpointCodec.ToFile(c);
            files.SaveCheckpoint(id, file);
            return new CheckpointStored(id, new CheckpointRef(c.Epoch, c.Step, c.Version, CheckpointCodec.Checksum(file), DateTimeOffset.UtcNow), null);
        }).PipeTo(Self, failure: e => new CheckpointStored(id, null, e.GetBaseException().Message));
    }

    private void OnCheckpointStored(CheckpointStored m)
    {
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            // Deleted meanwhile: the write may have made its folder again.
            DeleteFiles(m.Job);
            return;
        }
        job.CheckpointWriting = false;
        if (job.Record.Ended)
        {
            DeleteCheckpoint(job.Id);
            return;
        }
        // The job goes on either way; after a failed write a lost server resumes from the previous checkpoint.
        if (m.Stored is { } stored) Record(job, new JobCheckpointed(job.Id, stored), async: true);
        else log.Warning("job {0}: could not store its checkpoint {1}: {2}", job.Id, JobStore.CheckpointName(job.Id), m.Problem);
        if (job.CheckpointPending) WriteCheckpoint(job);
    }

    // --- submission ---

    private void OnSubmitJob(SubmitJob m)
    {
        // On a cluster a job that names no worker count takes every free worker when it starts (0 = all).
        int requested = m.Workers ?? (settings.FixedPool ? engine.Workers : 0);
        string label = m.Options.Data.Path is { Length: > 0 } path ? Path.GetFileName(path) : "inline.csv";
        var job = NewJob(new JobRecord
        {
            Id = $"job-{sequence + 1}", Sequence = sequence + 1, Priority = m.Priority, Workers = requested, Options = m.Options,
            Owner = m.Owner,
            Mode = m.Mode, Staleness = m.Staleness, SyncPeriod = m.SyncPeriod, Data = label, Target = m.Options.Data.Target,
            Epochs = m.Options.Training.Epochs, Submitted = DateTimeOffset.UtcNow,
        }, Sender, durable: true);
        if (Reject(job, () =>
            {
                m.Options.Validate();
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

    /// <summary>Loads and windows the job's data off the actor; answers <see cref="Prepared"/> or <see cref="PrepareFailed"/>.</summary>
    private void Prepare(Job job)
    {
        var options = RunOptionsOf(job.Record);
        int workers = Math.Max(1, job.Record.Workers);
        string id = job.Id;
        string? upload = job.Record.Upload is { } u ? store.UploadPath(id, u) : null;
        string label = job.Record.Data ?? "data";
        bool resume = job.Record.Checkpoint is not null && job.Resume is null;
        var files = store;
        Task.Run(() =>
        {
            var data = ForecastRun.Prepare(options);
            _ = new BatchPlan(data.Train.Count, workers, options.Training.BatchSize, options.Training.Seed);
            var (checkpoint, problem) = resume ? LoadCheckpoint(files, id) : (null, null);
            return new Prepared(id, data, checkpoint, problem);
        }).PipeTo(Self, failure: e => new PrepareFailed(id, Reason(e, upload, label)));
    }

    /// <summary>A recovered job's stored checkpoint, or why it cannot be used (the job then trains from the start).</summary>
    private static (TrainingCheckpoint?, string?) LoadCheckpoint(JobStore files, string id)
    {
        string name = JobStore.CheckpointName(id);
        try
        {
            return files.ReadCheckpoint(id) is { } bytes ? (CheckpointCodec.FromFile(bytes, name), null) : (null, $"{name} is missing");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, e is InvalidDataException ? e.Message : $"{name} cannot be read: {e.Message}");
        }
    }

    /// <summary>The job's options with its data pointing at the stored upload (when it has one).</summary>
    private RunOptions RunOptionsOf(JobRecord record)
    {
        var options = record.Options ?? throw new InvalidOperationException($"job {record.Id} has no options");
        return record.Upload is { } name ? options with { Data = options.Data with { Path = store.UploadPath(record.Id, name) } } : options;
    }

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

    private Job NewJob(JobRecord record, IActorRef submitter, bool durable)
    {
        sequence = record.Sequence;
        var job = new Job(record, submitter) { Durable = durable };
        jobs[job.Id] = job;
        return job;
    }

    /// <summary>Runs a validation; on failure rejects the job with the reason and returns true.</summary>
    private bool Reject(Job job, Action validate)
    {
        string? reason = null;
        if (settings.FixedPool && job.Record.Workers > pool.Count) reason = $"the job asks for {job.Record.Workers} workers but the pool has {pool.Count}";
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
    private void Rejected(Job job, string reason)
    {
        jobs.Remove(job.Id);
        DeleteFiles(job.Id);
        job.Submitter.Tell(new JobRejected(reason));
    }

    private void OnPrepared(Prepared m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Queued) return;
        var options = RunOptionsOf(job.Record);
        job.Prepared = m.Data;
        if (m.Checkpoint is not null) job.Resume = m.Checkpoint;
        if (m.CheckpointProblem is { } problem) log.Warning("job {0}: {1}; it trains from the start", job.Id, problem);
        var jobEngine = new SubmitJob(options, null, 0, null, job.Record.Mode, job.Record.Staleness, job.Record.SyncPeriod).Apply(engine);
        job.Setup = new TrainingSetup(job.Id, options.Spec(m.Data.Series.Columns.Length), m.Data.Train, m.Data.Validation,
            options.Training, jobEngine with { Workers = Math.Max(1, job.Record.Workers) }, null);
        Accept(job);
    }

    private void OnPrepareFailed(PrepareFailed m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Queued) return;
        // A recovered job whose data no longer loads fails on the record; a new submission is simply refused.
        if (job.Recorded) Fail(job, m.Reason);
        else Rejected(job, m.Reason);
    }

    private void Accept(Job job)
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
            queue.Add(job);
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

    // --- scheduling ---

    private void Schedule()
    {
        while (running < engine.MaxConcurrentJobs && queue.Count > 0 && hosts.Count > 0)
        {
            var next = queue.OrderByDescending(j => j.Record.Priority).ThenBy(j => j.Record.Sequence).First();
            // A recovered job still loading its data keeps the jobs behind it waiting: order survives a restart.
            if (next.Setup is null || free.Count < Math.Max(1, next.Record.Workers)) return;
            queue.Remove(next);
            Run(next);
        }
    }

    private void Run(Job job)
    {
        var setup = job.Setup!;
        // "All free workers", bounded by what the plan allows (a worker per window, at least one window of batch each).
        int count = job.Record.Workers > 0 ? job.Record.Workers : Math.Min(free.Count, Math.Min(setup.Train.Count, setup.Options.BatchSize));
        var assigned = free.Take(count).ToList();
        foreach (var w in assigned) free.Remove(w);
        job.AssignedWorkers = assigned;
        running++;
        int attempt = job.Record.Attempts + 1;
        // Each attempt trains under its own run id: whatever an older attempt's parameter server still sends is fenced off.
        job.RunId = attempt == 1 ? job.Id : $"{job.Id}.{attempt}";
        runs[job.RunId] = job;
        var resume = job.Resume;
        Record(job, new JobStarted(job.Id, attempt, DateTimeOffset.UtcNow, assigned.Count, resume is null ? 0 : resume.Epoch - 1, resume?.Version ?? 0));
        var host = hosts[nextHost++ % hosts.Count];
        job.Host = host;
        // Only journaled jobs are resumed, so only they pay for checkpoints.
        var checkpoints = job.Durable ? setup.Engine.CheckpointEvery : null;
        job.Setup = setup with { Job = job.RunId, Engine = setup.Engine with { Workers = assigned.Count, CheckpointEvery = checkpoints }, Resume = resume };
        wire.Tell(host, new StartTraining(job.Setup, [.. assigned], Self), Self);
        log.Info("job {0} running on {1} workers, parameter server on {2} (attempt {3}{4})", job.Id, assigned.Count, host.Path.Address, attempt,
            resume is null ? "" : $", resumed at epoch {resume.Epoch} step {resume.Step}");
    }

    /// <summary>The job a training message's run id belongs to; messages of older runs are counted and dropped.</summary>
    private Job? RunOf(string runId)
    {
        if (runs.TryGetValue(runId, out var job) && job.Record.State == JobState.Running) return job;
        if (!runs.ContainsKey(runId) && !jobs.ContainsKey(runId))
        {
            fenced++;
            log.Debug("dropped a message of run {0}, which is not running here (an older attempt or another coordinator's)", runId);
        }
        return null;
    }

    private void OnTrainingStarted(TrainingStarted m)
    {
        var job = RunOf(m.Job);
        if (job is null)
        {
            // Cancelled before the server was up, or a run this coordinator does not know.
            Sender.Tell(new StopTraining(m.Job));
            return;
        }
        job.Server = m.Server;
        Context.Watch(m.Server);
        // Workers that joined while its server was starting.
        foreach (var w in free.ToList()) Grow(w);
    }

    private void FreeWorkers(Job job)
    {
        // Only workers still in the pool: one that left while the job ran is gone for good.
        foreach (var w in job.AssignedWorkers.Where(pool.Contains)) free.Add(w);
        job.AssignedWorkers = [];
        if (job.Server is { } server) Context.Unwatch(server);
        job.Server = null;
        job.Host = null;
        if (job.RunId is { } run) runs.Remove(run);
        running--;
    }

    // --- training events ---

    private void OnEpochProgress(EpochProgress m)
    {
        if (RunOf(m.Job) is not { } job) return;
        var r = m.Report;
        var progress = new JobProgressed(job.Id, r.Epoch, r.Epochs, r.TrainLoss, r.ValidationLoss, m.Version, r.SamplesPerSecond, m.Workers);
        job.Listener?.Tell(m);
        var now = DateTimeOffset.UtcNow;
        if (job.Durable && (job.ProgressJournaled is null || now - job.ProgressJournaled >= settings.ProgressInterval))
        {
            job.ProgressJournaled = now;
            Record(job, progress);
        }
        else
        {
            job.Record = JobEvents.Apply(job.Record, progress);
        }
    }

    private void OnTrainingFinished(TrainingFinished m)
    {
        if (RunOf(m.Job) is not { } job) return;
        job.Record = job.Record with { Round = m.Version };
        FreeWorkers(job);
        Schedule();
        if (job.Listener is not null)
        {
            job.Listener.Tell(m);
            Complete(job, new JobSucceeded(job.Id, DateTimeOffset.UtcNow, Progress(job), [], [], double.NaN, null, double.NaN));
            return;
        }
        // Evaluation and forecast with Core's pipeline: a trainer that hands back the finished result.
        var options = RunOptionsOf(job.Record);
        var labelled = job.Record.Options!;
        var data = job.Prepared!;
        var result = m.ToResult();
        string id = job.Id;
        var artifacts = settings.Artifacts;
        string engineLabel = settings.EngineLabel;
        var files = store;
        Task.Run(() =>
            {
                var run = ForecastRun.Execute(options, data, (model, _, _, _, _) =>
                {
                    ParameterVector.Load(model, result.BestWeights);
                    return result;
                }, null, CancellationToken.None);
                // Label the files with the name the user gave, not the stored upload's path; on disk before the success is journaled.
                if (artifacts?.Invoke(labelled, run, engineLabel) is { } written) files.SaveFiles(id, written);
                return new Evaluated(id, run, null);
            })
            .PipeTo(Self, failure: e => new Evaluated(id, null, Reason(e, null, null)));
    }

    private void OnTrainingFailed(TrainingFailed m)
    {
        if (RunOf(m.Job) is not { } job) return;
        Fail(job, m.Reason);
        Schedule();
    }

    private void OnEvaluated(Evaluated m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.Record.State != JobState.Running) return;
        if (m.Result is { } r)
        {
            string? baseline = r.Test.Baselines.Count > 0 ? r.Test.BestBaseline : null;
            Complete(job, new JobSucceeded(job.Id, DateTimeOffset.UtcNow, Progress(job),
                [.. r.Forecast.Select(p => p.Value)], [.. r.Forecast.Select(p => p.Time)], r.Test.Model.Mase, baseline,
                baseline is null ? double.NaN : r.Test.Baselines[baseline].Mase));
        }
        else
        {
            Complete(job, new JobFailed(job.Id, DateTimeOffset.UtcNow, m.Reason ?? "evaluation failed"));
        }
    }

    private static JobProgressed Progress(Job job) => new(job.Id, job.Record.Epoch, job.Record.Epochs, job.Record.TrainLoss,
        job.Record.ValidationLoss, job.Record.Round, job.Record.SamplesPerSecond, job.Record.ActiveWorkers);

    /// <summary>Ends a running job that failed: frees its workers, tells its listener, journals why.</summary>
    private void Fail(Job job, string reason)
    {
        if (job.Record.State == JobState.Running)
        {
            FreeWorkers(job);
            job.Listener?.Tell(new TrainingFailed(job.Id, reason));
        }
        queue.Remove(job);
        Complete(job, new JobFailed(job.Id, DateTimeOffset.UtcNow, reason));
    }

    /// <summary>Journals how the job ended, then tells whoever waits for it.</summary>
    private void Complete(Job job, IJobEvent end, Action? after = null)
    {
        // Finished jobs stay answerable, but without their windows and data.
        job.Prepared = null;
        job.Setup = null;
        job.Resume = null;
        Record(job, end, () =>
        {
            if (job.Durable) DeleteCheckpoint(job.Id);
            var status = Status(job);
            // An Ask (the HTTP API) has had its answer (JobAccepted) and its temporary actor is gone: no dead letter per job.
            if (!IsTemporary(job.Submitter) && !job.Submitter.IsNobody()) job.Submitter.Tell(status);
            if (job.Listener is not null && !job.Listener.Equals(job.Submitter)) job.Listener.Tell(status);
            after?.Invoke();
            Retain();
        });
    }

    // --- journal ---

    /// <summary>
    /// Applies an event to the job's record now (the scheduler acts on it at once) and journals it; <paramref name="then"/>
    /// runs once it is stored (commands wait meanwhile), so no reply ever gets ahead of the journal.
    /// </summary>
    /// <remarks><paramref name="async"/>: commands go on while it is stored (PersistAsync), for events nobody waits on.</remarks>
    private void Record(Job job, IJobEvent e, Action? then = null, bool async = false)
    {
        job.Record = JobEvents.Apply(job.Record, e);
        if (!job.Durable || !job.Recorded)
        {
            then?.Invoke();
            return;
        }
        void Stored(IJobEvent _)
        {
            then?.Invoke();
            AfterPersist();
        }
        if (async) PersistAsync(e, Stored);
        else Persist(e, Stored);
    }

    private void AfterPersist()
    {
        if (settings.SnapshotEvery > 0 && LastSequenceNr % settings.SnapshotEvery == 0)
            SaveSnapshot(new RegistrySnapshot(sequence, [.. jobs.Values.Where(j => j.Durable && j.Recorded).Select(j => j.Record)]));
    }

    private static string? JobOf(IJobEvent e) => e switch
    {
        JobSubmitted s => s.Job.Id,
        JobStarted s => s.Job,
        JobProgressed p => p.Job,
        JobRequeued r => r.Job,
        JobSucceeded s => s.Job,
        JobFailed f => f.Job,
        JobCancelled c => c.Job,
        JobDeleted d => d.Job,
        JobCheckpointed c => c.Job,
        _ => null,
    };

    /// <summary>Keeps the history bounded by count and age: the oldest finished jobs are deleted with their files.</summary>
    private void Retain()
    {
        var ended = jobs.Values.Where(j => j.Record.Ended).OrderBy(j => j.Record.Sequence).ToList();
        int excess = jobs.Count - settings.History;
        var cutoff = settings.KeepFor is { } keep ? DateTimeOffset.UtcNow - keep : DateTimeOffset.MinValue;
        foreach (var old in ended.Where((j, i) => i < excess || j.Record.Finished < cutoff).ToList()) Remove(old);
    }

    private void Remove(Job job)
    {
        jobs.Remove(job.Id);
        DeleteFiles(job.Id);
        if (job.Durable && job.Recorded) Persist(new JobDeleted(job.Id), _ => AfterPersist());
    }

    private void DeleteCheckpoint(string id)
    {
        try
        {
            store.DeleteCheckpoint(id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("could not delete the checkpoint of {0}: {1}", id, e.Message);
        }
    }

    private void DeleteFiles(string id)
    {
        try
        {
            store.Delete(id);
        }
        catch (IOException e)
        {
            log.Warning("could not delete the files of {0}: {1}", id, e.Message);
        }
    }

    // --- queries, cancel and delete ---

    private void OnGetJobStatus(GetJobStatus m)
    {
        if (jobs.TryGetValue(m.Job, out var job)) Sender.Tell(Status(job));
        else Sender.Tell(new UnknownJob(m.Job));
    }

    private void OnCancelJob(string id)
    {
        if (!jobs.TryGetValue(id, out var job))
        {
            Sender.Tell(new UnknownJob(id));
            return;
        }
        if (job.Record.Ended)
        {
            Sender.Tell(Status(job));
            return;
        }
        queue.Remove(job);
        if (job.Record.State == JobState.Running)
        {
            // Stopping the server releases its workers' shards (PostStop); the workers are free again at once.
            // A late TrainingStarted (server not up yet) is answered with a stop too.
            if (job.Host is { } host && job.RunId is { } run) host.Tell(new StopTraining(run));
            FreeWorkers(job);
        }
        var sender = Sender;
        Complete(job, new JobCancelled(job.Id, DateTimeOffset.UtcNow, "cancelled on request"), () => sender.Tell(Status(job)));
        Schedule();
    }

    /// <summary>A queued or running job is cancelled; a finished one is deleted with its files.</summary>
    private void OnDeleteJob(DeleteJob m)
    {
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            Sender.Tell(new UnknownJob(m.Job));
            return;
        }
        if (!job.Record.Ended)
        {
            OnCancelJob(m.Job);
            return;
        }
        Remove(job);
        Sender.Tell(new JobRemoved(job.Id));
    }

    private void OnGetJobArtifacts(GetJobArtifacts m)
    {
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            Sender.Tell(new UnknownJob(m.Job));
            return;
        }
        IReadOnlyDictionary<string, byte[]> files = new Dictionary<string, byte[]>();
        if (job.Record.State == JobState.Succeeded)
        {
            try
            {
                files = store.ReadFiles(job.Id);
            }
            catch (IOException e)
            {
                log.Warning("could not read the files of {0}: {1}", job.Id, e.Message);
            }
        }
        // Files (model, plots) can outgrow one frame: through the chunked path.
        wire.Tell(Sender, new JobArtifacts(job.Id, job.Record.State, files), Self);
    }

    private static JobStatus Status(Job job)
    {
        var r = job.Record;
        return new JobStatus(r.Id, r.State, r.Epoch, r.Epochs, r.TrainLoss, r.ValidationLoss, r.Reason, r.Forecast,
            r.TestMase, r.BestBaseline, r.BestBaselineMase)
        {
            Round = r.Round,
            SamplesPerSecond = r.SamplesPerSecond,
            Workers = r.ActiveWorkers,
            Data = r.Data,
            Target = r.Target,
            ForecastTimes = r.ForecastTimes,
            Submitted = r.Submitted,
            Started = r.Started,
            Finished = r.Finished,
            Attempts = r.Attempts,
            ResumedFrom = r.ResumedFrom,
            Owner = r.Owner,
        };
    }

    private static bool IsTemporary(IActorRef actor) => actor.Path.Elements.FirstOrDefault() == "temp";

    /// <summary>The reason to show a user: data errors name the file as the client sent it, never the server's copy.</summary>
    private static string Reason(Exception e, string? storedPath, string? label)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        if (e is DataException d && storedPath is not null && label is not null && d.File == storedPath)
            return d.Line is { } line ? $"{label}:{line}: {d.Problem}" : $"{label}: {d.Problem}";
        return e.Message;
    }

    protected override void PostStop()
    {
        store.DeleteIfTemporary();
        base.PostStop();
    }

    private sealed class Job(JobRecord record, IActorRef submitter)
    {
        public string Id { get; } = record.Id;
        public JobRecord Record { get; set; } = record;
        /// <summary>Journaled (a job from <see cref="SubmitJob"/>); embedded <see cref="SubmitTraining"/> jobs are not.</summary>
        public bool Durable { get; init; }
        /// <summary>Its <see cref="JobSubmitted"/> is in the journal (or it is an in-memory job that was accepted).</summary>
        public bool Recorded { get; set; }
        public IActorRef Submitter { get; } = submitter;
        public IActorRef? Listener { get; set; }
        public PreparedData? Prepared { get; set; }
        public TrainingSetup? Setup { get; set; }
        public string? RunId { get; set; }
        public IActorRef? Host { get; set; }
        public IActorRef? Server { get; set; }
        public List<IActorRef> AssignedWorkers { get; set; } = [];
        public DateTimeOffset? ProgressJournaled { get; set; }
        /// <summary>The checkpoint the next attempt resumes from (the last one stored), once there is one.</summary>
        public TrainingCheckpoint? Resume { get; set; }
        /// <summary>A checkpoint is being written; <see cref="CheckpointPending"/>: a newer one waits in <see cref="Resume"/>.</summary>
        public bool CheckpointWriting { get; set; }
        public bool CheckpointPending { get; set; }
    }

    // In-process completions of work done off the actor; they never leave this node.
    private sealed record Prepared(string Job, PreparedData Data, TrainingCheckpoint? Checkpoint, string? CheckpointProblem)
        : INoSerializationVerificationNeeded;

    private sealed record PrepareFailed(string Job, string Reason);

    private sealed record CheckpointStored(string Job, CheckpointRef? Stored, string? Problem) : INoSerializationVerificationNeeded;

    private sealed record ServerGone(string Job, IActorRef Server) : INoSerializationVerificationNeeded;

    private sealed record Evaluated(string Job, RunResult? Result, string? Reason) : INoSerializationVerificationNeeded;

    private sealed record ResumeRecovered(string[] Jobs, string[] CutOff);

    private sealed record RetentionTick
    {
        public static RetentionTick Instance { get; } = new();
        private RetentionTick() { }
    }
}
