namespace LstmCluster.Hosting.Node;

/// <summary>
/// Akka.Hosting registry key of the coordinator as this node reaches it: the cluster-singleton proxy
/// on a cluster node, the coordinator itself in an embedded host. Resolve with
/// <c>IRequiredActor&lt;CoordinatorKey&gt;</c> or <c>ActorRegistry.Get&lt;CoordinatorKey&gt;()</c>.
/// </summary>
public sealed class CoordinatorKey;

/// <summary>What <c>GET /ready</c> reports: whether this node can take jobs, and why not.</summary>
/// <param name="Roles">Up members per role, as this node sees the cluster.</param>
public sealed record NodeReadiness(bool Ready, string Detail, IReadOnlyDictionary<string, int> Roles);

/// <summary>Readiness of the node the API runs on (cluster up, the roles a job needs present).</summary>
public interface INodeReadiness
{
    NodeReadiness Check();
}
