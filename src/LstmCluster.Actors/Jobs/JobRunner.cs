using LstmCluster.Actors.Embedded;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// One training attempt of one job, a child of the coordinator: starts the job's parameter server on the host it was
/// given, follows the server (progress, checkpoints, the end, its death), stores its checkpoints, and once training is
/// over evaluates the model and writes the job's files. File work runs off the actor. It reports each step to the
/// coordinator (<see cref="RunReport"/>), which alone journals and decides what becomes of the job; it never persists.
/// It stops once its attempt is over and nothing it started off the actor is still running.
/// <para>
/// The parameter server reports to the coordinator (<see cref="StartTraining.ReportTo"/>), which forwards by run id,
/// rather than to this runner: the coordinator outlives every attempt, so it can count an older attempt's messages as
/// fenced and answer a server that comes up after its run was cancelled with a stop, and a server still stops when its
/// coordinator is gone (it watches <c>ReportTo</c>). The coordinator passes on the loss of the server's host the same way,
/// so this runner sees it after everything the server sent before it, and reports in that order.
/// </para>
/// <para>
/// A <c>--normalize auto</c> job (<see cref="RunPlan.Candidates"/>) trains one sub-run per candidate normalization, each
/// with its own parameter server on the same host: all at once on disjoint workers when there is a worker for each, else
/// one after the other on all of them. The attempt is over when every candidate has trained; one that fails or loses its
/// server ends the attempt (the others are stopped), as a cancel does. The candidates are then evaluated and the one with
/// the lowest validation error kept by <see cref="ForecastRun.Choose"/>, the selection embedded runs use.
/// </para>
/// </summary>
internal sealed class JobRunner : ReceiveActor, IWithTimers
{
    /// <summary>How long a run waits for its stopped parameter server's last report (a chunked transfer's timeout is 30 s).</summary>
    public static readonly TimeSpan ServerGoneGrace = TimeSpan.FromSeconds(35);

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly RunPlan plan;
    private readonly Remoting.ChunkedSender wire;
    /// <summary>What trains: the job's one run, or one sub-run per candidate normalization.</summary>
    private readonly (string Run, TrainingSetup Setup, IActorRef[] Workers)[] legs;
    /// <summary>Servers up and training, by (sub-)run id.</summary>
    private readonly Dictionary<string, IActorRef> servers = [];
    /// <summary>Legs done training, by (sub-)run id.</summary>
    private readonly Dictionary<string, TrainingFinished> finished = [];
    /// <summary>Legs started so far (in order).</summary>
    private int started;
    private bool serverReported;
    /// <summary>The newest checkpoint not yet handed to a write: checkpoints that arrive during a write are coalesced.</summary>
    private TrainingCheckpoint? unwritten;
    private bool writing;
    /// <summary>The checkpoint write in flight, if any: <see cref="PostStop"/> lets it finish.</summary>
    private Task? write;
    private bool evaluating;
    private bool training = true;
    private bool ended;

    public JobRunner(RunPlan plan)
    {
        this.plan = plan;
        wire = new Remoting.ChunkedSender(Context.System);
        legs = plan.Candidates is { Count: > 0 } candidates
            ? [.. candidates.Select(c => (c.Run, c.Setup, c.Workers))]
            : [(plan.Run, plan.Setup, plan.Workers)];
        Training();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RunPlan plan) => Akka.Actor.Props.Create(() => new JobRunner(plan));

    protected override void PreStart()
    {
        StartLeg();
        if (plan.Concurrent) while (started < legs.Length) StartLeg();
    }

    private void StartLeg()
    {
        var (_, setup, workers) = legs[started++];
        // On the coordinator's behalf (see above): the host answers it with TrainingStarted, the server reports to it.
        wire.Tell(plan.Host, new StartTraining(setup, workers, Context.Parent), Context.Parent);
    }

    /// <summary>Stops every leg's server that may still run (one not up yet is stopped by the coordinator when it comes up).</summary>
    private void StopServers()
    {
        foreach (var (run, _, _) in legs.Take(started))
            if (!finished.ContainsKey(run)) plan.Host.Tell(new StopTraining(run));
    }

    /// <summary>The leg whose epochs the job's progress shows: the first one still training (the only one, sequentially).</summary>
    private string? Leading => legs.Take(started).Select(l => l.Run).FirstOrDefault(r => !finished.ContainsKey(r));

