using Akka.Actor;
using LstmCluster.Core.Forecasting;

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
/// Higher <paramref name="Priority"/> runs first; <paramref name="Workers"/> null takes the engine's default.
/// The sender gets <see cref="JobAccepted"/> or <see cref="JobRejected"/>, and the final <see cref="JobStatus"/> when the job ends.
/// </summary>
public sealed record SubmitJob(RunOptions Options, string? CsvText = null, int Priority = 0, int? Workers = null) : IJobMessage;

/// <summary>
/// Training only, on windows already prepared (the embedded engine behind ForecastRun's <c>Trainer</c>).
/// <paramref name="Listener"/> gets <see cref="EpochProgress"/> and <see cref="TrainingFinished"/> / <see cref="TrainingFailed"/>.
/// </summary>
public sealed record SubmitTraining(TrainingSetup Setup, IActorRef Listener, int Priority = 0) : IJobMessage;

public sealed record JobAccepted(string Job) : IJobMessage;

public sealed record JobRejected(string Reason) : IJobMessage;

public sealed record GetJobStatus(string Job) : IJobMessage;

public sealed record CancelJob(string Job) : IJobMessage;

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
    double BestBaselineMase) : IJobMessage;

/// <summary>Coordinator counters: jobs by state and free workers.</summary>
public sealed record GetCoordinatorState : IJobMessage
{
    public static GetCoordinatorState Instance { get; } = new();
    private GetCoordinatorState() { }
}

public sealed record CoordinatorState(int Queued, int Running, int FreeWorkers, int TotalWorkers) : IJobMessage;
