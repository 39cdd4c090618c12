using Akka.Actor;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Protocol;

/// <summary>Marker for the messages between a parameter server, its workers and whoever it reports to.</summary>
public interface ITrainingMessage;

/// <summary>How a parameter server aggregates: one large synchronous batch, bounded-staleness async, or local-SGD averaging.</summary>
public enum TrainingMode
{
    Sync,
    Async,
    LocalSgd,
}

/// <summary>Inputs to a <see cref="BatchPlan"/>: every node rebuilds the same plan from these five values.</summary>
public sealed record PlanSpec(int WindowCount, int ShardCount, int BatchSize, long Seed, BatchSampling Sampling = BatchSampling.ShardLocal)
{
    public BatchPlan Build() => new(WindowCount, ShardCount, BatchSize, Seed, Sampling);
}

/// <summary>
/// Gives worker <paramref name="Worker"/> its part of a job: shard <see cref="ShardIndex"/> of the plan, as windows
/// in the order of <see cref="BatchPlan.Shard"/>, and what it needs to build its model replica. A worker that
/// takes over after another left gets a new plan over fewer shards and starts at
/// (<paramref name="StartEpoch"/>, <paramref name="StartStep"/>), where the job stands.
/// </summary>
public sealed record AssignShard(string Job, int Worker, ModelSpec Spec, PlanSpec Plan, WindowSet Windows, TrainingOptions Options,
    int Shard = -1, int StartEpoch = 1, int StartStep = 0)
    : ITrainingMessage
{
    /// <summary>The plan's shard this worker walks: <see cref="Shard"/>, or the worker's own index when not given.</summary>
    public int ShardIndex => Shard >= 0 ? Shard : Worker;
}

/// <summary>The worker drops the job's shard and replica.</summary>
public sealed record ReleaseShard(string Job) : ITrainingMessage;

/// <summary>Master weights of <paramref name="Version"/>: load them, compute the next mini-batch's gradient.</summary>
public sealed record Weights(string Job, long Version, float[] Values) : ITrainingMessage;

/// <summary>
/// A worker's gradient at <paramref name="Version"/> over <paramref name="Samples"/> windows. <paramref name="Compute"/> is
/// the time the worker spent on it (loading the weights, the batch's forward and backward pass, flattening), so its server
/// can tell a round's compute from the messages' ways (<see cref="RoundTimes"/>).
/// </summary>
public sealed record Gradient(string Job, long Version, int Worker, float[] Values, int Samples, double Loss, TimeSpan Compute = default)
    : ITrainingMessage;

/// <summary>Local-SGD round: load the weights, take <paramref name="Steps"/> local optimizer steps, send the weights back.</summary>
public sealed record LocalRound(string Job, long Version, float[] Values, int Steps, double LearningRate) : ITrainingMessage;

/// <summary>A worker's weights after a local-SGD round, with the samples they saw, their mean loss and the time the round's local steps took.</summary>
public sealed record LocalWeights(string Job, long Version, int Worker, float[] Values, int Samples, double Loss, TimeSpan Compute = default)
    : ITrainingMessage;

/// <summary>A worker could not compute (bad shard, non-finite loss, ...); the server fails the job.</summary>
public sealed record WorkerFailed(string Job, int Worker, string Reason) : ITrainingMessage;

/// <summary>
/// Everything a parameter server needs to run a job. <paramref name="InitialWeights"/> null means
/// <c>ForecastModel.Create(spec, options.Seed)</c>. <paramref name="ReportTo"/> receives
/// <see cref="EpochProgress"/>, then <see cref="TrainingFinished"/> or <see cref="TrainingFailed"/>.
/// </summary>
/// <paramref name="Resume"/>, when given, is a checkpoint of an earlier run of the same job: the server continues from it.
public sealed record TrainingSetup(
    string Job,
    ModelSpec Spec,
    WindowSet Train,
    WindowSet Validation,
    TrainingOptions Options,
    EngineOptions Engine,
    float[]? InitialWeights,
    TrainingCheckpoint? Resume = null);