    /// <summary>The server trains (or is being started).</summary>
    private void Training()
    {
        Receive<TrainingStarted>(OnTrainingStarted);
        Receive<EpochProgress>(m =>
        {
            if (m.Job == Leading) Report(new RunProgressed(plan.Job, plan.Run, m));
        });
        Receive<CheckpointTaken>(OnCheckpointTaken);
        Receive<CheckpointWritten>(OnCheckpointWritten);
        Receive<TrainingFinished>(OnTrainingFinished);
        Receive<TrainingFailed>(m =>
        {
            StopServers();
            End(new RunFailed(plan.Job, plan.Run, legs.Length > 1 ? $"candidate {m.Job}: {m.Reason}" : m.Reason));
        });
        Receive<JoinWorker>(m =>
        {
            // Only a job of one run takes joining workers (the coordinator offers none to candidates).
            if (legs.Length == 1 && servers.GetValueOrDefault(plan.Run) is { } server) wire.Tell(server, m, Self);
        });
        Receive<Terminated>(OnServerTerminated);
        Receive<ServerGone>(m =>
        {
            StopServers();
            End(new RunServerLost(plan.Job, plan.Run, legs.Length > 1 ? $"the parameter server of candidate {m.Run} stopped" : "the parameter server stopped"));
        });
        Receive<HostLeft>(_ =>
        {
            StopServers();
            End(new RunServerLost(plan.Job, plan.Run, "the parameter-server node left"));
        });
        Receive<CancelRun>(_ =>
        {
            // Stopping a server releases its workers' shards (PostStop). A server not up yet is stopped by the
            // coordinator when its TrainingStarted arrives (the run is no longer known there).
            StopServers();
            End(null);
        });
    }

    /// <summary>Training is over; the model is evaluated and the job's files written, off the actor.</summary>
    private void Evaluating()
    {
        Receive<Evaluated>(OnEvaluated);
        Receive<CheckpointWritten>(OnCheckpointWritten);
        // Cancelled meanwhile: the result no longer matters, but the runner waits for the work to end before it stops.
        Receive<CancelRun>(_ => End(null));
        ReceiveAny(_ => { });
    }

    /// <summary>The attempt is over: the runner waits for what it started off the actor, then stops.</summary>
    private void Ending()
    {
        Receive<CheckpointWritten>(OnCheckpointWritten);
        // A candidate's server that comes up after the attempt ended (another candidate failed meanwhile): its host
        // stops it, as the coordinator stops one whose run it no longer knows.
        Receive<TrainingStarted>(m => Sender.Tell(new StopTraining(m.Job)));
        Receive<Evaluated>(_ =>
        {
            evaluating = false;
            StopWhenIdle();
        });
        ReceiveAny(_ => { });
    }

    private void OnTrainingStarted(TrainingStarted m)
    {
        if (finished.ContainsKey(m.Job) || !legs.Any(l => l.Run == m.Job)) return;
        servers[m.Job] = m.Server;
        Context.Watch(m.Server);
        if (serverReported) return;
        serverReported = true;
        Report(new RunServerStarted(plan.Job, plan.Run));
    }

    private void OnServerTerminated(Terminated m)
    {
        // A server stops right after its last report, and across nodes the death notice can overtake that report
        // (it is reassembled from chunks): give the report time to arrive before calling the server lost.
        foreach (var (run, _) in servers.Where(s => s.Value.Equals(m.ActorRef)))
            Timers.StartSingleTimer(GoneTimer(run), new ServerGone(run), ServerGoneGrace);
    }

    private static string GoneTimer(string run) => $"{nameof(ServerGone)}-{run}";

    /// <summary>
    /// The coordinator hears of each checkpoint at once (the next attempt resumes from it), and then once it is stored
    /// (file first, then the journal), so status and cancel never wait behind a disk.
    /// </summary>
    private void OnCheckpointTaken(CheckpointTaken m)
    {
        if (!plan.StoreCheckpoints) return;
        Report(new RunCheckpointed(plan.Job, plan.Run, m.Checkpoint));
        unwritten = m.Checkpoint;
        if (!writing) WriteCheckpoint();
    }

    private void WriteCheckpoint()
    {
        var c = unwritten!;
        unwritten = null;
        writing = true;
        string id = plan.Job;
        var store = plan.Store;
        var task = Task.Run(() =>
        {
            byte[] file = CheckpointCodec.ToFile(c);
            store.SaveCheckpoint(id, file);
            return new CheckpointWritten(new CheckpointRef(c.Epoch, c.Step, c.Version, CheckpointCodec.Checksum(file), DateTimeOffset.UtcNow), null);
        });
        write = task;
        task.PipeTo(Self, failure: e => new CheckpointWritten(null, e.GetBaseException().Message));
    }

