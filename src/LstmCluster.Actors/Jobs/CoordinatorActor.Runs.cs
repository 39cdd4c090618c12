using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Jobs;

// The registry's side of running jobs: the scheduler, one JobRunner per attempt, the parameter servers' messages routed
// (and fenced) by run id, and what the runners report.
public sealed partial class CoordinatorActor
{
    /// <summary>Jobs by the run id of their attempt while it trains (holds workers): where a parameter server's messages go.</summary>
    private readonly Dictionary<string, RegisteredJob> runs = [];
    private long fenced;

    private void CommandRuns()
    {
        Command<TrainingStarted>(OnTrainingStarted);
        Command<EpochProgress>(m => ToRunner(m.Job, m));
        Command<CheckpointTaken>(m => ToRunner(m.Job, m));
        Command<TrainingFinished>(m => ToRunner(m.Job, m));
        Command<TrainingFailed>(m => ToRunner(m.Job, m));
        Command<RunServerStarted>(OnRunServerStarted);
        Command<RunProgressed>(OnRunProgressed);
        Command<RunCheckpointed>(OnRunCheckpointed);
        Command<RunCheckpointStored>(OnRunCheckpointStored);
        Command<RunTrained>(OnRunTrained);
        Command<RunSucceeded>(OnRunSucceeded);
        Command<RunFailed>(OnRunFailed);
        Command<RunServerLost>(OnRunServerLost);
    }

    // --- scheduling ---

    private void Schedule()
    {
        while (runs.Count < engine.MaxConcurrentJobs && queue.Count > 0 && pool.HasHosts)
        {
            // The head, passing over the jobs of owners with as many running as --max-running-per-owner allows.
            if (queue.Next(RunningByOwner()) is not { } next) return;
            // A recovered job still loading its data keeps the jobs behind it waiting: order survives a restart. So does a
            // job whose previous attempt's runner is still storing a checkpoint: one runner, and one writer, per job.
            if (next.Setup is null || next.Runner is not null || pool.Free < Math.Max(1, next.Record.Workers)) return;
            queue.Started(next);
            Start(next);
        }
    }

    /// <summary>
    /// The job's status, with its place in the queue while it waits there, and why it waits when its owner has as many jobs
    /// running as <c>--max-running-per-owner</c> allows.
    /// </summary>
    private JobStatus StatusWithPlace(RegisteredJob job, Dictionary<RegisteredJob, int>? places = null, IReadOnlyDictionary<string, int>? running = null)
    {
        var status = job.Status();
        if (job.Record.State != JobState.Queued) return status;
        running ??= RunningByOwner();
        // A queued job still loading its data is not in the queue yet: no place.
        if (!(places ?? queue.Places(running)).TryGetValue(job, out int place)) return status;
        status = status with { Ahead = place };
        if (status.Reason is null && queue.Held(job, running))
        {
            string owner = job.Record.Owner!;
            int count = running[owner];
            string waits = count == 1 ? $"waits for the job '{owner}' has running to end" : $"waits for one of the {count} jobs '{owner}' has running to end";
            status = status with { Reason = $"{waits} (--max-running-per-owner {settings.Budget.MaxRunningPerOwner})" };
        }
        return status;
    }

    /// <summary>How many jobs each owner has training (holding workers) now; jobs without an owner are not counted.</summary>
    private Dictionary<string, int> RunningByOwner() =>
        runs.Values.Distinct().Where(j => j.Record.Owner is not null).GroupBy(j => j.Record.Owner!).ToDictionary(g => g.Key, g => g.Count());

    private void Start(RegisteredJob job)
    {
        var setup = job.Setup!;
        // "All free workers", bounded by what the plan allows (a worker per window, at least one window of batch each).
        int count = job.Record.Workers > 0 ? job.Record.Workers : Math.Min(pool.Free, Math.Min(setup.Train.Count, setup.Options.BatchSize));
        int attempt = job.Record.Attempts + 1;
        // Each attempt trains under its own run id: whatever an older attempt's parameter server still sends is fenced off.
        string run = attempt == 1 ? job.Id : $"{job.Id}.{attempt}";
        var placement = pool.Place(job.Id, run, count);
        job.RunId = run;
        runs[run] = job;
        // --normalize auto: a sub-run per candidate, each with its own parameter server; never checkpointed or resumed.
        bool candidates = job.Candidates is { Count: > 1 } && job.Listener is null;
        var resume = candidates ? null : job.Resume;
        Record(job, new JobStarted(job.Id, attempt, DateTimeOffset.UtcNow, placement.Workers.Count, resume is null ? 0 : resume.Epoch - 1, resume?.Version ?? 0));
        // Only journaled jobs are resumed, so only they pay for checkpoints.
        var checkpoints = job.Durable ? setup.Engine.CheckpointEvery : null;
        var runSetup = setup with { Job = run, Engine = setup.Engine with { Workers = placement.Workers.Count, CheckpointEvery = checkpoints }, Resume = resume };
        // A listener (the embedded engine) evaluates the model itself.
        var evaluation = job.Listener is null
            ? new RunEvaluation(JobPreparation.OptionsOf(job.Record, store), job.Record.Options!, job.Prepared!, settings.Artifacts, settings.EngineLabel, job.Global)
            : null;
        var plan = new RunPlan(job.Id, run, runSetup, placement.Host, [.. placement.Workers], job.Durable, evaluation, store);
        if (candidates) plan = CandidatePlan(plan, job.Candidates!);
        job.Runner = Context.Watch(Context.ActorOf(JobRunner.Props(plan), $"run-{run}"));
        log.Info("job {0} running on {1} workers, parameter server on {2} (attempt {3}{4})", job.Id, placement.Workers.Count,
            placement.Host.Path.Address, attempt, resume is null ? "" : $", resumed at epoch {resume.Epoch} step {resume.Step}");
    }

