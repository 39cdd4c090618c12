using LstmCluster.Contracts;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Protocol;

/// <summary>
/// How the distributed engine trains: workers per job, aggregation mode and its knobs.
/// The global batch stays <c>TrainingOptions.BatchSize</c>; each of K workers computes B/K per round.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Workers (shards) per job, K.</summary>
    public int Workers { get; init; } = 1;

    public TrainingMode Mode { get; init; } = TrainingMode.Sync;

    /// <summary>
    /// Sync mode: how each round's global batch is drawn. <see cref="BatchSampling.Global"/> (the default) from the seed
    /// alone, so K workers train the model the single-process trainer trains, whatever K; each worker computes the
    /// batch's members in its shard. <see cref="BatchSampling.GlobalSliced"/>: the same batches, every worker holding every
    /// window and computing an even slice of each. <see cref="BatchSampling.ShardLocal"/>: each worker draws B/K from its
    /// own shard, so the batches (and the model) depend on K. Async and local-SGD workers always walk their own shards.
    /// </summary>
    public BatchSampling Sampling { get; init; } = BatchSampling.Global;

    /// <summary>The sampling a run uses: <see cref="Sampling"/> in sync mode, shard-local otherwise.</summary>
    public BatchSampling RunSampling() => Mode == TrainingMode.Sync ? Sampling : BatchSampling.ShardLocal;

    /// <summary>Async: a gradient computed at version v is applied while the master is at most v + Staleness.</summary>
    public int Staleness { get; init; } = 2;

    /// <summary>Local-SGD: local steps per averaging round.</summary>
    public int SyncPeriod { get; init; } = 4;

    /// <summary>Sync: after this long a round closes with the gradients it has, if they reach <see cref="Quorum"/>. Null waits for all.</summary>
    public TimeSpan? StragglerTimeout { get; init; }

    /// <summary>Gradients a round needs to close at the straggler timeout; null means a majority of the active workers.</summary>
    public int? Quorum { get; init; }

    /// <summary>Jobs the coordinator runs at once.</summary>
    public int MaxConcurrentJobs { get; init; } = 1;

    /// <summary>Workers in the coordinator's pool; null means <see cref="Workers"/> × <see cref="MaxConcurrentJobs"/>.</summary>
    public int? WorkerPool { get; init; }

    /// <summary>
    /// libtorch intra-op threads for each worker's and server's compute thread; null leaves libtorch's default
    /// (all cores). With K workers on a node about cores / K avoids oversubscription.
    /// </summary>
    public int? TorchThreads { get; init; }

    /// <summary>
    /// Parameter-server checkpoints (<c>--checkpoint-every</c>): one at each epoch end (at most one a second), and one at
    /// the next round boundary once this long has passed since the last, so a lost server costs at most this much work.
    /// <see cref="TimeSpan.Zero"/> checkpoints at every epoch end; null takes none (embedded runs: nothing to survive).
    /// </summary>
    public TimeSpan? CheckpointEvery { get; init; } = DefaultCheckpointEvery;

    public static readonly TimeSpan DefaultCheckpointEvery = TimeSpan.FromSeconds(30);

    public int PoolSize => WorkerPool ?? Workers * MaxConcurrentJobs;

    /// <summary>The command-line spelling of a mode: <c>sync</c>, <c>async</c> or <c>local-sgd</c>.</summary>
    public static TrainingMode ParseMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        Vocabulary.Modes.Sync => TrainingMode.Sync,
        Vocabulary.Modes.Async => TrainingMode.Async,
        Vocabulary.Modes.LocalSgd or Vocabulary.Modes.LocalSgdAlias => TrainingMode.LocalSgd,
        _ => throw new ArgumentException($"mode must be {string.Join(", ", Vocabulary.Modes.All.SkipLast(1))} or {Vocabulary.Modes.All[^1]} (got '{text}')"),
    };

    /// <summary>The command-line spelling of <paramref name="mode"/> (what <see cref="ParseMode"/> reads back).</summary>
    public static string ModeName(TrainingMode mode) => mode switch
    {
        TrainingMode.Sync => Vocabulary.Modes.Sync,
        TrainingMode.Async => Vocabulary.Modes.Async,
        TrainingMode.LocalSgd => Vocabulary.Modes.LocalSgd,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>The command-line spelling of a sampling.</summary>
    public static string SamplingName(BatchSampling sampling) => sampling switch
    {
        BatchSampling.Global => "global",
        BatchSampling.ShardLocal => "shard-local",
        BatchSampling.GlobalSliced => "global-sliced",
        _ => throw new ArgumentOutOfRangeException(nameof(sampling), sampling, null),
    };

    // What the engine's choices do, written once for every place that explains them (the CLI's options, the cluster
    // commands' form fields, the job API's document); each adds where its default comes from.
    public const string ModeHelp = "sync (exactly one large batch), async (bounded staleness) or local-sgd (periodic averaging)";
    public const string StalenessHelp = "async: apply a gradient at most this many versions old";
    public const string SyncPeriodHelp = "local-sgd: local steps between averaging rounds";
    public const string SamplingHelp = "sync mode: global (each batch drawn from the seed alone: the same model for any number of workers), "
        + "global-sliced (the same batches; every worker holds every window and computes an even B/K slice of each, so no round waits for a larger share) "
        + "or shard-local (each worker draws B/K from its own shard: the model depends on K); other modes always walk their own shards";

    /// <summary>The command-line spellings of every sampling (<see cref="SamplingName"/>).</summary>
    public static readonly string[] SamplingNames = [.. Enum.GetValues<BatchSampling>().Select(SamplingName)];

    /// <summary>A sampling from its command-line spelling: <c>global</c>, <c>shard-local</c> or <c>global-sliced</c>.</summary>
    public static BatchSampling ParseSampling(string text) => text.Trim().ToLowerInvariant() switch
    {
        "global" => BatchSampling.Global,
        "shard-local" or "shardlocal" => BatchSampling.ShardLocal,
        "global-sliced" => BatchSampling.GlobalSliced,
        _ => throw new ArgumentException($"sampling must be one of {string.Join(", ", SamplingNames)} (got '{text}')"),
    };

    public void Validate()
    {
        if (Workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {Workers})");
        if (Staleness is < 0 or > 1_000_000) throw new ArgumentException($"staleness must be between 0 and 1000000 (got {Staleness})");
        if (SyncPeriod is < 1 or > 1_000_000) throw new ArgumentException($"sync period must be between 1 and 1000000 (got {SyncPeriod})");
        if (StragglerTimeout is { } t && t <= TimeSpan.Zero) throw new ArgumentException($"straggler timeout must be positive (got {t})");
        if (Quorum is < 1) throw new ArgumentException($"quorum must be at least 1 (got {Quorum})");
        if (MaxConcurrentJobs is < 1 or > 1024) throw new ArgumentException($"concurrent jobs must be between 1 and 1024 (got {MaxConcurrentJobs})");
        if (TorchThreads is < 1 or > 1024) throw new ArgumentException($"torch threads must be between 1 and 1024 (got {TorchThreads})");
        if (CheckpointEvery is { } c && c < TimeSpan.Zero) throw new ArgumentException($"checkpoint interval must not be negative (got {c})");
        if (PoolSize < 1) throw new ArgumentException($"the worker pool must hold at least 1 worker (got {PoolSize})");
    }
}
