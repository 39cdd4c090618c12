using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using LstmCluster.Hosting.Node;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Several ActorSystems in this process forming one Akka.Cluster on 127.0.0.1 (port 0 each), each
/// configured and started exactly as a `lstmcluster node` process is (Akka.Hosting with <see cref="NodeConfig.Configure"/>
/// and <see cref="NodeActors.Configure"/>, without the HTTP side), with shorter failure-detection timings.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private const string FastTimings = """
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
        akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 3s
        akka.cluster.split-brain-resolver.stable-after = 2s
        akka.cluster.run-coordinated-shutdown-when-down = off
        """;

    private readonly List<(ActorSystem System, NodeRefs Actors, string[] Roles)> nodes = [];

    public IReadOnlyList<(ActorSystem System, NodeRefs Actors, string[] Roles)> Nodes => nodes;

    /// <summary>A node's host, and its proxy to the coordinator singleton (the registry's <see cref="CoordinatorKey"/>).</summary>
    public sealed record NodeRefs(IHost Host, IActorRef Coordinator);

    private static async Task<(ActorSystem, NodeRefs)> StartNode(NodeOptions options)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka(NodeOptions.SystemName, (akka, _) =>
            {
                NodeConfig.Configure(akka, options, tls: null);
                NodeActors.Configure(akka, options, artifacts: null);
            }))
            .Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        return (system, new NodeRefs(host, await ActorRegistry.For(system).GetAsync<CoordinatorKey>()));
    }

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
            var (system, actors) = await StartNode(options);
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
        var (system, actors) = await StartNode(options);
        nodes.Add((system, actors, roles));
        int expected = nodes.Count;
        await WaitUntil(() => Akka.Cluster.Cluster.Get(nodes[0].System).State.Members.Count(m => m.Status == MemberStatus.Up) == expected,
            TimeSpan.FromSeconds(60), "the new node Up");
    }

    public Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what) => Until(condition, timeout, what);

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds; a <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task Until(Func<bool> condition, TimeSpan timeout, string what)
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
        foreach (var (system, actors, _) in Enumerable.Reverse(nodes))
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            actors.Host.Dispose();
        }
    }
}