    /// <summary>
    /// <paramref name="plan"/> as one sub-run per candidate: each its own windows and its share of the workers
    /// (<see cref="RunPlan.Split"/>), no checkpoints.
    /// </summary>
    private static RunPlan CandidatePlan(RunPlan plan, IReadOnlyList<(Core.Forecasting.RunOptions Options, Core.Data.PreparedData Data)> candidates)
    {
        var (groups, concurrent) = RunPlan.Split(plan.Workers, candidates.Count);
        var runs = candidates.Select((c, i) => new CandidateRun(plan.Setup with
        {
            Job = RunPlan.SubRun(plan.Run, c.Data.Preprocessor.Normalize),
            Train = c.Data.Train,
            Validation = c.Data.Validation,
            Engine = plan.Setup.Engine with { Workers = groups[i].Length, CheckpointEvery = null },
            Resume = null,
        }, groups[i], c.Options, c.Data)).ToArray();
        return plan with { Candidates = runs, Concurrent = concurrent, StoreCheckpoints = false };
    }

    /// <summary>
    /// The job's attempt stops training: its workers are free again (false when it was not training). With
    /// <paramref name="afterRunner"/> they are freed only once its runner has stopped: a cancelled run's parameter server
    /// may still be starting (its runner's StartTraining can reach the host after the next run's), and it would deal its
    /// shard to workers another run already uses. The runner stops after its StopTraining, which the host handles
    /// before any later run's start.
    /// </summary>
    private bool EndTraining(RegisteredJob job, bool afterRunner = false)
    {
        if (job.RunId is not { } run || !runs.Remove(run)) return false;
        if (afterRunner && job.Runner is { } runner) releaseWhenStopped[runner] = run;
        else pool.Release(run);
        return true;
    }

    /// <summary>Runs whose workers are held until their runner (the key) has stopped: see <see cref="EndTraining"/>.</summary>
    private readonly Dictionary<IActorRef, string> releaseWhenStopped = [];

    private void OnRunnerStopped(RegisteredJob job)
    {
        job.Runner = null;
        // A runner reports how its attempt ended before it stops; should one ever not, its job must not stay Running.
        if (job.Record.State == JobState.Running) Fail(job, "its run stopped without a result");
        Schedule();
    }

    // --- the parameter servers' messages ---

    private void OnTrainingStarted(TrainingStarted m)
    {
        // Cancelled before its server was up, or a run this coordinator does not know: that server must not train.
        if (!ToRunner(m.Job, m)) Sender.Tell(new StopTraining(m.Job));
    }

    /// <summary>
    /// A parameter server's message goes to the runner of its run. One whose run does not train here is dropped, and
    /// counted as fenced unless the run id is a job's own (a first attempt that ended or was cancelled).
    /// </summary>
    private bool ToRunner(string run, object message)
    {
        // A candidate's sub-run (auto) goes to its attempt's runner.
        run = RunPlan.RunOf(run);
        if (runs.GetValueOrDefault(run)?.Runner is { } runner)
        {
            runner.Forward(message);
            return true;
        }
        if (!jobs.ContainsKey(run))
        {
            fenced++;
            log.Debug("dropped a message of run {0}, which is not running here (an older attempt or another coordinator's)", run);
        }
        return false;
    }

    // --- what the runners report ---

    /// <summary>The job a report is about while the reporting attempt trains; null for one that comes too late.</summary>
    private RegisteredJob? Training(RunReport report) => runs.GetValueOrDefault(report.Run) is { } job && job.Id == report.Job ? job : null;

    /// <summary>The job a report is about while the reporting attempt is its current one and it runs (trains or evaluates).</summary>
    private RegisteredJob? Running(RunReport report) =>
        jobs.GetValueOrDefault(report.Job) is { Record.State: JobState.Running } job && job.RunId == report.Run ? job : null;

