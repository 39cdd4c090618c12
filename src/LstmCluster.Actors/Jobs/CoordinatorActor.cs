using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
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

    /// <summary>Finished jobs kept for status queries (oldest forgotten first).</summary>
    public int History { get; init; } = 1000;

    internal bool FixedPool => (LocalWorkers ?? Engine.PoolSize) > 0;
}

/// <summary>
/// Accepts, validates and queues jobs; runs at most <see cref="EngineOptions.MaxConcurrentJobs"/> at once on its
/// pool of workers, one parameter server per running job; tracks state and progress; cancels on request.
/// Loading data and the final evaluation run off the actor (<c>PipeTo(Self)</c>), so the mailbox
/// keeps answering status and cancel. A job whose workers are not free waits at the head of the queue.
/// The pool is either its own children (embedded) or the workers cluster discovery reports
/// (<see cref="WorkerAvailable"/>); a worker that stops leaves the pool, and the running job's
/// parameter server hands its shard to the others.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly CoordinatorSettings settings;
    private readonly EngineOptions engine;
    private readonly List<IActorRef> pool = [];
    private readonly HashSet<IActorRef> free = [];
    private readonly List<IActorRef> hosts = [];
    private readonly Dictionary<string, Job> jobs = [];
    private readonly List<Job> queue = [];
    private readonly Remoting.ChunkedSender wire;
    private int running;
    private long sequence;
    private int nextHost;

    public CoordinatorActor(EngineOptions engine)
        : this(new CoordinatorSettings { Engine = engine })
    {
    }

    public CoordinatorActor(CoordinatorSettings settings)
    {
        settings.Engine.Validate();
        this.settings = settings;
        engine = settings.Engine;
        wire = new Remoting.ChunkedSender(Context.System);
        Receive<SubmitJob>(OnSubmitJob);
        Receive<SubmitTraining>(OnSubmitTraining);
        Receive<Prepared>(OnPrepared);
        Receive<PrepareFailed>(OnPrepareFailed);
        Receive<EpochProgress>(OnEpochProgress);
        Receive<TrainingFinished>(OnTrainingFinished);
        Receive<TrainingFailed>(OnTrainingFailed);
        Receive<Evaluated>(OnEvaluated);
        Receive<GetJobStatus>(OnGetJobStatus);
        Receive<CancelJob>(OnCancelJob);
        Receive<GetCoordinatorState>(_ => Sender.Tell(new CoordinatorState(queue.Count, running, free.Count, pool.Count)));
        Receive<ListJobs>(_ => Sender.Tell(new JobList([.. jobs.Values.OrderByDescending(j => j.Sequence).Select(Status)])));
        Receive<GetJobArtifacts>(OnGetJobArtifacts);
        Receive<WorkerAvailable>(m => AddWorker(m.Worker));
        Receive<ParameterServerHostAvailable>(m => AddHost(m.Host));
        Receive<TrainingStarted>(OnTrainingStarted);
        Receive<Terminated>(OnTerminated);
        Receive<ServerGone>(OnServerGone);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EngineOptions engine) => Akka.Actor.Props.Create(() => new CoordinatorActor(engine));

    public static Props Props(CoordinatorSettings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(settings));

    protected override void PreStart()
    {
        int local = settings.LocalWorkers ?? engine.PoolSize;
        for (int i = 0; i < local; i++) AddWorker(Context.ActorOf(WorkerActor.Props(engine.TorchThreads), $"worker-{i}"));
        if (settings.LocalParameterServers) AddHost(Context.ActorOf(ParameterServerHost.Props(), ParameterServerHost.Name));
        if (settings.Discovery is { } discovery) Context.ActorOf(discovery, "discovery");
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
            foreach (var job in jobs.Values.Where(j => j.State == JobState.Running && m.ActorRef.Equals(j.Host)).ToList())
            {
                FreeWorkers(job);
                job.Listener?.Tell(new TrainingFailed(job.Id, "the parameter-server node left during training"));
                Complete(job, JobState.Failed, "the parameter-server node left during training");
            }
            Schedule();
            return;
        }
        foreach (var job in jobs.Values.Where(j => j.State == JobState.Running && m.ActorRef.Equals(j.Server)))
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
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running || !m.Server.Equals(job.Server)) return;
        FreeWorkers(job);
        job.Listener?.Tell(new TrainingFailed(job.Id, "the parameter server stopped"));
        Complete(job, JobState.Failed, "the parameter server stopped before the job ended");
        Schedule();
    }

    // --- submission ---

    private void OnSubmitJob(SubmitJob m)
    {
        // On a cluster a job that names no worker count takes every free worker when it starts (0 = all).
        int requested = m.Workers ?? (settings.FixedPool ? engine.Workers : 0);
        var job = NewJob(m.Priority, requested, Sender);
        job.Data = m.Options.Data.Path is { Length: > 0 } label ? Path.GetFileName(label) : "inline.csv";
        job.Target = m.Options.Data.Target;
        if (Reject(job, () =>
            {
                m.Options.Validate();
                if (m.Workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {m.Workers})");
                m.Apply(engine).Validate();
            })) return;
        job.Engine = m.Apply(engine);
        job.Forecast = m.Options;
        string? temp = null;
        if (m.CsvText is not null)
        {
            // Core loads files: inline text goes to a private temp file named like the label, so messages name it.
            string dir = Path.Combine(Path.GetTempPath(), "lstmcluster-jobs", $"{job.Id}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir);
            string name = string.IsNullOrWhiteSpace(m.Options.Data.Path) ? "inline.csv" : Path.GetFileName(m.Options.Data.Path);
            temp = Path.Combine(dir, name);
            try
            {
                File.WriteAllText(temp, m.CsvText);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                job.TempDirectory = dir;
                Rejected(job, $"could not store the uploaded data: {e.Message}");
                return;
            }
            job.Forecast = m.Options with { Data = m.Options.Data with { Path = temp } };
            job.TempDirectory = dir;
        }
        var options = job.Forecast;
        int workers = Math.Max(1, job.Workers);
        string id = job.Id;
        Task.Run(() =>
        {
            var data = ForecastRun.Prepare(options);
            _ = new BatchPlan(data.Train.Count, workers, options.Training.BatchSize, options.Training.Seed);
            return data;
        }).PipeTo(Self, success: data => new Prepared(id, data), failure: e => new PrepareFailed(id, Reason(e)));
    }

    private void OnSubmitTraining(SubmitTraining m)
    {
        var job = NewJob(m.Priority, m.Setup.Engine.Workers, Sender);
        job.Listener = m.Listener;
        var setup = m.Setup with { Job = job.Id };
        if (Reject(job, () =>
            {
                setup.Options.Validate();
                setup.Engine.Validate();
                _ = new BatchPlan(setup.Train.Count, job.Workers, setup.Options.BatchSize, setup.Options.Seed);
            })) return;
        job.Setup = setup;
        Accept(job);
    }

    private Job NewJob(int priority, int workers, IActorRef submitter)
    {
        var job = new Job($"job-{++sequence}", priority, sequence, workers, submitter) { Submitted = DateTimeOffset.UtcNow };
        jobs[job.Id] = job;
        Forget();
        return job;
    }

    /// <summary>Keeps the history bounded: the oldest finished jobs are forgotten first.</summary>
    private void Forget()
    {
        int excess = jobs.Count - settings.History;
        if (excess <= 0) return;
        foreach (var old in jobs.Values.Where(j => j.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
                     .OrderBy(j => j.Sequence).Take(excess).ToList())
            jobs.Remove(old.Id);
    }

    /// <summary>Runs a validation; on failure rejects the job with the reason and returns true.</summary>
    private bool Reject(Job job, Action validate)
    {
        string? reason = null;
        if (settings.FixedPool && job.Workers > pool.Count) reason = $"the job asks for {job.Workers} workers but the pool has {pool.Count}";
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

    private void Rejected(Job job, string reason)
    {
        job.State = JobState.Failed;
        job.Reason = reason;
        job.Submitter.Tell(new JobRejected(reason));
        CleanUp(job);
    }

    private void OnPrepared(Prepared m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Queued) return;
        var options = job.Forecast!;
        job.Prepared = m.Data;
        job.Setup = new TrainingSetup(job.Id, options.Spec(m.Data.Series.Columns.Length), m.Data.Train, m.Data.Validation,
            options.Training, (job.Engine ?? engine) with { Workers = Math.Max(1, job.Workers) }, null);
        Accept(job);
    }

    private void OnPrepareFailed(PrepareFailed m)
    {
        if (jobs.TryGetValue(m.Job, out var job) && job.State == JobState.Queued) Rejected(job, m.Reason);
    }

    private void Accept(Job job)
    {
        job.Submitter.Tell(new JobAccepted(job.Id));
        queue.Add(job);
        Schedule();
    }

    // --- scheduling ---

    private void Schedule()
    {
        while (running < engine.MaxConcurrentJobs && queue.Count > 0 && hosts.Count > 0)
        {
            var next = queue.OrderByDescending(j => j.Priority).ThenBy(j => j.Sequence).First();
            if (free.Count < Math.Max(1, next.Workers)) return;
            queue.Remove(next);
            Run(next);
        }
    }

    private void Run(Job job)
    {
        var setup = job.Setup!;
        // "All free workers", bounded by what the plan allows (a worker per window, at least one window of batch each).
        int count = job.Workers > 0 ? job.Workers : Math.Min(free.Count, Math.Min(setup.Train.Count, setup.Options.BatchSize));
        var assigned = free.Take(count).ToList();
        foreach (var w in assigned) free.Remove(w);
        job.AssignedWorkers = assigned;
        job.State = JobState.Running;
        job.Started = DateTimeOffset.UtcNow;
        job.ActiveWorkers = assigned.Count;
        running++;
        var host = hosts[nextHost++ % hosts.Count];
        job.Host = host;
        job.Setup = setup with { Engine = setup.Engine with { Workers = assigned.Count } };
        wire.Tell(host, new StartTraining(job.Setup, [.. assigned], Self), Self);
        log.Info("job {0} running on {1} workers, parameter server on {2}", job.Id, assigned.Count, host.Path.Address);
    }

    private void OnTrainingStarted(TrainingStarted m)
    {
        if (!jobs.TryGetValue(m.Job, out var job)) return;
        if (job.State != JobState.Running)
        {
            // Cancelled before the server was up.
            Sender.Tell(new StopTraining(m.Job));
            return;
        }
        job.Server = m.Server;
        Context.Watch(m.Server);
    }

    private void FreeWorkers(Job job)
    {
        // Only workers still in the pool: one that left while the job ran is gone for good.
        foreach (var w in job.AssignedWorkers.Where(pool.Contains)) free.Add(w);
        job.AssignedWorkers = [];
        if (job.Server is { } server) Context.Unwatch(server);
        job.Server = null;
        job.Host = null;
        // ActiveWorkers stays: a finished job shows the workers it trained on last.
        running--;
    }

    // --- training events ---

    private void OnEpochProgress(EpochProgress m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running) return;
        job.Last = m.Report;
        job.Round = m.Version;
        if (m.Workers > 0) job.ActiveWorkers = m.Workers;
        job.Listener?.Tell(m);
    }

    private void OnTrainingFinished(TrainingFinished m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running) return;
        job.Round = m.Version;
        FreeWorkers(job);
        Schedule();
        if (job.Listener is not null)
        {
            job.Listener.Tell(m);
            Complete(job, JobState.Succeeded, null);
            return;
        }
        // Evaluation and forecast with Core's pipeline: a trainer that hands back the finished result.
        var options = job.Forecast!;
        var data = job.Prepared!;
        var result = m.ToResult();
        string id = job.Id;
        var artifacts = settings.Artifacts;
        string engineLabel = settings.EngineLabel;
        Task.Run(() =>
            {
                var run = ForecastRun.Execute(options, data, (model, _, _, _, _) =>
                {
                    ParameterVector.Load(model, result.BestWeights);
                    return result;
                }, null, CancellationToken.None);
                // Label the files with the name the user gave, not the private temp file inline data went to.
                var files = artifacts?.Invoke(options, run, engineLabel);
                return new Evaluated(id, run, null, files);
            })
            .PipeTo(Self, failure: e => new Evaluated(id, null, Reason(e), null));
    }

    private void OnTrainingFailed(TrainingFailed m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running) return;
        FreeWorkers(job);
        job.Listener?.Tell(m);
        Complete(job, JobState.Failed, m.Reason);
        Schedule();
    }

    private void OnEvaluated(Evaluated m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running) return;
        if (m.Result is { } r)
        {
            string? baseline = r.Test.Baselines.Count > 0 ? r.Test.BestBaseline : null;
            job.Outcome = new Outcome([.. r.Forecast.Select(p => p.Value)], [.. r.Forecast.Select(p => p.Time)], r.Test.Model.Mase, baseline,
                baseline is null ? double.NaN : r.Test.Baselines[baseline].Mase);
            job.Files = m.Files;
            Complete(job, JobState.Succeeded, null);
        }
        else
        {
            Complete(job, JobState.Failed, m.Reason);
        }
    }

    private void Complete(Job job, JobState state, string? reason)
    {
        job.State = state;
        job.Reason = reason;
        job.Finished = DateTimeOffset.UtcNow;
        // Finished jobs stay answerable, but without their windows and data.
        job.Prepared = null;
        job.Epochs = job.Setup?.Options.Epochs ?? job.Forecast?.Training.Epochs ?? 0;
        job.Setup = null;
        var status = Status(job);
        // An Ask (the HTTP API) has had its answer (JobAccepted) and its temporary actor is gone: no dead letter per job.
        if (!IsTemporary(job.Submitter)) job.Submitter.Tell(status);
        if (job.Listener is not null && !job.Listener.Equals(job.Submitter)) job.Listener.Tell(status);
        CleanUp(job);
    }

    private static void CleanUp(Job job)
    {
        if (job.TempDirectory is null) return;
        try
        {
            Directory.Delete(job.TempDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temp file left behind is harmless; the job's outcome is what matters.
        }
        job.TempDirectory = null;
    }

    // --- queries and cancel ---

    private void OnGetJobStatus(GetJobStatus m)
    {
        if (jobs.TryGetValue(m.Job, out var job)) Sender.Tell(Status(job));
        else Sender.Tell(new UnknownJob(m.Job));
    }

    private void OnCancelJob(CancelJob m)
    {
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            Sender.Tell(new UnknownJob(m.Job));
            return;
        }
        if (job.State is JobState.Queued or JobState.Running)
        {
            queue.Remove(job);
            if (job.State == JobState.Running)
            {
                // Stopping the server releases its workers' shards (PostStop); the workers are free again at once.
                // A late TrainingStarted (server not up yet) is answered with a stop too.
                if (job.Host is { } host) host.Tell(new StopTraining(job.Id));
                FreeWorkers(job);
            }
            Complete(job, JobState.Cancelled, "cancelled on request");
            Schedule();
        }
        Sender.Tell(Status(job));
    }

    private void OnGetJobArtifacts(GetJobArtifacts m)
    {
        if (!jobs.TryGetValue(m.Job, out var job)) Sender.Tell(new UnknownJob(m.Job));
        // Files (model, plots) can outgrow one frame: through the chunked path.
        else wire.Tell(Sender, new JobArtifacts(job.Id, job.State, job.Files ?? new Dictionary<string, byte[]>()), Self);
    }

    private static JobStatus Status(Job job)
    {
        var last = job.Last;
        var outcome = job.Outcome;
        int epochs = last?.Epochs ?? job.Setup?.Options.Epochs ?? job.Forecast?.Training.Epochs ?? job.Epochs;
        return new JobStatus(job.Id, job.State, last?.Epoch ?? 0, epochs,
            last?.TrainLoss ?? double.NaN, last?.ValidationLoss ?? double.NaN, job.Reason, outcome?.Forecast,
            outcome?.TestMase ?? double.NaN, outcome?.BestBaseline, outcome?.BestBaselineMase ?? double.NaN)
        {
            Round = job.Round,
            SamplesPerSecond = last?.SamplesPerSecond ?? 0,
            Workers = job.ActiveWorkers,
            Data = job.Data,
            Target = job.Target,
            ForecastTimes = outcome?.Times,
            Submitted = job.Submitted,
            Started = job.Started,
            Finished = job.Finished,
        };
    }

    private static bool IsTemporary(IActorRef actor) => actor.Path.Elements.FirstOrDefault() == "temp";

    private static string Reason(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        return e.Message;
    }

    protected override void PostStop()
    {
        foreach (var job in jobs.Values) CleanUp(job);
        base.PostStop();
    }

    private sealed class Job(string id, int priority, long sequence, int workers, IActorRef submitter)
    {
        public string Id { get; } = id;
        public int Priority { get; } = priority;
        public long Sequence { get; } = sequence;
        public int Workers { get; } = workers;
        public IActorRef Submitter { get; } = submitter;
        public IActorRef? Listener { get; set; }
        public JobState State { get; set; } = JobState.Queued;
        public string? Reason { get; set; }
        public RunOptions? Forecast { get; set; }
        public EngineOptions? Engine { get; set; }
        public PreparedData? Prepared { get; set; }
        public string? Data { get; set; }
        public string? Target { get; set; }
        public int Epochs { get; set; }
        public long Round { get; set; }
        public int ActiveWorkers { get; set; }
        public IActorRef? Host { get; set; }
        public IReadOnlyDictionary<string, byte[]>? Files { get; set; }
        public DateTimeOffset? Submitted { get; set; }
        public DateTimeOffset? Started { get; set; }
        public DateTimeOffset? Finished { get; set; }
        public TrainingSetup? Setup { get; set; }
        public string? TempDirectory { get; set; }
        public IActorRef? Server { get; set; }
        public List<IActorRef> AssignedWorkers { get; set; } = [];
        public EpochReport? Last { get; set; }
        public Outcome? Outcome { get; set; }
    }

    private sealed record Outcome(double[] Forecast, string[] Times, double TestMase, string? BestBaseline, double BestBaselineMase);

    // In-process completions of work done off the actor; they never leave this node.
    private sealed record Prepared(string Job, PreparedData Data) : INoSerializationVerificationNeeded;

    private sealed record PrepareFailed(string Job, string Reason);

    private sealed record ServerGone(string Job, IActorRef Server) : INoSerializationVerificationNeeded;

    private sealed record Evaluated(string Job, RunResult? Result, string? Reason, IReadOnlyDictionary<string, byte[]>? Files)
        : INoSerializationVerificationNeeded;
}