/// <summary>
/// A parameter server's state at a round boundary, enough to continue the job elsewhere as if nothing happened:
/// the optimizer (master weights, moments, steps, learning rate), where the job stands (epoch <see cref="Epoch"/>
/// with <see cref="Step"/> of its steps done, master <see cref="Version"/>), the epoch's running loss sum, early
/// stopping (best weights and counters) and the history so far. The batch plan needs no random-generator state: every
/// epoch's order is derived from (seed, epoch, shard) (<see cref="BatchPlan.EpochOrder"/>). <see cref="Shards"/> is the
/// number of shards the plan was dealt over; a resume on as many workers walks the same batches.
/// </summary>
public sealed record TrainingCheckpoint(
    int Epoch,
    int Step,
    long Version,
    int Shards,
    OptimizerState Optimizer,
    EarlyStoppingState Stopping,
    EpochReport[] History,
    double EpochLossSum,
    long EpochSamples,
    long TotalSamples,
    TimeSpan Elapsed);

/// <summary>A parameter server's checkpoint of run <paramref name="Job"/>, for its coordinator to store.</summary>
public sealed record CheckpointTaken(string Job, TrainingCheckpoint Checkpoint) : ITrainingMessage;

/// <summary>One finished epoch of a job, at master <paramref name="Version"/>, with <paramref name="Workers"/> workers active.</summary>
public sealed record EpochProgress(string Job, EpochReport Report, long Version = 0, int Workers = 0) : ITrainingMessage;

/// <summary>Per-worker figures of a job: gradients (or local rounds) applied, samples in them, and what was dropped.</summary>
public sealed record WorkerFigures(int Worker, long Rounds, long Samples, long Dropped);

/// <summary>The end of a job's training: the best weights and the history, in the shape of Core's <see cref="TrainingResult"/>.</summary>
public sealed record TrainingFinished(
    string Job,
    float[] BestWeights,
    int BestEpoch,
    double BestValidationLoss,
    EpochReport[] Epochs,
    bool StoppedEarly,
    long Samples,
    TimeSpan Elapsed,
    long Version,
    WorkerFigures[] Workers,
    TimeSpan ServerTime,
    RoundTimes? Rounds = null) : ITrainingMessage
{
    public TrainingResult ToResult() => new(BestWeights, BestEpoch, BestValidationLoss, Epochs, StoppedEarly, Samples, Elapsed);

    public long Dropped => Workers.Sum(w => w.Dropped);
}

/// <summary>
/// What a job's rounds (sync and local-SGD) were made of, as medians over the last <paramref name="Measured"/> rounds (at
/// most <see cref="Training.RoundClock.Capacity"/>): a round from the server sending its weights to its last
/// contribution in (<paramref name="Round"/>), the slowest worker's own compute in it (<paramref name="Compute"/>), the
/// rest (<paramref name="HandOver"/>: the weights' and the contributions' ways, serialization, mailboxes and thread
/// wake-ups; within one process almost nothing, across processes the cost of distributing), and the server's averaging
/// and optimizer step that follows (<paramref name="ServerStep"/>). Each is the median of its own column, so the parts
/// need not add up to the round.
/// </summary>
public sealed record RoundTimes(long Measured, TimeSpan Round, TimeSpan Compute, TimeSpan HandOver, TimeSpan ServerStep);

/// <summary>Training stopped with an error.</summary>
public sealed record TrainingFailed(string Job, string Reason) : ITrainingMessage;

/// <summary>Ask a parameter server for its counters (tests, status).</summary>
public sealed record GetServerState(string Job) : ITrainingMessage;

/// <summary>A parameter server's counters.</summary>
public sealed record ServerState(string Job, long Version, int Epoch, long Applied, long Duplicates, long Stale, long Late) : ITrainingMessage;
