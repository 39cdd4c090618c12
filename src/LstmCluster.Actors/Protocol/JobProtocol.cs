using Akka.Actor;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Protocol;

/// <summary>Marker for the messages between clients and the coordinator.</summary>
public interface IJobMessage;

public enum JobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>
/// A forecasting job: train, evaluate against baselines, forecast. The data is the file at
/// <c>Options.Data.Path</c>, or <paramref name="CsvText"/> when given (the path is then only a label).
/// Higher <paramref name="Priority"/> runs first; <paramref name="Workers"/> null takes the engine's default (on a cluster:
/// every free worker). <paramref name="Mode"/>, <paramref name="Staleness"/>, <paramref name="SyncPeriod"/> and <paramref name="Sampling"/>
/// null keep the engine's; <paramref name="Sampling"/> only matters in sync mode (<see cref="EngineOptions.RunSampling"/>).
/// <paramref name="Owner"/> names who submitted it (the job API's token name; null on an open API): the API lets an owner cancel
/// and delete its own jobs, and only an admin those of others.
/// The sender gets <see cref="JobAccepted"/> or <see cref="JobRejected"/>, and the final <see cref="JobStatus"/> when the job ends.
/// </summary>
public sealed record SubmitJob(RunOptions Options, string? CsvText = null, int Priority = 0, int? Workers = null,
    TrainingMode? Mode = null, int? Staleness = null, int? SyncPeriod = null, BatchSampling? Sampling = null, string? Owner = null) : IJobMessage
{
    /// <summary>The engine options this job trains with: <paramref name="engine"/> with the job's own choices over it.</summary>
    public EngineOptions Apply(EngineOptions engine) => engine with
    {
        Mode = Mode ?? engine.Mode,
        Staleness = Staleness ?? engine.Staleness,
        SyncPeriod = SyncPeriod ?? engine.SyncPeriod,
        Sampling = Sampling ?? engine.Sampling,
    };
}

/// <summary>
/// Training only, on windows already prepared (the embedded engine behind ForecastRun's <c>Trainer</c>).
/// <paramref name="Listener"/> gets <see cref="EpochProgress"/> and <see cref="TrainingFinished"/> / <see cref="TrainingFailed"/>.
/// </summary>
public sealed record SubmitTraining(TrainingSetup Setup, IActorRef Listener, int Priority = 0) : IJobMessage;

public sealed record JobAccepted(string Job) : IJobMessage;

/// <summary>
/// The job was not accepted. <paramref name="Busy"/>: only because the queue is full (try again later);
/// <paramref name="OverQuota"/>: its owner's stored jobs are at <c>--max-stored-mb-per-owner</c> (delete some, then again).
/// </summary>
public sealed record JobRejected(string Reason, bool Busy = false, bool OverQuota = false) : IJobMessage;

public sealed record GetJobStatus(string Job) : IJobMessage;

public sealed record CancelJob(string Job) : IJobMessage;

/// <summary>Cancels a queued or running job (answered like <see cref="CancelJob"/>); deletes a finished one with its files (<see cref="JobRemoved"/>).</summary>
public sealed record DeleteJob(string Job) : IJobMessage;

/// <summary>The finished job and its files are gone.</summary>
public sealed record JobRemoved(string Job) : IJobMessage;

/// <summary>No job has that id.</summary>
public sealed record UnknownJob(string Job) : IJobMessage;

