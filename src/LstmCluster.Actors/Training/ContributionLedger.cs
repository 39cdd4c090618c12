using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Training;

/// <summary>
/// A parameter server's account of its workers' contributions (gradients, local-SGD weights): which it takes, which it
/// drops and why, and each worker's figures. A contribution is applied at most once per (version, worker). In sync and
/// local-SGD rounds one for an older version is <b>late</b>, one for a newer version or from an inactive worker
/// <b>stale</b>, a second one from the same worker for the open version a <b>duplicate</b>. In async mode a repeated
/// (version, worker) is a duplicate and one older than the staleness bound is stale. Every drop is counted for its
/// worker and in the node's metrics (<see cref="Telemetry.ClusterMetrics.GradientDropped"/>).
/// </summary>
public sealed class ContributionLedger
{
    private readonly List<long> rounds = [];
    private readonly List<long> samples = [];
    private readonly List<long> dropped = [];
    private readonly HashSet<(long Version, int Worker)> seenAsync = [];

    public ContributionLedger(int workers)
    {
        for (int k = 0; k < workers; k++) AddWorker();
    }

    public long Applied { get; private set; }
    public long Duplicates { get; private set; }
    public long Stale { get; private set; }
    public long Late { get; private set; }

    /// <summary>Workers accounted for; a contribution from an index outside them is not counted at all.</summary>
    public int Workers => rounds.Count;

    /// <summary>A worker that joined: the next index.</summary>
    public void AddWorker()
    {
        rounds.Add(0);
        samples.Add(0);
        dropped.Add(0);
    }

    /// <summary>
    /// Sync and local-SGD: whether worker <paramref name="worker"/>'s contribution for <paramref name="contributed"/>
    /// belongs to the round open at <paramref name="open"/>; counts and drops it otherwise.
    /// </summary>
    /// <param name="active">Whether the worker is one of the round's.</param>
    /// <param name="alreadyIn">Whether the round already holds a contribution of this worker.</param>
    public bool TakeForRound(int worker, long contributed, long open, bool active, bool alreadyIn)
    {
        if (contributed < open) return Drop(worker, "late");
        if (contributed > open || !active) return Drop(worker, "stale");
        if (alreadyIn) return Drop(worker, "duplicate");
        return true;
    }

    /// <summary>Async: false (counted as a duplicate) when this (version, worker) came before.</summary>
    public bool FirstAsync(int worker, long contributed) => seenAsync.Add((contributed, worker)) || Drop(worker, "duplicate");

    /// <summary>
    /// Async: whether a gradient computed at <paramref name="contributed"/> is within <paramref name="staleness"/> versions
    /// of <paramref name="current"/>; counts and drops it otherwise.
    /// </summary>
    public bool WithinStaleness(int worker, long contributed, long current, int staleness) =>
        current - contributed <= staleness && contributed <= current || Drop(worker, "stale");

    /// <summary>
    /// Async: forgets the versions older than the staleness window below <paramref name="current"/>; versions only grow,
    /// so those can never be taken again.
    /// </summary>
    public void ForgetBefore(long current, int staleness) => seenAsync.RemoveWhere(e => e.Version < current - staleness - 1);

    /// <summary>A contribution of <paramref name="worker"/> over <paramref name="windows"/> samples went into a step.</summary>
    public void Apply(int worker, int windows)
    {
        Applied++;
        rounds[worker]++;
        samples[worker] += windows;
    }

    /// <summary>Each worker's contributions applied, the samples in them, and those dropped.</summary>
    public WorkerFigures[] Figures() => [.. Enumerable.Range(0, rounds.Count).Select(k => new WorkerFigures(k, rounds[k], samples[k], dropped[k]))];

    private bool Drop(int worker, string reason)
    {
        switch (reason)
        {
            case "late": Late++; break;
            case "stale": Stale++; break;
            default: Duplicates++; break;
        }
        dropped[worker]++;
        Telemetry.ClusterMetrics.GradientDropped(reason);
        return false;
    }
}