    private void OnRunServerStarted(RunServerStarted m)
    {
        if (Training(m) is not { } job) return;
        // Only a job that takes every free worker grows, and not in async mode.
        var joiners = job.Record.Workers == 0 && job.Setup?.Engine.Mode is not TrainingMode.Async && job.Candidates is not { Count: > 1 }
            ? new WorkerPool.Joiners(Sender, job.Record.Priority, job.Record.Sequence)
            : null;
        pool.ServerStarted(m.Run, joiners);
    }

    private void OnRunProgressed(RunProgressed m)
    {
        if (Training(m) is not { } job) return;
        var r = m.Epoch.Report;
        var progress = new JobProgressed(job.Id, r.Epoch, r.Epochs, r.TrainLoss, r.ValidationLoss, m.Epoch.Version, r.SamplesPerSecond, m.Epoch.Workers);
        job.Listener?.Tell(m.Epoch);
        job.AddLosses(r.Epoch, r.TrainLoss, r.ValidationLoss);
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

    /// <summary>The job's next attempt resumes from this checkpoint, at once, whether or not it is stored yet.</summary>
    private void OnRunCheckpointed(RunCheckpointed m)
    {
        if (Training(m) is { Durable: true } job) job.Resume = m.Checkpoint;
    }

    /// <summary>Journals a stored checkpoint; its runner may have ended meanwhile (a lost server), the job not.</summary>
    private void OnRunCheckpointStored(RunCheckpointStored m)
    {
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            // Deleted meanwhile: the write may have made its folder again.
            DeleteFiles(m.Job);
            return;
        }
        if (job.Record.Ended)
        {
            DeleteCheckpoint(job.Id);
            return;
        }
        if (m.Stored is { } stored) Record(job, new JobCheckpointed(job.Id, stored), async: true);
        else log.Warning("job {0}: could not store its checkpoint {1}: {2}", job.Id, JobStore.CheckpointName(job.Id), m.Problem);
    }

    private void OnRunTrained(RunTrained m)
    {
        if (Training(m) is not { } job) return;
        job.Record = job.Record with { Round = m.Finished.Version };
        EndTraining(job);
        Schedule();
        // Without a listener the runner evaluates now and reports RunSucceeded or RunFailed.
        if (job.Listener is null) return;
        job.Listener.Tell(m.Finished);
        Complete(job, new JobSucceeded(job.Id, DateTimeOffset.UtcNow, job.Progress(), [], [], double.NaN, null, double.NaN));
    }

    private void OnRunSucceeded(RunSucceeded m)
    {
        if (Running(m) is not { } job) return;
        Complete(job, new JobSucceeded(job.Id, DateTimeOffset.UtcNow, job.Progress(), m.Forecast, m.ForecastTimes, m.TestMase,
            m.BestBaseline, m.BestBaselineMase, m.Normalization) { ForecastLevels = m.ForecastLevels, ForecastQuantiles = m.ForecastQuantiles, Series = m.Series, Validation = m.Validation });
    }

    private void OnRunFailed(RunFailed m)
    {
        if (Running(m) is not { } job) return;
        Fail(job, m.Reason);
        Schedule();
    }

    private void OnRunServerLost(RunServerLost m)
    {
        if (Training(m) is not { } job) return;
        ServerLost(job, m.What);
        Schedule();
    }

    /// <summary>
    /// The running job's parameter server is gone without a result: a journaled job goes back to the head of the queue
    /// and resumes from its last checkpoint (or from the start) on any parameter-server node, up to
    /// <see cref="CoordinatorSettings.MaxAttempts"/> attempts; an in-memory job fails.
    /// </summary>
    private void ServerLost(RegisteredJob job, string what)
    {
        int attempt = job.Record.Attempts;
        if (!job.Durable || attempt >= settings.MaxAttempts)
        {
            Fail(job, job.Durable ? $"{what} during attempt {attempt}, the last of {settings.MaxAttempts}" : $"{what} before the job ended");
            return;
        }
        EndTraining(job);
        string from = job.Resume is { } c ? $"resumes from its checkpoint at epoch {c.Epoch}, step {c.Step} (round {c.Version})" : "starts over (no checkpoint yet)";
        log.Warning("job {0}: {1} at round {2} during attempt {3}; attempt {4} {5}", job.Id, what, job.Record.Round, attempt, attempt + 1, from);
        Record(job, new JobRequeued(job.Id, $"{what} during attempt {attempt}: attempt {attempt + 1} {from}"));
        queue.Add(job);
    }

    /// <summary>Ends a job that failed: frees its workers if it trains (and tells its listener), journals why.</summary>
    private void Fail(RegisteredJob job, string reason)
    {
        reason = JobBudget.Bounded(reason);
        if (EndTraining(job)) job.Listener?.Tell(new TrainingFailed(job.Id, reason));
        queue.Remove(job);
        Complete(job, new JobFailed(job.Id, DateTimeOffset.UtcNow, reason));
    }
}
