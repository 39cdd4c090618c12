using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Actors.Cluster;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Ready when this node is Up in the cluster and the cluster has, Up, a coordinator, a parameter
/// server and at least one worker: the least a job needs to run.
/// </summary>
public sealed class ClusterReadiness(ActorSystem system) : INodeReadiness
{
    private static readonly string[] Needed = [ClusterDiscovery.CoordinatorRole, ClusterDiscovery.ParameterServerRole, ClusterDiscovery.WorkerRole];

    public NodeReadiness Check()
    {
        var cluster = Cluster.Get(system);
        var state = cluster.State;
        var up = state.Members.Where(m => m.Status == MemberStatus.Up && !state.Unreachable.Contains(m)).ToList();
        var roles = Needed.ToDictionary(r => r, r => up.Count(m => m.HasRole(r)));
        if (cluster.SelfMember.Status != MemberStatus.Up)
            return new NodeReadiness(false, $"this node is {cluster.SelfMember.Status}, not Up, in the cluster", roles);
        var missing = roles.Where(r => r.Value == 0).Select(r => r.Key).ToList();
        return missing.Count > 0
            ? new NodeReadiness(false, $"no {string.Join(", no ", missing)} node is up", roles)
            : new NodeReadiness(true, $"{up.Count} nodes up", roles);
    }
}
