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
/// Accepts, validates and queues jobs; runs at most <see cref="EngineOptions.MaxConcurrentJobs"/> at once on its
/// pool of workers, one parameter server per running job; tracks state and progress; cancels on request.
/// Loading data and the final evaluation run off the actor (<c>PipeTo(Self)</c>), so the mailbox
/// keeps answering status and cancel. A job whose workers are not free waits at the head of the queue.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly EngineOptions engine;
    private readonly List<IActorRef> pool = [];
    private readonly HashSet<IActorRef> free = [];
    private readonly Dictionary<string, Job> jobs = [];
    private readonly List<Job> queue = [];
    private int running;
    private long sequence;

    public CoordinatorActor(EngineOptions engine)
    {
        engine.Validate();
        this.engine = engine;
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
    }

    public static Props Props(EngineOptions engine) => Akka.Actor.Props.Create(() => new CoordinatorActor(engine));

    protected override void PreStart()
    {
        for (int i = 0; i < engine.PoolSize; i++)
        {
            var worker = Context.ActorOf(WorkerActor.Props(engine.TorchThreads), $"worker-{i}");
            pool.Add(worker);
            free.Add(worker);
        }
    }

    // --- submission ---

    private void OnSubmitJob(SubmitJob m)
    {
        var job = NewJob(m.Priority, m.Workers ?? engine.Workers, Sender);
        if (Reject(job, () => m.Options.Validate())) return;
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
        int workers = job.Workers;
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
        var job = new Job($"job-{++sequence}", priority, sequence, workers, submitter);
        jobs[job.Id] = job;
        return job;
    }

    /// <summary>Runs a validation; on failure rejects the job with the reason and returns true.</summary>
    private bool Reject(Job job, Action validate)
    {
        string? reason = null;
        if (job.Workers > pool.Count) reason = $"the job asks for {job.Workers} workers but the pool has {pool.Count}";
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
        job.Data = m.Data;
        job.Setup = new TrainingSetup(job.Id, options.Spec(m.Data.Series.Columns.Length), m.Data.Train, m.Data.Validation,
            options.Training, engine with { Workers = job.Workers }, null);
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
        while (running < engine.MaxConcurrentJobs && queue.Count > 0)
        {
            var next = queue.OrderByDescending(j => j.Priority).ThenBy(j => j.Sequence).First();
            if (free.Count < next.Workers) return;
            queue.Remove(next);
            Run(next);
        }
    }

    private void Run(Job job)
    {
        var assigned = free.Take(job.Workers).ToList();
        foreach (var w in assigned) free.Remove(w);
        job.AssignedWorkers = assigned;
        job.State = JobState.Running;
        running++;
        job.Server = Context.ActorOf(ParameterServerActor.Props(job.Setup!, assigned, Self), $"ps-{job.Id}");
        log.Info("job {0} running on {1} workers", job.Id, assigned.Count);
    }

    private void FreeWorkers(Job job)
    {
        foreach (var w in job.AssignedWorkers) free.Add(w);
        job.AssignedWorkers = [];
        job.Server = null;
        running--;
    }

    // --- training events ---

    private void OnEpochProgress(EpochProgress m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running) return;
        job.Last = m.Report;
        job.Listener?.Tell(m);
    }

    private void OnTrainingFinished(TrainingFinished m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running || job.Server is null) return;
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
        var data = job.Data!;
        var result = m.ToResult();
        string id = job.Id;
        Task.Run(() => ForecastRun.Execute(options, data, (model, _, _, _, _) =>
            {
                ParameterVector.Load(model, result.BestWeights);
                return result;
            }, null, CancellationToken.None))
            .PipeTo(Self, success: r => new Evaluated(id, r, null), failure: e => new Evaluated(id, null, Reason(e)));
    }

    private void OnTrainingFailed(TrainingFailed m)
    {
        if (!jobs.TryGetValue(m.Job, out var job) || job.State != JobState.Running || job.Server is null) return;
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
            job.Outcome = new Outcome([.. r.Forecast.Select(p => p.Value)], r.Test.Model.Mase, baseline,
                baseline is null ? double.NaN : r.Test.Baselines[baseline].Mase);
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
        // Finished jobs stay answerable, but without their windows and data.
        job.Data = null;
        job.Setup = null;
        var status = Status(job);
        job.Submitter.Tell(status);
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
            if (job.Server is { } server)
            {
                // Stopping the server releases its workers' shards (PostStop); the workers are free again at once.
                Context.Stop(server);
                FreeWorkers(job);
            }
            Complete(job, JobState.Cancelled, "cancelled on request");
            Schedule();
        }
        Sender.Tell(Status(job));
    }

    private static JobStatus Status(Job job)
    {
        var last = job.Last;
        var outcome = job.Outcome;
        return new JobStatus(job.Id, job.State, last?.Epoch ?? 0, last?.Epochs ?? job.Setup?.Options.Epochs ?? 0,
            last?.TrainLoss ?? double.NaN, last?.ValidationLoss ?? double.NaN, job.Reason, outcome?.Forecast,
            outcome?.TestMase ?? double.NaN, outcome?.BestBaseline, outcome?.BestBaselineMase ?? double.NaN);
    }

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
        public PreparedData? Data { get; set; }
        public TrainingSetup? Setup { get; set; }
        public string? TempDirectory { get; set; }
        public IActorRef? Server { get; set; }
        public List<IActorRef> AssignedWorkers { get; set; } = [];
        public EpochReport? Last { get; set; }
        public Outcome? Outcome { get; set; }
    }

    private sealed record Outcome(double[] Forecast, double TestMase, string? BestBaseline, double BestBaselineMase);

    // In-process completions of work done off the actor; they never leave this node.
    private sealed record Prepared(string Job, PreparedData Data) : INoSerializationVerificationNeeded;

    private sealed record PrepareFailed(string Job, string Reason);

    private sealed record Evaluated(string Job, RunResult? Result, string? Reason) : INoSerializationVerificationNeeded;
}
