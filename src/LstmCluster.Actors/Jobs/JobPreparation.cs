using Akka.Actor;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// Gets a submitted job ready to run, off the coordinator's mailbox: its data is read, checked and windowed, and a
/// recovered job's stored checkpoint is read back.
/// </summary>
/// <remarks>
/// The coordinator does this itself, not the job's <see cref="JobRunner"/>: a submission is accepted only once its data
/// loads, and a recovered job holds its place at the head of the queue while it loads (the jobs behind it wait). Both
/// are the queue's decisions, and a runner exists only once a job has its workers.
/// </remarks>
internal static class JobPreparation
{
    /// <summary>
    /// The job's data, ready to train; for a recovered job also its stored checkpoint, or why that cannot be used. For
    /// <c>--normalize auto</c> with more than one candidate, <paramref name="Candidates"/> holds each candidate's options
    /// and windows (<see cref="ForecastRun.Candidates"/>), <paramref name="Data"/> being the first's.
    /// </summary>
    public sealed record Prepared(string Job, PreparedData Data, TrainingCheckpoint? Checkpoint, string? CheckpointProblem,
        IReadOnlyList<(RunOptions Options, PreparedData Data)>? Candidates = null) : INoSerializationVerificationNeeded
    {
        /// <summary>Strategy global: every series prepared alone; <see cref="Data"/> is their joined windows.</summary>
        public GlobalPreparation? Global { get; init; }
    }

    /// <param name="Skipped">Strategy global with no usable series: each series and why it cannot be used.</param>
    public sealed record PrepareFailed(string Job, string Reason, IReadOnlyList<SkippedSeries>? Skipped = null) : INoSerializationVerificationNeeded;

    /// <summary>Loads and windows the job's data off the actor; <paramref name="replyTo"/> gets <see cref="Prepared"/> or <see cref="PrepareFailed"/>.</summary>
    public static void Start(JobRecord record, JobStore store, bool loadCheckpoint, IActorRef replyTo)
    {
        var options = OptionsOf(record, store);
        int workers = Math.Max(1, record.Workers);
        string id = record.Id;
        string? upload = record.Upload is { } u ? store.UploadPath(record.Group ?? id, u) : null;
        string label = record.Data ?? "data";
        Task.Run<object>(() =>
        {
            if (options.Strategy == SeriesStrategy.Global && SeriesSelection.IsMany(options.Data.Symbol))
            {
                // One model over the series: each prepared alone (too short ones skipped), their windows joined (GlobalRun).
                var global = GlobalRun.Prepare(options, SeriesSelection.Names(options.Data.Symbol!));
                if (global.Joined is not { } joined) return new PrepareFailed(id, global.NoneUsable(label), global.Skipped);
                _ = new BatchPlan(joined.Train.Count, workers, options.Training.BatchSize, options.Training.Seed);
                var (stored, storedProblem) = loadCheckpoint ? LoadCheckpoint(store, id) : (null, null);
                return new Prepared(id, joined, stored, storedProblem) { Global = global };
            }
            var data = ForecastRun.Prepare(options);
            _ = new BatchPlan(data.Train.Count, workers, options.Training.BatchSize, options.Training.Seed);
            // An auto job trains every candidate and never checkpoints (a lost server starts it over): no checkpoint to read.
            var candidates = options.AutoNormalize && ForecastRun.NormalizationCandidates(options.Preprocessing).Count > 1
                ? ForecastRun.Candidates(options, data)
                : null;
            var (checkpoint, problem) = loadCheckpoint && candidates is null ? LoadCheckpoint(store, id) : (null, null);
            return new Prepared(id, data, checkpoint, problem, candidates);
        }).PipeTo(replyTo, failure: e => new PrepareFailed(id, ReasonFor(e, upload, label)));
    }

    /// <summary>What every attempt of a submitted job trains: its windows and model, with the job's own engine choices over the coordinator's.</summary>
    public static TrainingSetup Setup(JobRecord record, JobStore store, PreparedData data, EngineOptions engine)
    {
        var options = OptionsOf(record, store);
        var jobEngine = new SubmitJob(options, null, 0, null, record.Mode, record.Staleness, record.SyncPeriod, record.Sampling).Apply(engine);
        return new TrainingSetup(record.Id, options.Spec(data.Preprocessor.InputSize), data.Train, data.Validation,
            options.Training, jobEngine with { Workers = Math.Max(1, record.Workers) }, null);
    }

    /// <summary>The job's options with its data pointing at the stored upload (when it has one).</summary>
    public static RunOptions OptionsOf(JobRecord record, JobStore store)
    {
        var options = record.Options ?? throw new InvalidOperationException($"job {record.Id} has no options");
        // A group's members share the upload stored once in the group's folder.
        return record.Upload is { } name ? options with { Data = options.Data with { Path = store.UploadPath(record.Group ?? record.Id, name) } } : options;
    }

    /// <summary>The reason to show a user: data errors name the file as the client sent it, never the server's copy.</summary>
    public static string ReasonFor(Exception e, string? storedPath, string? label)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        if (e is DataException d && storedPath is not null && label is not null && d.File == storedPath)
            return d.Line is { } line ? $"{label}:{line}: {d.Problem}" : $"{label}: {d.Problem}";
        return e.Message;
    }

    /// <summary>A recovered job's stored checkpoint, or why it cannot be used (the job then trains from the start).</summary>
    private static (TrainingCheckpoint?, string?) LoadCheckpoint(JobStore files, string id)
    {
        string name = JobStore.CheckpointName(id);
        try
        {
            return files.ReadCheckpoint(id) is { } bytes ? (CheckpointCodec.FromFile(bytes, name), null) : (null, $"{name} is missing");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, e is InvalidDataException ? e.Message : $"{name} cannot be read: {e.Message}");
        }
    }
}
