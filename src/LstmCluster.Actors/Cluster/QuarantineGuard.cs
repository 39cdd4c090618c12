using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace LstmCluster.Actors.Cluster;

/// <summary>
/// Downs this node as soon as a cluster member says it has quarantined this node, so a node the others have removed
/// never goes on as a cluster of its own.
/// </summary>
/// <remarks>
/// <para>
/// The case it closes (seen in CI, NodeLossTests): a worker frozen (SIGSTOP) long enough for the others to down and
/// remove it, then thawed. The others have quarantined it: every association it tries is refused with "the remote
/// system has quarantined this system", and it can never rejoin without a restart. Its own split-brain resolver should
/// then down it, but the heartbeats that piled up in its socket while it was frozen are read at once on thawing, so one
/// peer still looks reachable for the failure detector's acceptable pause (10 s) while the other two do not. For the
/// resolver's stable-after (7 s) that is an even split, 2 against 2, and keep-majority keeps the side with the lowest
/// address: when the thawed node has it, it downs the three live nodes and runs on alone. A worker alone is a node that
/// never exits for its orchestrator to restart; a coordinator-role node alone would start a second coordinator.
/// </para>
/// <para>
/// Akka.Remote publishes <see cref="ThisActorSystemQuarantinedEvent"/> for that refusal; Akka.Cluster does not act on it.
/// This actor does: quarantine is final, so a node quarantined by a member of its cluster can no longer be part of it.
/// It downs itself (<c>Cluster.Down</c> of its own address), the same path the resolver takes when it downs this side
/// (coordinated shutdown with <c>ClusterDowningReason</c>, exit code 1). A refusal from an address that is not a member
/// (an old incarnation, a stranger) is logged and ignored.
/// </para>
/// </remarks>
public sealed class QuarantineGuard : ReceiveActor
{
    public const string Name = "quarantine-guard";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster cluster = Akka.Cluster.Cluster.Get(Context.System);
    private bool downed;

    public QuarantineGuard()
    {
        Receive<ThisActorSystemQuarantinedEvent>(OnQuarantined);
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new QuarantineGuard());

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void OnQuarantined(ThisActorSystemQuarantinedEvent e)
    {
        if (downed) return;
        var state = cluster.State;
        bool selfMember = state.Members.Any(m => m.UniqueAddress.Equals(cluster.SelfUniqueAddress) && m.Status is not (MemberStatus.Down or MemberStatus.Removed));
        bool byMember = state.Members.Any(m => m.Address.Equals(e.RemoteAddress));
        if (!selfMember || !byMember)
        {
            log.Info("{0} has quarantined this node ({1}); it is not a member of this node's cluster, so nothing follows", e.RemoteAddress,
                selfMember ? "this node is a member" : "this node is not a member");
            return;
        }
        downed = true;
        log.Warning("Cluster member {0} has quarantined this node: the cluster removed it, and it cannot rejoin without a restart. "
            + "Downing itself, so the node exits (code 1) for its orchestrator to restart it", e.RemoteAddress);
        cluster.Down(cluster.SelfAddress);
    }
}
