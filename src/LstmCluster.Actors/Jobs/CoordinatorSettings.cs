using Akka.Actor;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// How a coordinator finds its workers and parameter servers, and what it leaves behind for a finished job.
/// </summary>
public sealed record CoordinatorSettings
{
    public EngineOptions Engine { get; init; } = new();

    /// <summary>
    /// Workers the coordinator creates as its own children (the embedded engine); null means
    /// <see cref="EngineOptions.PoolSize"/>. 0 on a cluster: workers arrive as <see cref="WorkerAvailable"/>,
    /// a job then waits for enough of them instead of being rejected, and a job that names no worker count
    /// takes every free worker.
    /// </summary>
    public int? LocalWorkers { get; init; }

    /// <summary>Start parameter servers on a child <see cref="ParameterServerHost"/> (embedded); false waits for <see cref="ParameterServerHostAvailable"/>.</summary>
    public bool LocalParameterServers { get; init; } = true;

    /// <summary>Renders a finished job's files (<see cref="GetJobArtifacts"/>); null keeps none.</summary>
    public ArtifactWriter? Artifacts { get; init; }

    /// <summary>Writes a finished job group's files (summary, per-series table, forecast with a symbol column, grid plot); without one a group has no files.</summary>
    public GroupWriter? GroupFiles { get; init; }

    /// <summary>Written into metrics.json as the engine that trained.</summary>
    public string EngineLabel { get; init; } = "embedded-actors";

    /// <summary>
    /// A child that finds workers and parameter-server hosts and tells its parent (this coordinator)
    /// <see cref="WorkerAvailable"/> / <see cref="ParameterServerHostAvailable"/>: <c>Cluster.ClusterDiscovery</c> on a cluster.
    /// </summary>
    public Props? Discovery { get; init; }

    /// <summary>Finished jobs kept, with their files (the oldest are deleted first): <c>--keep-jobs</c>.</summary>
    public int History { get; init; } = 1000;

    /// <summary>What one job may cost and how many may wait: checked before a submission is accepted.</summary>
    public JobBudget Budget { get; init; } = new();

    /// <summary>Finished jobs older than this are deleted with their files (<c>--keep-days</c>); null keeps them by count only.</summary>
    public TimeSpan? KeepFor { get; init; }

    /// <summary>
    /// Where uploads and finished jobs' files live (<c>--state-dir</c>); null gives the coordinator a private temporary
    /// store, deleted when it stops (embedded runs, tests).
    /// </summary>
    public JobStore? Store { get; init; }

    /// <summary>The journal as an operator knows it (the SQLite file, or the database), for error messages.</summary>
    public string JournalName { get; init; } = "in-memory journal";

    /// <summary>Called when the journal cannot be read at recovery (the node exits with the reason); null: the coordinator only stops.</summary>
    public Action<string>? JournalUnreadable { get; init; }

    /// <summary>The journal's id for this coordinator's job registry: one registry per journal.</summary>
    public string PersistenceId { get; init; } = "lstmcluster-coordinator";

    /// <summary>A running job's progress is journaled at most this often (the first epoch always).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A snapshot of the registry after this many events, so recovery reads one snapshot and a few events.</summary>
    public int SnapshotEvery { get; init; } = 200;

    /// <summary>A worker that joins while a job that takes every free worker runs is added to it at its next epoch (sync, local SGD).</summary>
    public bool ElasticJoin { get; init; } = true;

    /// <summary>Training runs a job gets when coordinator restarts cut them off; then it fails with the reason.</summary>
    public int MaxAttempts { get; init; } = 3;

    internal bool FixedPool => (LocalWorkers ?? Engine.PoolSize) > 0;
}
