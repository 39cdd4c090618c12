using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// What the coordinator's journal holds about one job: everything a status query or a restart needs, and
/// references (never bytes) to the files in the <see cref="JobStore"/>. Immutable; events replace it.
/// </summary>
public sealed record JobRecord
{
    public required string Id { get; init; }
    /// <summary>Order of submission; ids are <c>job-{Sequence}</c> and never reused on the same journal.</summary>
    public required long Sequence { get; init; }
    public int Priority { get; init; }
    /// <summary>The job group it is a member of (<c>group-N</c>), training one series of it; null for a job of its own.</summary>
    public string? Group { get; init; }
    /// <summary>Who submitted the job (<see cref="SubmitJob.Owner"/>); null in journals written before owners were kept.</summary>
    public string? Owner { get; init; }
    /// <summary>Workers the job asked for (0: every free worker when it starts).</summary>
    public int Workers { get; init; }
    /// <summary>The options as submitted (data path as the client named it); null for an embedded engine's in-memory job.</summary>
    public RunOptions? Options { get; init; }
    /// <summary>The uploaded data's file name inside the job's folder of the store; null when the job names a file under the data root.</summary>
    public string? Upload { get; init; }
    public TrainingMode? Mode { get; init; }
    public int? Staleness { get; init; }
    public int? SyncPeriod { get; init; }
    /// <summary>The job's own batch sampling (<see cref="SubmitJob.Sampling"/>); null keeps the engine's, as in journals written before jobs chose it.</summary>
    public BatchSampling? Sampling { get; init; }
    public string? Data { get; init; }
    public string? Target { get; init; }
    public JobState State { get; init; } = JobState.Queued;
    public string? Reason { get; init; }
    public DateTimeOffset? Submitted { get; init; }
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>Training runs started for this job; a run cut off by a coordinator restart is started again, up to a bound.</summary>
    public int Attempts { get; init; }
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    public double TrainLoss { get; init; } = double.NaN;
    public double ValidationLoss { get; init; } = double.NaN;
    public long Round { get; init; }
    public double SamplesPerSecond { get; init; }
    public int ActiveWorkers { get; init; }
    public double[]? Forecast { get; init; }
    public string[]? ForecastTimes { get; init; }
    public double TestMase { get; init; } = double.NaN;
    public string? BestBaseline { get; init; }
    public double BestBaselineMase { get; init; } = double.NaN;
    /// <summary>Epochs the current attempt took over from a checkpoint (0: from the start).</summary>
    public int ResumedFrom { get; init; }
    /// <summary><c>--normalize auto</c>'s choice on validation and every candidate's errors, once the job succeeded.</summary>
    public string? Normalization { get; init; }
    /// <summary>A quantile head's levels and, per level, the forecast step by step; null for a point head.</summary>
    public double[]? ForecastLevels { get; init; }
    public double[][]? ForecastQuantiles { get; init; }
    /// <summary>The validation split's figures once the job succeeded (null before, and in older journals).</summary>
    public ValidationFigures? Validation { get; init; }
    /// <summary>A global model's job (strategy global): each series' test figures and forecast, once it succeeded; null otherwise.</summary>
    public SeriesFigures[]? Series { get; init; }
    /// <summary>The job's last parameter-server checkpoint (in the store as <c>jobs/{id}/checkpoint.bin</c>) while it is not finished.</summary>
    public CheckpointRef? Checkpoint { get; init; }

    public bool Ended => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}

/// <summary>
/// One series of a global model's job: its test MASE, naive's and the best baseline's, and its forecast (values and time
/// labels), which the group's status and summary show per series.
/// </summary>
public sealed record SeriesFigures(string Symbol, double TestMase, double NaiveMase, string? BestBaseline, double BestBaselineMase,
    double[] Forecast, string[] ForecastTimes);

/// <summary>Where a stored checkpoint stands: epoch (1-based, <paramref name="Step"/> of its steps done), master version, and its SHA-256.</summary>
public sealed record CheckpointRef(int Epoch, int Step, long Version, string Checksum, DateTimeOffset At);

/// <summary>Marker for the coordinator's journal events and snapshots (bound to <see cref="Serialization.JobEventSerializer"/>).</summary>
public interface IJobEvent;

/// <summary>A job was accepted: its options, data reference and place in the queue.</summary>
public sealed record JobSubmitted(JobRecord Job) : IJobEvent;

/// <summary>
/// A training run of the job started (attempt counts from 1); a run resumed from a checkpoint starts with
/// <paramref name="FromEpoch"/> epochs done at master version <paramref name="FromRound"/>.
/// </summary>
public sealed record JobStarted(string Job, int Attempt, DateTimeOffset At, int Workers, int FromEpoch = 0, long FromRound = 0) : IJobEvent;

/// <summary>The job's parameter server took a checkpoint, now in the store (the file is written before this is journaled).</summary>
public sealed record JobCheckpointed(string Job, CheckpointRef Checkpoint) : IJobEvent;