/// <summary>
/// Where a job stands. <paramref name="Forecast"/> holds the next H values once it succeeded;
/// <paramref name="TestMase"/> the model's MASE on the test split and <paramref name="BestBaseline"/> the
/// best naive baseline's name and MASE there.
/// </summary>
public sealed record JobStatus(
    string Job,
    JobState State,
    int Epoch,
    int Epochs,
    double TrainLoss,
    double ValidationLoss,
    string? Reason,
    double[]? Forecast,
    double TestMase,
    string? BestBaseline,
    double BestBaselineMase) : IJobMessage
{
    /// <summary>Master versions so far (optimizer steps, or local-SGD averagings).</summary>
    public long Round { get; init; }

    /// <summary>Training throughput of the last epoch (windows per second over the job so far).</summary>
    public double SamplesPerSecond { get; init; }

    /// <summary>Workers training the job now; after it ended, the workers it trained on last (0 while queued).</summary>
    public int Workers { get; init; }

    /// <summary>The data's label (file name, or the uploaded file's name) and the target column.</summary>
    public string? Data { get; init; }

    public string? Target { get; init; }

    /// <summary>Timestamps of <see cref="JobStatus.Forecast"/>'s points (ISO 8601 or step numbers), when it has them.</summary>
    public string[]? ForecastTimes { get; init; }

    /// <summary>When the job was submitted, started and finished (UTC); null when it has not.</summary>
    public DateTimeOffset? Submitted { get; init; }

    public DateTimeOffset? Started { get; init; }

    public DateTimeOffset? Finished { get; init; }

    /// <summary>Training runs started for the job (more than one when a coordinator restart or a lost parameter server cut a run off).</summary>
    public int Attempts { get; init; }

    /// <summary>Epochs the current attempt took over from a checkpoint (0: it trained from the start).</summary>
    public int ResumedFrom { get; init; }

    /// <summary>Who submitted the job (<see cref="SubmitJob.Owner"/>); null when nobody was named.</summary>
    public string? Owner { get; init; }

    /// <summary>The job group it trains one series of (<see cref="GroupStatus"/>); null for a job of its own.</summary>
    public string? Group { get; init; }

    /// <summary>
    /// <c>--normalize auto</c>: the candidate kept (the lowest validation error) and every candidate's validation and test
    /// MASE; null for a job that trained one normalization, or before it succeeded.
    /// </summary>
    public string? Normalization { get; init; }

    /// <summary>A quantile head's levels (increasing); null for a point head or before the job succeeded.</summary>
    public double[]? ForecastLevels { get; init; }

    /// <summary>Per level of <see cref="ForecastLevels"/>, the forecast's values (calibrated intervals) step by step.</summary>
    public double[][]? ForecastQuantiles { get; init; }

    /// <summary>
    /// While the job waits in the queue: the waiting jobs that start before it in the queue's order now (0: it is next).
    /// Later submissions of a higher priority, or of an owner whose turn comes first, may still go before it. Null otherwise.
    /// </summary>
    public int? Ahead { get; init; }
}

/// <summary>Every job the coordinator knows, newest first.</summary>
public sealed record ListJobs : IJobMessage
{
    public static ListJobs Instance { get; } = new();
    private ListJobs() { }
}

public sealed record JobList(JobStatus[] Jobs) : IJobMessage;

/// <summary>Asks for a job's losses per epoch (the dashboard's live curve).</summary>
public sealed record GetJobHistory(string Job) : IJobMessage;

/// <summary>
/// A job's train and validation loss per epoch, as its parameter server reported them, epoch by epoch. Held in the
/// coordinator's memory only (the journal keeps the latest epoch): empty for a job that ended before this coordinator
/// started, whose metrics.json has them (<c>training.history</c>). A resumed attempt replaces the epochs it trains again; above
/// 2000 epochs the curve is evenly thinned (the latest epoch kept) so the reply stays small.
/// </summary>
public sealed record JobHistory(string Job, JobState State, int[] Epochs, double[] TrainLoss, double[] ValidationLoss) : IJobMessage;

/// <summary>Asks for the files a finished job left (the same files <c>lstmcluster train</c> writes).</summary>
public sealed record GetJobArtifacts(string Job) : IJobMessage;

/// <summary>
/// A job's output files by relative name (<c>metrics.json</c>, <c>forecast.csv</c>, <c>forecast.png</c>, <c>model/weights.bin</c>, ...);
/// empty until the job succeeded, or when the coordinator runs without an <see cref="Jobs.ArtifactWriter"/>.
/// </summary>
public sealed record JobArtifacts(string Job, JobState State, IReadOnlyDictionary<string, byte[]> Files) : IJobMessage;

/// <summary>Coordinator counters: jobs by state and free workers.</summary>
public sealed record GetCoordinatorState : IJobMessage
{
    public static GetCoordinatorState Instance { get; } = new();
    private GetCoordinatorState() { }
}

public sealed record CoordinatorState(int Queued, int Running, int FreeWorkers, int TotalWorkers) : IJobMessage
{
    /// <summary>Training messages dropped because their run is not running here (an older attempt's parameter server).</summary>
    public long Fenced { get; init; }
}
