using Akka.Actor;
using Akka.Event;
using Akka.Remote;

namespace LstmCluster.Actors.Training;

/// <summary>
/// The parameter server's child that answers one question: is each of its workers still there? The server tells it
/// every worker it deals a shard to or admits (<see cref="Watch"/>); it tells the server, once per worker,
/// <see cref="Lost"/> when that worker stopped (<see cref="Terminated"/>) or when its node's connection closed and the
/// worker does not answer a probe. The server decides what a loss means (its shard goes to the others, or the job fails
/// when none is left); this actor only watches, so the server keeps to rounds, epochs and shards.
/// <para>
/// Why probe: a worker process that died closes its TCP connection at once, while the cluster's failure detector (which a
/// busy, GC-pausing node must not trip) takes 10 s or more and the resolver's decision as much again, all the
/// while holding every round of a sync job back. So on a <see cref="DisassociatedEvent"/> each watched worker on that node
/// is sent <see cref="Identify"/> (which reconnects if the node is alive): one that does not answer within the probe
/// timeout, or whose probe the transport could not deliver, is lost. A node that is merely slow keeps its connection and
/// is never probed; one whose connection dropped but that answers keeps its worker.
/// </para>
/// </summary>
public sealed class WorkerLiveness : ReceiveActor, IWithTimers
{
    // Both messages pass only between the server and this child, in one process: never serialized, so the worker in a
    // Lost is the very reference the server holds (a stopped worker's path would resolve to another, unequal one).

    /// <summary>Watch this worker until it is lost (or this actor stops with its server).</summary>
    public sealed record Watch(IActorRef Worker) : INoSerializationVerificationNeeded;

    /// <summary>To the parent, once per watched worker: it is gone, and why (a phrase: "terminated", ...).</summary>
    public sealed record Lost(IActorRef Worker, string Why) : INoSerializationVerificationNeeded;

    /// <summary>
    /// How long a worker whose connection closed has to answer by default: a live node reconnects within milliseconds,
    /// and the remote transport's connect attempt to a dead one is refused at once.
    /// </summary>
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(3);

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly TimeSpan probeTimeout;
    private readonly HashSet<IActorRef> watched = [];
    private readonly Dictionary<int, IActorRef> probing = [];   // by the probe's Identify id
    private int nextProbe;

    public WorkerLiveness(TimeSpan probeTimeout)
    {
        this.probeTimeout = probeTimeout;
        Receive<Watch>(m =>
        {
            if (watched.Add(m.Worker)) Context.Watch(m.Worker);
        });
        Receive<Terminated>(m => LoseWorker(m.ActorRef, "terminated"));
        Receive<DisassociatedEvent>(OnDisassociated);
        Receive<ActorIdentity>(OnIdentity);
        Receive<ProbeTimeout>(m =>
        {
            if (probing.Remove(m.Id, out var worker))
                LoseWorker(worker, $"lost its connection and did not answer within {probeTimeout.TotalSeconds:0.#} s");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TimeSpan? probeTimeout = null) =>
        Akka.Actor.Props.Create(() => new WorkerLiveness(probeTimeout ?? DefaultProbeTimeout));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void OnDisassociated(DisassociatedEvent e)
    {
        foreach (var worker in watched.Where(w => w.Path.Address.Equals(e.RemoteAddress)))
        {
            if (probing.ContainsValue(worker)) continue;
            int id = nextProbe++;
            probing[id] = worker;
            worker.Tell(new Identify(id), Self);
            Timers.StartSingleTimer(id, new ProbeTimeout(id), probeTimeout);
        }
    }

    /// <summary>
    /// A live worker answers with itself. A probe the transport could not deliver (the reconnect was refused, so the
    /// address is gated) is answered by dead letters with <see cref="ActorRefs.Nobody"/> or no subject: the worker is gone.
    /// </summary>
    private void OnIdentity(ActorIdentity m)
    {
        if (m.MessageId is not int id || !probing.Remove(id, out var worker)) return;
        Timers.Cancel(id);
        if (m.Subject is null || m.Subject.IsNobody()) LoseWorker(worker, "lost its connection and cannot be reached");
        else log.Info("worker {0} lost its connection and answered the probe: it keeps its shard", worker.Path);
    }

    private void LoseWorker(IActorRef worker, string why)
    {
        if (!watched.Remove(worker)) return;
        Context.Unwatch(worker);
        foreach (var id in probing.Where(p => p.Value.Equals(worker)).Select(p => p.Key).ToList())
        {
            probing.Remove(id);
            Timers.Cancel(id);
        }
        Context.Parent.Tell(new Lost(worker, why));
    }

    private sealed record ProbeTimeout(int Id);
}
