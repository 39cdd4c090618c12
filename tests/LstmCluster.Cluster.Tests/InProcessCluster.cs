using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Hosting.Node;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Several ActorSystems in this process forming one Akka.Cluster on 127.0.0.1 (port 0 each), each
/// configured and started exactly as a `lstmcluster node` process is (<see cref="NodeConfig"/>,
/// <see cref="NodeActors"/>), with shorter failure-detection timings.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private const string FastTimings = """
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
        akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 3s
        akka.cluster.split-brain-resolver.stable-after = 2s
        akka.cluster.run-coordinated-shutdown-when-down = off
        """;

    private readonly List<(ActorSystem System, NodeActors Actors, string[] Roles)> nodes = [];

    public IReadOnlyList<(ActorSystem System, NodeActors Actors, string[] Roles)> Nodes => nodes;

    /// <summary>Starts the first node as its own seed, then the others joining it; waits until every member is Up.</summary>
    public static Task<InProcessCluster> Start(params string[][] roles) => Start(FastTimings, roles);

    /// <summary>As <see cref="Start(string[][])"/>, with <paramref name="hocon"/> over the node configuration (null: a node's own timings).</summary>
    public static async Task<InProcessCluster> Start(string? hocon, params string[][] roles)
    {
        var cluster = new InProcessCluster();
        string? seed = null;
        foreach (var r in roles)
        {
            var options = new NodeOptions { Roles = r, Host = "127.0.0.1", Port = 0, Seeds = seed is null ? [] : [seed], Hocon = hocon, TorchThreads = 1 };
            var system = ActorSystem.Create(NodeOptions.SystemName, NodeConfig.Build(options));
            var actors = NodeActors.Start(system, options, artifacts: null);
            cluster.nodes.Add((system, actors, r));
            seed ??= Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
        }
        try
        {
            await cluster.WaitUntil(() => Akka.Cluster.Cluster.Get(cluster.nodes[0].System).State.Members.Count(m => m.Status == MemberStatus.Up) == roles.Length,
                TimeSpan.FromSeconds(60), "every node Up");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node with <paramref name="roles"/>, joining the cluster, and waits until it is Up.</summary>
    public async Task AddNode(params string[] roles)
    {
        string seed = Akka.Cluster.Cluster.Get(nodes[0].System).SelfAddress.ToString();
        var options = new NodeOptions { Roles = roles, Host = "127.0.0.1", Port = 0, Seeds = [seed], Hocon = FastTimings, TorchThreads = 1 };
        var system = ActorSystem.Create(NodeOptions.SystemName, NodeConfig.Build(options));
        nodes.Add((system, NodeActors.Start(system, options, artifacts: null), roles));
        int expected = nodes.Count;
        await WaitUntil(() => Akka.Cluster.Cluster.Get(nodes[0].System).State.Members.Count(m => m.Status == MemberStatus.Up) == expected,
            TimeSpan.FromSeconds(60), "the new node Up");
    }

    public async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (system, _, _) in Enumerable.Reverse(nodes))
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
    }
}
