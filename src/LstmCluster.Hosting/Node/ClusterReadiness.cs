using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Actors.Cluster;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Ready when this node is Up in the cluster and the cluster has, Up and reachable, a coordinator, a parameter server
/// and <paramref name="expectWorkers"/> workers (<c>--expect-workers</c>, default 1): what a job needs to run on the
/// workers the deployment has. Also tells whether the membership has converged (<see cref="NodeReadiness.Converged"/>),
/// which is what "the cluster has formed" means for a loss, and lists the members by role.
/// </summary>
public sealed class ClusterReadiness(ActorSystem system, int expectWorkers = 1) : INodeReadiness
{
    private static readonly string[] Needed = [ClusterDiscovery.CoordinatorRole, ClusterDiscovery.ParameterServerRole, ClusterDiscovery.WorkerRole];

    public NodeReadiness Check()
    {
        var cluster = Cluster.Get(system);
        var state = cluster.State;
        var up = state.Members.Where(m => m.Status == MemberStatus.Up && !state.Unreachable.Contains(m)).ToList();
        var roles = Needed.ToDictionary(r => r, r => up.Count(m => m.HasRole(r)));
        var members = state.Members
            .Select(m => new MemberState(m.Address.ToString(), [.. m.Roles.Where(r => !r.StartsWith("dc-", StringComparison.Ordinal)).Order()],
                m.Status.ToString(), !state.Unreachable.Contains(m)))
            .ToList();
        // The leader moves joining nodes to Up in its own gossip first; until that gossip has reached them, the others
        // still count themselves Joining, and the split-brain resolver counts only Up members. Losing the leader in that
        // window leaves survivors that count nobody on their side and down themselves (NodeLossTests, CI), so whoever
        // needs the cluster to survive a loss waits for this: every member Up and having seen this node's latest gossip.
        var waiting = new List<string>();
        int notUp = state.Members.Count(m => m.Status != MemberStatus.Up);
        int notSeen = state.Members.Count(m => !state.SeenBy.Contains(m.Address));
        if (notUp > 0) waiting.Add($"{notUp} not Up");
        if (state.Unreachable.Count > 0) waiting.Add($"{state.Unreachable.Count} unreachable");
        if (notSeen > 0) waiting.Add($"{notSeen} not yet seen this view");
        bool converged = cluster.SelfMember.Status == MemberStatus.Up && waiting.Count == 0;
        string membership = waiting.Count == 0 ? "" : $"; membership not converged: {string.Join(", ", waiting)} of {state.Members.Count} members";
        if (cluster.SelfMember.Status != MemberStatus.Up)
            return new NodeReadiness(false, $"this node is {cluster.SelfMember.Status}, not Up, in the cluster", roles, converged, members);
        var missing = roles.Where(r => r.Value == 0).Select(r => r.Key).ToList();
        if (missing.Count > 0)
            return new NodeReadiness(false, $"no {string.Join(", no ", missing)} node is up{membership}", roles, converged, members);
        int workers = roles[ClusterDiscovery.WorkerRole];
        return workers < expectWorkers
            ? new NodeReadiness(false, $"{workers} of {expectWorkers} expected workers up (--expect-workers){membership}", roles, converged, members)
            : new NodeReadiness(true, $"{up.Count} nodes up{membership}", roles, converged, members);
    }
}
