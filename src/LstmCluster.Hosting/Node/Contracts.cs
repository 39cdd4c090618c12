namespace LstmCluster.Hosting.Node;

/// <summary>
/// Akka.Hosting registry key of the coordinator as this node reaches it: the cluster-singleton proxy
/// on a cluster node, the coordinator itself in an embedded host. Resolve with
/// <c>IRequiredActor&lt;CoordinatorKey&gt;</c> or <c>ActorRegistry.Get&lt;CoordinatorKey&gt;()</c>.
/// </summary>
public sealed class CoordinatorKey;

/// <summary>What <c>GET /ready</c> reports: whether this node can take jobs, and why not.</summary>
/// <param name="Roles">Up members per role, as this node sees the cluster.</param>
/// <param name="Converged">
/// Every member is Up, reachable, and has seen this node's view of the membership: each node then knows itself and the
/// others as Up, which the split-brain resolver needs to count them. Not part of <paramref name="Ready"/>: a job can run
/// while a worker is unreachable or another is joining, and readiness must not drop for that.
/// </param>
/// <param name="Members">Every member this node knows, with its roles, status and reachability as this node sees them.</param>
public sealed record NodeReadiness(bool Ready, string Detail, IReadOnlyDictionary<string, int> Roles, bool Converged = false,
    IReadOnlyList<MemberState>? Members = null);

/// <summary>Readiness of the node the API runs on (cluster up, the roles a job needs present).</summary>
public interface INodeReadiness
{
    NodeReadiness Check();
}
