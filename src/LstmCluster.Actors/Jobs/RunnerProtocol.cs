using Akka.Actor;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

// Between the coordinator and its JobRunners: in-process only (a runner is the coordinator's child), so nothing here
// is bound to a serializer.

/// <summary>
/// One attempt of a job, as the coordinator hands it to a <see cref="JobRunner"/>: the setup with its run id, workers
/// and checkpoint filled in, the host to start its parameter server on, and what to do with the result.
/// </summary>
/// <param name="StoreCheckpoints">Journaled jobs only: nothing resumes an in-memory one.</param>
/// <param name="Evaluation">Evaluate and write the job's files; null when the job's listener does that (the embedded engine).</param>
/// <param name="Candidates">
/// <c>--normalize auto</c>: one sub-run per candidate normalization, each with its own parameter server on
/// <paramref name="Host"/>, instead of <paramref name="Setup"/>; null for a job that trains one model.
/// </param>
/// <param name="Concurrent">The candidates train at the same time, on disjoint workers; else one after the other on all of them.</param>
internal sealed record RunPlan(
    string Job,
    string Run,
    TrainingSetup Setup,
    IActorRef Host,
    IActorRef[] Workers,
    bool StoreCheckpoints,
    RunEvaluation? Evaluation,
    JobStore Store,
    IReadOnlyList<CandidateRun>? Candidates = null,
    bool Concurrent = false)
{
    /// <summary>
    /// The sub-run id of a candidate: its attempt's run id, <c>~</c>, and the normalization. The coordinator routes a
    /// sub-run's messages by the part before <c>~</c> (<see cref="RunOf"/>).
    /// </summary>
    public static string SubRun(string run, Normalization normalize) => $"{run}~{NormalizationNames.Name(normalize)}";

    /// <summary>The attempt's run id of a (sub-)run id.</summary>
    public static string RunOf(string run) => run.IndexOf('~') is var i and >= 0 ? run[..i] : run;

    /// <summary>
    /// Splits <paramref name="workers"/> among <paramref name="candidates"/> candidates: disjoint groups (dealt round-robin)
    /// when each gets at least two, so they train at the same time; else every candidate gets them all, in turn. Two per
    /// group because a candidate's server fails when its last worker is gone: with two, losing any one worker node still
    /// leaves every candidate a worker to take over its shard, as for a job of one run.
    /// </summary>
    public static (IActorRef[][] Groups, bool Concurrent) Split(IReadOnlyList<IActorRef> workers, int candidates)
    {
        if (candidates < 2 || workers.Count < 2 * candidates) return ([.. Enumerable.Repeat(workers.ToArray(), Math.Max(1, candidates))], false);
        return ([.. Enumerable.Range(0, candidates).Select(c => workers.Where((_, i) => i % candidates == c).ToArray())], true);
    }
}

/// <summary>
/// One candidate normalization of an auto job: the sub-run that trains it (<see cref="TrainingSetup.Job"/> is the
/// sub-run id), its workers, and the options and data to evaluate it with.
/// </summary>
internal sealed record CandidateRun(TrainingSetup Setup, IActorRef[] Workers, RunOptions Options, PreparedData Data)
{
    public string Run => Setup.Job;
}

/// <summary>
/// What evaluating a finished run takes: the options as trained (data at the stored upload), as submitted (the
/// files are labelled with the name the user gave), the prepared data, and the writer of the job's files.
/// </summary>
/// <param name="Global">Strategy global: the series the model trained on, each evaluated on its own windows (<paramref name="Data"/> is their joined set).</param>
internal sealed record RunEvaluation(RunOptions Options, RunOptions Submitted, PreparedData Data, ArtifactWriter? Artifacts, string EngineLabel,
    GlobalPreparation? Global = null);

/// <summary>The coordinator saw the host of the run's parameter server leave (the runner reports the server lost).</summary>
internal sealed record HostLeft : INoSerializationVerificationNeeded
{
    public static HostLeft Instance { get; } = new();
    private HostLeft() { }
}

/// <summary>The job was cancelled: stop its parameter server and end the run.</summary>
internal sealed record CancelRun : INoSerializationVerificationNeeded
{
    public static CancelRun Instance { get; } = new();
    private CancelRun() { }
}

/// <summary>What a runner tells the coordinator about its attempt <paramref name="Run"/> of job <paramref name="Job"/>.</summary>
internal abstract record RunReport(string Job, string Run) : INoSerializationVerificationNeeded;

/// <summary>The run's parameter server is up (workers may join it from now on).</summary>
internal sealed record RunServerStarted(string Job, string Run) : RunReport(Job, Run);

/// <summary>An epoch ended; the coordinator updates the job and decides whether to journal it.</summary>
internal sealed record RunProgressed(string Job, string Run, EpochProgress Epoch) : RunReport(Job, Run);

/// <summary>The server took a checkpoint: the point the job's next attempt resumes from, from now on (it is being stored).</summary>
internal sealed record RunCheckpointed(string Job, string Run, TrainingCheckpoint Checkpoint) : RunReport(Job, Run);

/// <summary>A checkpoint is in the store (<paramref name="Stored"/>), or could not be written (<paramref name="Problem"/>).</summary>
internal sealed record RunCheckpointStored(string Job, string Run, CheckpointRef? Stored, string? Problem) : RunReport(Job, Run);

/// <summary>Training is over: the run's workers are free. The runner evaluates next, unless the job has a listener.</summary>
internal sealed record RunTrained(string Job, string Run, TrainingFinished Finished) : RunReport(Job, Run);

/// <summary>The job's files are in the store; the figures a status shows.</summary>
/// <param name="Normalization">With <c>--normalize auto</c>: the candidates' validation errors and which one was kept.</param>
/// <param name="ForecastLevels">A quantile head's levels; null for a point head.</param>
/// <param name="ForecastQuantiles">Per level of <paramref name="ForecastLevels"/>, the forecast's values (calibrated) step by step.</param>
/// <param name="Series">Strategy global: each series' figures (<paramref name="TestMase"/> is then their median, <paramref name="Forecast"/> empty).</param>
internal sealed record RunSucceeded(string Job, string Run, double[] Forecast, string[] ForecastTimes, double TestMase,
    string? BestBaseline, double BestBaselineMase, string? Normalization = null, double[]? ForecastLevels = null,
    double[][]? ForecastQuantiles = null, SeriesFigures[]? Series = null) : RunReport(Job, Run)
{
    /// <summary>The validation split's figures (what a sweep ranks trials by; the test split never chooses).</summary>
    public ValidationFigures? Validation { get; init; }
}

/// <summary>Training or evaluation failed.</summary>
internal sealed record RunFailed(string Job, string Run, string Reason) : RunReport(Job, Run);

/// <summary>The run's parameter server is gone without a result (<paramref name="What"/> says how).</summary>
internal sealed record RunServerLost(string Job, string Run, string What) : RunReport(Job, Run);