    /// <summary>
    /// A runner stopped with a write in flight (its node shutting down, its job cancelled) lets that write finish first, so
    /// nothing lands in the job's folder once the node is down: a restart, or a reader of the folder, sees the file the
    /// node left, not one that changes under it (a checkpoint renamed in after the node stopped, three epochs on, made
    /// DurableCoordinatorTests' resume epoch flaky). The write is one file of a few hundred KB; the wait is bounded.
    /// </summary>
    protected override void PostStop()
    {
        try
        {
            if (write is { IsCompleted: false } w && !w.Wait(WriteGrace))
                Context.GetLogger().Warning("job {0}: its checkpoint write did not finish within {1} s of the runner stopping", plan.Job, WriteGrace.TotalSeconds);
        }
        catch (AggregateException)
        {
            // A failed write: the next attempt resumes from the checkpoint before it (reported by the PipeTo above when alive).
        }
        base.PostStop();
    }

    private static readonly TimeSpan WriteGrace = TimeSpan.FromSeconds(30);

    private void OnCheckpointWritten(CheckpointWritten m)
    {
        writing = false;
        // The job goes on either way; after a failed write a lost server resumes from the previous checkpoint.
        Report(new RunCheckpointStored(plan.Job, plan.Run, m.Stored, m.Problem));
        // A checkpoint that came during the write is written even after the run ended: its job may resume from it.
        if (unwritten is not null) WriteCheckpoint();
        else StopWhenIdle();
    }

    private void OnTrainingFinished(TrainingFinished m)
    {
        if (!servers.Remove(m.Job, out var server)) return;
        Context.Unwatch(server);
        Timers.Cancel(GoneTimer(m.Job));
        finished[m.Job] = m;
        if (finished.Count < legs.Length)
        {
            if (!plan.Concurrent) StartLeg();
            return;
        }
        training = false;
        Report(new RunTrained(plan.Job, plan.Run, m));
        if (plan.Evaluation is not { } evaluation)
        {
            End(null);
            return;
        }
        evaluating = true;
        Become(Evaluating);
        if (evaluation.Global is { } global)
        {
            EvaluateGlobal(m, evaluation, global);
            return;
        }
        // Evaluation and forecast with Core's pipeline, on each candidate's own windows; auto keeps the lowest validation error.
        var candidates = plan.Candidates is { Count: > 0 } c
            ? c.Select(x => (x.Options, x.Data, finished[x.Run].ToResult(), Figures: EngineStats.Of(finished[x.Run], plan.Setup.Engine))).ToArray()
            : [(evaluation.Options with { AutoNormalize = false }, evaluation.Data, m.ToResult(), Figures: EngineStats.Of(m, plan.Setup.Engine))];
        string id = plan.Job;
        var store = plan.Store;
        Task.Run(() =>
            {
                var runs = candidates.Select(x => ForecastRun.Evaluate(x.Item1, x.Item2, x.Item3)).ToArray();
                var run = runs.Length > 1 ? ForecastRun.Choose(runs, ForecastRun.LeftOut(evaluation.Options, evaluation.Data)) : runs[0];
                // The engine's figures of the training kept (with auto, the chosen candidate's).
                var figures = candidates[ForecastRun.KeptTraining(run, runs)].Figures;
                // Labelled with the name the user gave, not the stored upload's path; on disk before the success is journaled.
                if (evaluation.Artifacts?.Invoke(evaluation.Submitted, run, evaluation.EngineLabel, figures) is { } written) store.SaveFiles(id, written);
                return new Evaluated(run, null);
            })
            .PipeTo(Self, failure: e => new Evaluated(null, JobPreparation.ReasonFor(e, null, null)));
    }

    /// <summary>
    /// Strategy global: every series evaluated on its own windows with the shared weights (<see cref="GlobalRun.Evaluate"/>, as
    /// <c>train --strategy global</c> does), each one's files written under <c>series/SYMBOL/</c> of the job's folder.
    /// </summary>
    private void EvaluateGlobal(TrainingFinished m, RunEvaluation evaluation, GlobalPreparation global)
    {
        var trained = m.ToResult();
        var figures = EngineStats.Of(m, plan.Setup.Engine);
        string id = plan.Job;
        var store = plan.Store;
        Task.Run(() =>
            {
                var result = GlobalRun.Evaluate(evaluation.Options with { AutoNormalize = false }, global.Members, trained);
                if (evaluation.Artifacts is { } write)
                {
                    var files = new Dictionary<string, byte[]>();
                    foreach (var (symbol, run) in result.Series)
                    {
                        // Labelled with the name the user gave and the series' symbol, as `train` labels a series of a group.
                        var submitted = evaluation.Submitted with { Data = evaluation.Submitted.Data with { Symbol = symbol } };
                        foreach (var (name, bytes) in write(submitted, run, evaluation.EngineLabel, figures)) files[$"{SeriesSelection.Folder(symbol)}/{name}"] = bytes;
                    }
                    store.SaveFiles(id, files);
                }
                return new Evaluated(null, null) { Global = result };
            })
            .PipeTo(Self, failure: e => new Evaluated(null, JobPreparation.ReasonFor(e, null, null)));
    }

