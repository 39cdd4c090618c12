using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Cluster formation without seeds (<c>--discovery config</c>): nodes built as <c>lstmcluster node</c> builds them
/// (<see cref="NodeHost.Build"/>), each knowing only the list of the others' Akka.Management endpoints on 127.0.0.1,
/// form one cluster through Cluster Bootstrap and run a job. The Kubernetes method differs only in where the list comes
/// from (the API server), which no test here can reach.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DiscoveryClusterTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Generous: only a failure waits this long (every wait ends on the event it waits for).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly List<WebApplication> apps = [];
    private readonly string state = Path.Combine(Path.GetTempPath(), "lstmcluster", $"discovery-state-{Guid.NewGuid():N}");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // The newest first, the coordinator last: no singleton hand-over while the cluster goes away.
        foreach (var app in Enumerable.Reverse(apps))
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        try
        {
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Nodes_with_config_discovery_and_no_seeds_form_one_cluster_with_their_roles_and_run_a_job()
    {
        string[][] roles = [["coordinator"], ["parameter-server"], ["worker"]];
        int[] management = [.. roles.Select(_ => FreePort())];
        string endpoints = string.Join(",", management.Select(p => $"127.0.0.1:{p}"));
        int http = FreePort();
        var up = new List<Task>();
        for (int i = 0; i < roles.Length; i++)
        {
            // Resolved the way the node command resolves them: the discovery options as the environment gives them.
            var env = new Dictionary<string, string>
            {
                ["LSTMCLUSTER_DISCOVERY"] = "config",
                ["LSTMCLUSTER_DISCOVERY_ENDPOINTS"] = endpoints,
                ["LSTMCLUSTER_MANAGEMENT_PORT"] = management[i].ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LSTMCLUSTER_REQUIRED_CONTACT_POINTS"] = "3",
            };
            var flags = new Dictionary<string, string?>
            {
                ["roles"] = string.Join(",", roles[i]), ["host"] = "127.0.0.1", ["port"] = "0", ["torch-threads"] = "1",
                ["http-port"] = i == 0 ? http.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0",
                ["state-dir"] = state, ["hocon"] = ProcessClusterTests.FastTimings,
            };
            var options = NodeOptions.Resolve(flags, name => env.GetValueOrDefault(name), configPath: null);
            Assert.Empty(options.Seeds);
            Assert.True(options.Discovery.Bootstraps);
            var app = NodeHost.Build(options);
            apps.Add(app);
            await app.StartAsync();
            var memberUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(app.Services.GetRequiredService<ActorSystem>()).RegisterOnMemberUp(() => memberUp.TrySetResult());
            up.Add(memberUp.Task);
        }

        // Each node becomes Up only by joining through bootstrap: none of them joins itself or has a seed.
        await Task.WhenAll(up).WaitAsync(Patience);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
        await WaitConverged(client);

        var systems = apps.Select(a => a.Services.GetRequiredService<ActorSystem>()).ToList();
        var expected = systems.Select((s, i) => (Akka.Cluster.Cluster.Get(s).SelfAddress, roles[i][0])).OrderBy(m => m.Item1.ToString()).ToList();
        foreach (var system in systems)
        {
            var members = Akka.Cluster.Cluster.Get(system).State.Members;
            Assert.All(members, m => Assert.Equal(MemberStatus.Up, m.Status));
            Assert.Equal(expected, members.Select(m => (m.Address, m.Roles.Single(r => !r.StartsWith("dc-", StringComparison.Ordinal))))
                .OrderBy(m => m.Item1.ToString()).ToList());
        }
        output.WriteLine($"one cluster: {string.Join(", ", expected)}");

        string id = await ProcessClusterTests.Submit(client, ProcessClusterTests.Job("AirPassengers.csv", epochs: 2, ("workers", "1")));
        var status = await WaitForJob(client, id);
        Assert.True(status.GetProperty("state").GetString() == "Succeeded", status.ToString());
    }

    [Fact]
    public async Task The_management_endpoint_of_a_bootstrapping_node_lists_the_seed_nodes_of_its_cluster()
    {
        // One node, contact points required: 1: it founds the cluster itself through bootstrap, and its Akka.Management
        // endpoint answers what its peers would ask (Akka.Management's /bootstrap/seed-nodes).
        int management = FreePort();
        var options = new NodeOptions
        {
            Roles = ["worker"], Host = "127.0.0.1", Port = 0, HttpPort = 0, TorchThreads = 1, StateDir = null,
            Discovery = new NodeDiscoveryOptions { Method = NodeDiscoveryOptions.Config, ManagementPort = management, Endpoints = [$"127.0.0.1:{management}"], RequiredContactPoints = 1 },
        };
        var app = NodeHost.Build(options);
        apps.Add(app);
        await app.StartAsync();
        var system = app.Services.GetRequiredService<ActorSystem>();
        var memberUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => memberUp.TrySetResult());
        await memberUp.Task.WaitAsync(Patience);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}/"), Timeout = TimeSpan.FromSeconds(30) };
        string body = await client.GetStringAsync("bootstrap/seed-nodes");
        output.WriteLine(body);
        // Read as Akka.Management's probing side reads it.
        var seeds = Newtonsoft.Json.JsonConvert.DeserializeObject<Akka.Management.Cluster.Bootstrap.ContactPoint.HttpBootstrapJsonProtocol.SeedNodes>(body)!;
        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        Assert.Equal(self, seeds.SelfNode);
        var member = Assert.Single(seeds.Nodes);
        Assert.Equal(self, member.Node);
        Assert.Equal(MemberStatus.Up, member.Status);
        Assert.Contains("worker", member.Roles);
    }

    /// <summary>GET /ready until the coordinator sees every role Up and the membership converged.</summary>
    private static async Task WaitConverged(HttpClient client)
    {
        var deadline = DateTime.UtcNow + Patience;
        string last = "";
        while (true)
        {
            using var response = await client.GetAsync("ready");
            last = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode && JsonDocument.Parse(last).RootElement.GetProperty("converged").GetBoolean()) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the coordinator did not become ready: {last}");
            await Task.Delay(100);
        }
    }

    private static async Task<JsonElement> WaitForJob(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            using var response = await client.GetAsync($"jobs/{id}");
            response.EnsureSuccessStatusCode();
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (status.GetProperty("state").GetString() is "Succeeded" or "Failed" or "Cancelled") return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id}: {status}");
            await Task.Delay(250);
        }
    }
}