/// <summary>Where a running job stands; journaled sparsely (see <see cref="CoordinatorSettings.ProgressInterval"/>).</summary>
public sealed record JobProgressed(string Job, int Epoch, int Epochs, double TrainLoss, double ValidationLoss, long Round,
    double SamplesPerSecond, int Workers) : IJobEvent;

/// <summary>A run was cut off (a coordinator restart, its parameter server lost) and the job waits in the queue for its next attempt.</summary>
public sealed record JobRequeued(string Job, string Reason) : IJobEvent;

/// <summary>The job succeeded; its files are in the store. Carries the figures a status query shows.</summary>
/// <param name="Normalization">With <c>--normalize auto</c>: which candidate was kept and each one's errors (absent in older journals).</param>
public sealed record JobSucceeded(string Job, DateTimeOffset At, JobProgressed Last, double[] Forecast, string[] ForecastTimes,
    double TestMase, string? BestBaseline, double BestBaselineMase, string? Normalization = null) : IJobEvent
{
    /// <summary>A quantile head's levels (absent for a point head and in older journals).</summary>
    public double[]? ForecastLevels { get; init; }

    /// <summary>Per level of <see cref="ForecastLevels"/>, the forecast's values step by step.</summary>
    public double[][]? ForecastQuantiles { get; init; }

    /// <summary>The validation split's figures (absent in older journals).</summary>
    public ValidationFigures? Validation { get; init; }
    /// <summary>A global model's job: each series' figures (absent for any other job and in older journals).</summary>
    public SeriesFigures[]? Series { get; init; }
}

/// <summary>
/// A succeeded job's validation-split figures: its model's MASE and naive's on the same windows, the epochs it ran and its
/// best epoch. A sweep ranks its trials by <paramref name="Mase"/>.
/// </summary>
public sealed record ValidationFigures(double Mase, double NaiveMase, int EpochsRun, int BestEpoch);

public sealed record JobFailed(string Job, DateTimeOffset At, string Reason) : IJobEvent;

public sealed record JobCancelled(string Job, DateTimeOffset At, string Reason) : IJobEvent;

/// <summary>The job and its files were deleted (on request, or by retention).</summary>
public sealed record JobDeleted(string Job) : IJobEvent;

/// <summary>The whole registry, so recovery reads one snapshot and the events after it.</summary>
public sealed record RegistrySnapshot(long Sequence, JobRecord[] Jobs) : IJobEvent
{
    /// <summary>The job groups (null in snapshots written before groups existed).</summary>
    public GroupRecord[]? Groups { get; init; }
}

/// <summary>Applies events to records: the one place that says what each event means, for live updates and recovery alike.</summary>
public static class JobEvents
{
    public static JobRecord Apply(JobRecord job, IJobEvent e) => e switch
    {
        // An attempt starts from its checkpoint (or from the start): its progress too.
        JobStarted s => job with
        {
            State = JobState.Running, Attempts = s.Attempt, Started = s.At, ActiveWorkers = s.Workers, Reason = null,
            Epoch = s.FromEpoch, Round = s.FromRound, SamplesPerSecond = 0, ResumedFrom = s.FromEpoch,
            TrainLoss = s.FromEpoch > 0 ? job.TrainLoss : double.NaN, ValidationLoss = s.FromEpoch > 0 ? job.ValidationLoss : double.NaN,
        },
        JobCheckpointed c => job with { Checkpoint = c.Checkpoint },
        JobProgressed p => Progress(job, p),
        JobRequeued r => job with { State = JobState.Queued, Reason = r.Reason, ActiveWorkers = 0 },
        // A finished job's checkpoint is deleted: nothing resumes it.
        JobSucceeded s => Progress(job, s.Last) with
        {
            State = JobState.Succeeded, Finished = s.At, Reason = null, Forecast = s.Forecast, ForecastTimes = s.ForecastTimes,
            TestMase = s.TestMase, BestBaseline = s.BestBaseline, BestBaselineMase = s.BestBaselineMase, Checkpoint = null,
            Normalization = s.Normalization, ForecastLevels = s.ForecastLevels, ForecastQuantiles = s.ForecastQuantiles,
            Validation = s.Validation, Series = s.Series,
        },
        JobFailed f => job with { State = JobState.Failed, Finished = f.At, Reason = f.Reason, Checkpoint = null },
        JobCancelled c => job with { State = JobState.Cancelled, Finished = c.At, Reason = c.Reason, Checkpoint = null },
        _ => job,
    };

    private static JobRecord Progress(JobRecord job, JobProgressed p) => job with
    {
        Epoch = p.Epoch, Epochs = p.Epochs, TrainLoss = p.TrainLoss, ValidationLoss = p.ValidationLoss, Round = p.Round,
        SamplesPerSecond = p.SamplesPerSecond, ActiveWorkers = p.Workers > 0 ? p.Workers : job.ActiveWorkers,
    };
}