    private void OnEvaluated(Evaluated m)
    {
        evaluating = false;
        if (m.Global is { } global)
        {
            var (series, median) = GlobalGroups.Figures(global);
            Report(new RunSucceeded(plan.Job, plan.Run, [], [], median, null, double.NaN, Series: series));
        }
        else if (m.Result is { } r)
        {
            string? baseline = r.Test.Baselines.Count > 0 ? r.Test.BestBaseline : null;
            Report(new RunSucceeded(plan.Job, plan.Run, [.. r.Forecast.Select(p => p.Value)], [.. r.Forecast.Select(p => p.Time)],
                r.Test.Model.Mase, baseline, baseline is null ? double.NaN : r.Test.Baselines[baseline].Mase, ChoiceText(r.Candidates, r.LeftOut))
            {
                ForecastLevels = r.Forecast is [{ Quantiles.Count: > 0 } f0, ..] ? [.. f0.Quantiles.Select(q => q.Level)] : null,
                ForecastQuantiles = r.Forecast is [{ Quantiles.Count: > 0 } f1, ..]
                    ? [.. f1.Quantiles.Select((_, level) => r.Forecast.Select(p => p.Quantiles[level].Value).ToArray())]
                    : null,
                Validation = new ValidationFigures(r.Validation.Model.Mase,
                    r.Validation.Baselines.TryGetValue("naive", out var naive) ? naive.Mase : double.NaN, r.Training.Epochs.Count, r.Training.BestEpoch),
            });
        }
        else
        {
            Report(new RunFailed(plan.Job, plan.Run, m.Reason ?? "evaluation failed"));
        }
        End(null);
    }

    /// <summary>
    /// A job's status line for auto's choice: the one kept, then every candidate's validation MASE (the basis of the
    /// choice) and test MASE, and the candidates left out as equal to another; null for a job that trained one normalization.
    /// </summary>
    public static string? ChoiceText(IReadOnlyList<NormalizationCandidate> candidates, IReadOnlyList<LeftOutCandidate>? leftOut = null)
    {
        if (candidates.Count == 0) return null;
        static string Name(NormalizationCandidate c) => c.IsEnsemble ? Ensemble.Name : NormalizationNames.Name(c.Normalize);
        static string Num(double v) => v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        var chosen = candidates.First(c => c.Chosen);
        return $"{Name(chosen)}, the lowest validation error of " + string.Join("; ",
            candidates.Select(c => $"{Name(c)} validation MASE {Num(c.Validation.Model.Mase)}, test {Num(c.Test.Model.Mase)}"))
            + string.Concat((leftOut ?? []).Select(l => $"; {NormalizationNames.Name(l.Normalize)} not trained (same as {NormalizationNames.Name(l.SameAs)})"));
    }

    /// <summary>Ends the attempt, with a last report when the runner is the one who saw it end.</summary>
    private void End(RunReport? last)
    {
        training = false;
        ended = true;
        if (last is not null) Report(last);
        Timers.CancelAll();
        Become(Ending);
        StopWhenIdle();
    }

    private void StopWhenIdle()
    {
        if (ended && !writing && !evaluating && unwritten is null) Context.Stop(Self);
    }

    private void Report(RunReport report) => Context.Parent.Tell(report);

    /// <summary>
    /// A runner starts its attempt in <see cref="PreStart"/>, so a restarted one would start a second parameter server:
    /// a runner that throws fails its attempt instead and stops.
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        log.Error(reason, "job {0}: the runner of {1} failed", plan.Job, plan.Run);
        if (training) StopServers();
        Report(new RunFailed(plan.Job, plan.Run, $"its runner failed: {reason.Message}"));
    }

    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    // Completions of work done off the actor, and the grace timer: they never leave this runner.
    private sealed record CheckpointWritten(CheckpointRef? Stored, string? Problem) : INoSerializationVerificationNeeded;

    private sealed record Evaluated(RunResult? Result, string? Reason) : INoSerializationVerificationNeeded
    {
        public GlobalResult? Global { get; init; }
    }

    private sealed record ServerGone(string Run) : INoSerializationVerificationNeeded;
}
