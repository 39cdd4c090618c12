using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// The coordinator's view of membership: the workers it may use (which are free, which train which run), the
/// parameter-server hosts it may start servers on (taken round-robin), and where each training run was placed.
/// It death-watches workers and hosts; the coordinator passes each <see cref="Terminated"/> to <see cref="Remove"/>.
/// <para>
/// A plain class owned by the coordinator rather than a child actor: every scheduling decision reads the free workers
/// and takes some in the same step. Behind a message that answer would be a round trip old, and two decisions could
/// take the same worker. Watching from the coordinator's own context also keeps membership changes in order with the
/// parameter servers' reports it forwards (see <see cref="JobRunner"/>).
/// </para>
/// </summary>
internal sealed class WorkerPool(IActorContext context, ILoggingAdapter log, bool elasticJoin)
{
    private readonly List<IActorRef> workers = [];
    private readonly HashSet<IActorRef> free = [];
    private readonly List<IActorRef> hosts = [];
    private readonly Dictionary<string, Placement> placements = [];
    private int nextHost;

    public int Total => workers.Count;

    public int Free => free.Count;

    public bool HasHosts => hosts.Count > 0;

    /// <summary>A new worker is watched and free; false when it is already in the pool.</summary>
    public bool AddWorker(IActorRef worker)
    {
        if (workers.Contains(worker)) return false;
        context.Watch(worker);
        workers.Add(worker);
        free.Add(worker);
        log.Info("worker {0} joined the pool ({1} workers)", worker.Path, workers.Count);
        return true;
    }

    public bool AddHost(IActorRef host)
    {
        if (hosts.Contains(host)) return false;
        context.Watch(host);
        hosts.Add(host);
        log.Info("parameter-server host {0} available ({1} hosts)", host.Path, hosts.Count);
        return true;
    }

    /// <summary>
    /// A stopped worker or host leaves the pool (false: neither). A worker that trained a run is not replaced: the run's
    /// parameter server watches its workers too and deals the shard to the others. For a host, <paramref name="runs"/>
    /// are the runs whose servers it held.
    /// </summary>
    public bool Remove(IActorRef actor, out string[] runs)
    {
        runs = [];
        if (workers.Remove(actor))
        {
            free.Remove(actor);
            log.Warning("worker {0} left the pool ({1} workers)", actor.Path, workers.Count);
            return true;
        }
        if (!hosts.Remove(actor)) return false;
        log.Warning("parameter-server host {0} left ({1} hosts)", actor.Path, hosts.Count);
        runs = [.. placements.Values.Where(p => p.Host.Equals(actor)).Select(p => p.Run)];
        return true;
    }

    /// <summary>Takes <paramref name="count"/> free workers and the next host for a run; the caller has checked both are there.</summary>
    public Placement Place(string job, string run, int count)
    {
        var assigned = free.Take(count).ToList();
        foreach (var w in assigned) free.Remove(w);
        var placement = new Placement(job, run, hosts[nextHost++ % hosts.Count], assigned);
        placements[run] = placement;
        return placement;
    }

    /// <summary>The run no longer trains: its workers still in the pool are free (one that left meanwhile is gone for good).</summary>
    public void Release(string run)
    {
        if (!placements.Remove(run, out var placement)) return;
        foreach (var w in placement.Workers.Where(workers.Contains)) free.Add(w);
    }

    /// <summary>
    /// A run's parameter server is up. An elastic run (<paramref name="joiners"/>: it takes every free worker, sync or
    /// local SGD) takes workers that come free from now on; and the free workers are offered to the elastic runs now.
    /// </summary>
    public void ServerStarted(string run, Joiners? joiners)
    {
        if (joiners is not null && placements.TryGetValue(run, out var placement)) placement.Joiners = joiners;
        foreach (var w in free.ToList()) Grow(w);
    }

    /// <summary>
    /// Elastic join: a free worker goes to the elastic run that comes first (priority, then submission; the queue came
    /// first), whose parameter server deals it a shard at the next epoch boundary.
    /// </summary>
    public void Grow(IActorRef worker)
    {
        if (!elasticJoin || !free.Contains(worker)) return;
        var target = placements.Values.Where(p => p.Joiners is not null)
            .OrderByDescending(p => p.Joiners!.Priority).ThenBy(p => p.Joiners!.Sequence).FirstOrDefault();
        if (target is null) return;
        free.Remove(worker);
        target.Workers.Add(worker);
        target.Joiners!.Runner.Tell(new JoinWorker(target.Run, worker), context.Self);
        log.Info("job {0}: worker {1} joins the running job", target.Job, worker.Path);
    }

    /// <summary>Where a run trains: its parameter server's host and its workers (joiners included).</summary>
    public sealed class Placement(string job, string run, IActorRef host, List<IActorRef> workers)
    {
        public string Job { get; } = job;

        public string Run { get; } = run;

        public IActorRef Host { get; } = host;

        public List<IActorRef> Workers { get; } = workers;

        /// <summary>Set once the run is open to joining workers.</summary>
        public Joiners? Joiners { get; set; }
    }

    /// <summary>An elastic run's runner (which passes a worker on to its server) and its place in the queue's order.</summary>
    public sealed record Joiners(IActorRef Runner, int Priority, long Sequence);
}
