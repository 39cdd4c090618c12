using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

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

    /// <summary>Starts a node (stopped at the end of the test) and gives the task that completes when it is Up in the cluster.</summary>
    private async Task<Task> StartUntilUp(NodeOptions options)
    {
        var app = NodeHost.Build(options);
        apps.Add(app);
        await app.StartAsync();
        var memberUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(app.Services.GetRequiredService<ActorSystem>()).RegisterOnMemberUp(() => memberUp.TrySetResult());
        return memberUp.Task;
    }
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
            up.Add(await StartUntilUp(options));
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
        // What the endpoint lists is the cluster's read view (Cluster.State), which learns of the member after the member-up
        // callbacks have run: waiting for those alone, the endpoint answered once with no nodes (a clean-clone CI run).
        var cluster = Akka.Cluster.Cluster.Get(system);
        await InProcessCluster.Until(() => cluster.State.Members.Any(m => m.Address == cluster.SelfAddress && m.Status == MemberStatus.Up),
            Patience, "the node Up in its cluster's read view");

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

    [Fact]
    public async Task Nodes_with_kubernetes_discovery_form_one_cluster_from_the_pod_list_of_the_api_server()
    {
        // A stand-in for the Kubernetes API server on 127.0.0.1 (HTTPS, as the discovery always calls it): it lists three
        // running pods whose container port named "management" is each node's management port, and records what it was asked.
        string dir = Directory.CreateTempSubdirectory("lstmcluster-k8s-").FullName;
        string[][] roles = [["coordinator"], ["parameter-server"], ["worker"]];
        int[] management = [.. roles.Select(_ => FreePort())];
        var asked = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var api = await FakeKubernetesApi.Start(management, asked);
        string token = Path.Combine(dir, "token");
        File.WriteAllText(token, "service-account-token");
        // The API server's certificate is checked against the ServiceAccount's CA file: here the fake server's own.
        string ca = Path.Combine(dir, "ca.crt");
        File.WriteAllText(ca, api.CertificatePem);
        var saved = new[] { "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT" }.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        Environment.SetEnvironmentVariable("KUBERNETES_SERVICE_HOST", "127.0.0.1");
        Environment.SetEnvironmentVariable("KUBERNETES_SERVICE_PORT", api.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            int http = FreePort();
            var up = new List<Task>();
            for (int i = 0; i < roles.Length; i++)
            {
                var options = new NodeOptions
                {
                    Roles = roles[i], Host = "127.0.0.1", Port = 0, TorchThreads = 1, StateDir = i == 0 ? state : null, HttpPort = i == 0 ? http : 0,
                    Hocon = ProcessClusterTests.FastTimings + $$"""

                        akka.discovery.lstmcluster-kubernetes.api-token-path = "{{token}}"
                        akka.discovery.lstmcluster-kubernetes.api-ca-path = "{{ca}}"
                        akka.discovery.lstmcluster-kubernetes.pod-namespace = "lstm-test"
                        """,
                    Discovery = new NodeDiscoveryOptions { Method = NodeDiscoveryOptions.Kubernetes, ManagementPort = management[i], RequiredContactPoints = 3 },
                };
                up.Add(await StartUntilUp(options));
            }
            await Task.WhenAll(up).WaitAsync(Patience);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitConverged(client);
            foreach (var app in apps)
                Assert.Equal(3, Akka.Cluster.Cluster.Get(app.Services.GetRequiredService<ActorSystem>()).State.Members.Count(m => m.Status == MemberStatus.Up));
            output.WriteLine($"the API server was asked: {asked.First()}");
            // Every node listed the pods of its namespace by the deployment's label, with the ServiceAccount's token.
            Assert.All(asked, a => Assert.Equal("GET /api/v1/namespaces/lstm-test/pods?labelSelector=app.kubernetes.io/part-of=lstmcluster Bearer service-account-token", a));
        }
        finally
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
            Directory.Delete(dir, recursive: true);
        }
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

/// <summary>
/// Answers <c>GET /api/v1/namespaces/{ns}/pods</c> like the Kubernetes API server with a list of running pods on 127.0.0.1,
/// one per management port, and records each request as "METHOD path?query authorization".
/// </summary>
internal sealed class FakeKubernetesApi : IAsyncDisposable
{
    private readonly WebApplication app;

    private FakeKubernetesApi(WebApplication app, int port, string pem)
    {
        this.app = app;
        Port = port;
        CertificatePem = pem;
    }

    public int Port { get; }

    /// <summary>The server's self-signed certificate (for 127.0.0.1), PEM: the CA a client must trust.</summary>
    public string CertificatePem { get; }

    public static async Task<FakeKubernetesApi> Start(int[] managementPorts, System.Collections.Concurrent.ConcurrentQueue<string> asked)
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=fake-kubernetes-api", key,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Kestrel needs the key in a usable form: a PKCS#12 round trip.
        var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(created.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx), null);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        var app = builder.Build();
        string pods = System.Text.Json.JsonSerializer.Serialize(new
        {
            apiVersion = "v1",
            kind = "PodList",
            metadata = new { },
            items = managementPorts.Select((port, i) => new
            {
                metadata = new { name = $"lstmcluster-{i}", @namespace = "lstm-test", labels = new Dictionary<string, string> { ["app.kubernetes.io/part-of"] = "lstmcluster" } },
                spec = new { containers = new[] { new { name = "node", ports = new[] { new { name = "management", containerPort = port } } } } },
                status = new { phase = "Running", podIP = "127.0.0.1" },
            }),
        });
        app.MapGet("/api/v1/namespaces/{ns}/pods", (Microsoft.AspNetCore.Http.HttpContext context) =>
        {
            asked.Enqueue($"GET {context.Request.Path}{Uri.UnescapeDataString(context.Request.QueryString.Value ?? "")} {context.Request.Headers.Authorization}");
            return Microsoft.AspNetCore.Http.Results.Text(pods, "application/json");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        return new FakeKubernetesApi(app, new Uri(address).Port, created.ExportCertificatePem());
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
