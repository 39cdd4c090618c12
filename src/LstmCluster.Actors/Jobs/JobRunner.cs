using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
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
/// </summary>
internal sealed class JobRunner : ReceiveActor, IWithTimers
{
    /// <summary>How long a run waits for its stopped parameter server's last report (a chunked transfer's timeout is 30 s).</summary>
    public static readonly TimeSpan ServerGoneGrace = TimeSpan.FromSeconds(35);

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly RunPlan plan;
    private readonly Remoting.ChunkedSender wire;
    private IActorRef? server;
    /// <summary>The newest checkpoint not yet handed to a write: checkpoints that arrive during a write are coalesced.</summary>
    private TrainingCheckpoint? unwritten;
    private bool writing;
    private bool evaluating;
    private bool training = true;
    private bool ended;

    public JobRunner(RunPlan plan)
    {
        this.plan = plan;
        wire = new Remoting.ChunkedSender(Context.System);
        Training();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RunPlan plan) => Akka.Actor.Props.Create(() => new JobRunner(plan));

    protected override void PreStart()
    {
        // On the coordinator's behalf (see above): the host answers it with TrainingStarted, the server reports to it.
        wire.Tell(plan.Host, new StartTraining(plan.Setup, plan.Workers, Context.Parent), Context.Parent);
    }

    /// <summary>The server trains (or is being started).</summary>
    private void Training()
    {
        Receive<TrainingStarted>(OnTrainingStarted);
        Receive<EpochProgress>(m => Report(new RunProgressed(plan.Job, plan.Run, m)));
        Receive<CheckpointTaken>(OnCheckpointTaken);
        Receive<CheckpointWritten>(OnCheckpointWritten);
        Receive<TrainingFinished>(OnTrainingFinished);
        Receive<TrainingFailed>(m => End(new RunFailed(plan.Job, plan.Run, m.Reason)));
        Receive<JoinWorker>(m =>
        {
            if (server is not null) wire.Tell(server, m, Self);
        });
        Receive<Terminated>(OnServerTerminated);
        Receive<ServerGone>(_ => End(new RunServerLost(plan.Job, plan.Run, "the parameter server stopped")));
        Receive<HostLeft>(_ => End(new RunServerLost(plan.Job, plan.Run, "the parameter-server node left")));
        Receive<CancelRun>(_ =>
        {
            // Stopping the server releases its workers' shards (PostStop). A server not up yet is stopped by the
            // coordinator when its TrainingStarted arrives (the run is no longer known there).
            plan.Host.Tell(new StopTraining(plan.Run));
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
        Receive<Evaluated>(_ =>
        {
            evaluating = false;
            StopWhenIdle();
        });
        ReceiveAny(_ => { });
    }

    private void OnTrainingStarted(TrainingStarted m)
    {
        server = m.Server;
        Context.Watch(server);
        Report(new RunServerStarted(plan.Job, plan.Run));
    }

    private void OnServerTerminated(Terminated m)
    {
        // A server stops right after its last report, and across nodes the death notice can overtake that report
        // (it is reassembled from chunks): give the report time to arrive before calling the server lost.
        if (m.ActorRef.Equals(server)) Timers.StartSingleTimer(nameof(ServerGone), ServerGone.Instance, ServerGoneGrace);
    }

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
        Task.Run(() =>
        {
            byte[] file = CheckpointCodec.ToFile(c);
            store.SaveCheckpoint(id, file);
            return new CheckpointWritten(new CheckpointRef(c.Epoch, c.Step, c.Version, CheckpointCodec.Checksum(file), DateTimeOffset.UtcNow), null);
        }).PipeTo(Self, failure: e => new CheckpointWritten(null, e.GetBaseException().Message));
    }

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
        training = false;
        Timers.Cancel(nameof(ServerGone));
        Report(new RunTrained(plan.Job, plan.Run, m));
        if (plan.Evaluation is not { } evaluation)
        {
            End(null);
            return;
        }
        evaluating = true;
        Become(Evaluating);
        // Evaluation and forecast with Core's pipeline: a trainer that hands back the finished result.
        var result = m.ToResult();
        string id = plan.Job;
        var store = plan.Store;
        Task.Run(() =>
            {
                // The job trained one normalization (a cluster job does not yet train auto's candidates): evaluate that one.
                var run = ForecastRun.Execute(evaluation.Options with { AutoNormalize = false }, evaluation.Data, (model, _, _, _, _) =>
                {
                    ParameterVector.Load(model, result.BestWeights);
                    return result;
                }, null, CancellationToken.None);
                // Labelled with the name the user gave, not the stored upload's path; on disk before the success is journaled.
                if (evaluation.Artifacts?.Invoke(evaluation.Submitted, run, evaluation.EngineLabel) is { } written) store.SaveFiles(id, written);
                return new Evaluated(run, null);
            })
            .PipeTo(Self, failure: e => new Evaluated(null, JobPreparation.ReasonFor(e, null, null)));
    }

    private void OnEvaluated(Evaluated m)
    {
        evaluating = false;
        if (m.Result is { } r)
        {
            string? baseline = r.Test.Baselines.Count > 0 ? r.Test.BestBaseline : null;
            Report(new RunSucceeded(plan.Job, plan.Run, [.. r.Forecast.Select(p => p.Value)], [.. r.Forecast.Select(p => p.Time)],
                r.Test.Model.Mase, baseline, baseline is null ? double.NaN : r.Test.Baselines[baseline].Mase));
        }
        else
        {
            Report(new RunFailed(plan.Job, plan.Run, m.Reason ?? "evaluation failed"));
        }
        End(null);
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
        if (training) plan.Host.Tell(new StopTraining(plan.Run));
        Report(new RunFailed(plan.Job, plan.Run, $"its runner failed: {reason.Message}"));
    }

    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    // Completions of work done off the actor, and the grace timer: they never leave this runner.
    private sealed record CheckpointWritten(CheckpointRef? Stored, string? Problem) : INoSerializationVerificationNeeded;

    private sealed record Evaluated(RunResult? Result, string? Reason) : INoSerializationVerificationNeeded;

    private sealed record ServerGone : INoSerializationVerificationNeeded
    {
        public static ServerGone Instance { get; } = new();
        private ServerGone() { }
    }
}
