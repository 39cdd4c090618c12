using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Akka.Serialization;
using LstmCluster.Actors.Remoting;
using LstmCluster.Hosting.Node;
using LstmCluster.Hosting.Simulation;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// TLS with mutual authentication between nodes: a TLS cluster of node processes runs a job, and a node with a certificate
/// from another CA, a node that speaks plaintext, a TLS peer that presents no certificate and raw bytes are all refused,
/// without anything they send reaching a serializer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TlsClusterTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    /// <summary>Generous: only a failure waits this long (every wait ends on the event it waits for).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-tls-tests-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    /// <summary>Runs scripts/make-certs.sh into <paramref name="into"/> for <paramref name="names"/>; returns the files.</summary>
    private ClusterCertificates MakeCerts(string into, params string[] names)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(RepoPaths.Root, "scripts", "make-certs.sh"), "-d", into, .. names]) start.ArgumentList.Add(a);
        start.Environment.Remove("LSTMCLUSTER_TLS_PASSWORD");
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        output.WriteLine($"make-certs.sh {string.Join(' ', names)}:\n{stdout}{stderr}");
        Assert.True(process.ExitCode == 0, $"make-certs.sh exited {process.ExitCode}: {stderr}");
        return new ClusterCertificates(into, File.ReadAllText(Path.Combine(into, "password")).Trim());
    }

    [Fact]
    public async Task A_tls_cluster_runs_a_job_and_refuses_nodes_of_another_ca_and_plaintext_nodes()
    {
        var certs = MakeCerts(Path.Combine(dir, "cluster"), "node");
        var other = MakeCerts(Path.Combine(dir, "other"), "intruder");
        string logs = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"tls-{Guid.NewGuid():N}");
        var options = new LocalClusterOptions(RepoPaths.Lstmcluster, [], 2, logs, TorchThreads: 1, Hocon: ProcessClusterTests.FastTimings,
            Tls: LocalClusterTls.From(certs, "node"));
        await using var cluster = await LocalCluster.Start(options);
        var coordinator = cluster.Nodes[0];
        Assert.StartsWith("akka.ssl.tcp://", coordinator.Address, StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };

        string id = await ProcessClusterTests.Submit(http, ProcessClusterTests.Job("AirPassengers.csv", epochs: 2, ("workers", "2")));
        var status = await WaitForJob(http, id, cluster);
        Assert.True(status.GetProperty("state").GetString() == "Succeeded", status.ToString());
        // Weights and gradients went on the bulk lane, over TLS too: the parameter server's connections to both workers.
        var server = cluster.Nodes.Single(n => n.Name == "parameter-server");
        Assert.Equal(2, ReadShared(server.Log).Split('\n').Count(l => l.Contains("bulk lane to", StringComparison.Ordinal) && l.Contains(", TLS)", StringComparison.Ordinal)
            && !l.Contains(coordinator.Address, StringComparison.Ordinal)));

        // A node whose certificate another CA issued: the coordinator refuses its certificate, and the node, whose own
        // handshake failed, stops by itself (exit 2, saying why).
        var intruder = cluster.StartExtraNode(options, "intruder", "worker", LocalClusterTls.From(other, "intruder"));
        string refusal = await WaitForLine(coordinator, "CN=intruder");
        output.WriteLine($"coordinator: {refusal}");
        Assert.Contains("TLS: refused peer", refusal, StringComparison.Ordinal);
        Assert.Contains("is not issued by this cluster's CA", refusal, StringComparison.Ordinal);
        await intruder.Process.WaitForExitAsync().WaitAsync(Patience);
        output.WriteLine($"intruder (exit {intruder.Process.ExitCode}):\n{intruder.Tail(8)}");
        Assert.Equal(2, intruder.Process.ExitCode);
        Assert.Contains("error: TLS handshake failed on outbound connection", intruder.Tail(), StringComparison.Ordinal);
        Assert.DoesNotContain("is Up in the cluster", File.ReadAllText(intruder.Log), StringComparison.Ordinal);

        // A plaintext node (no certificate at all): its Akka handshake is not a TLS record; it never joins and gives up.
        var plain = cluster.StartExtraNode(options with { Hocon = ProcessClusterTests.FastTimings + ", akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 10s" },
            "plaintext", "worker", tls: null);
        string notTls = await WaitForLine(coordinator, "not an SSL/TLS record");
        output.WriteLine($"coordinator: {notTls}");
        await WaitForLine(coordinator, "Rejected incoming connection from", after: notTls);
        await plain.Process.WaitForExitAsync().WaitAsync(Patience);
        output.WriteLine($"plaintext node (exit {plain.Process.ExitCode}):\n{plain.Tail(6)}");
        Assert.NotEqual(0, plain.Process.ExitCode);
        Assert.DoesNotContain("is Up in the cluster", File.ReadAllText(plain.Log), StringComparison.Ordinal);

        // The cluster ran on with its own nodes only.
        using var ready = JsonDocument.Parse(await http.GetStringAsync("ready"));
        Assert.Equal(2, ready.RootElement.GetProperty("roles").GetProperty("worker").GetInt32());
        Assert.True(cluster.Nodes.Take(4).All(n => !n.Exited), "a node of the TLS cluster stopped");
    }

    [Fact]
    public async Task A_tls_peer_that_presents_no_certificate_is_refused()
    {
        var certs = ClusterCertificates.Create(Path.Combine(dir, "certs"), "seed", "peer");
        await using var seed = await TlsNode.Start(certs, "seed", ["coordinator"], seed: null);

        // The peer speaks TLS and holds a certificate of the same CA, but does not present it (no mutual authentication).
        var peerOptions = new NodeOptions { Roles = ["worker"], Host = "127.0.0.1", Port = 0, Seeds = [seed.Address.ToString()], TorchThreads = 1,
            Hocon = "akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 10s",
            TlsCertificate = certs.Pfx("peer"), TlsPassword = certs.Password, TlsCa = certs.Ca };
        var tls = NodeTls.Load(peerOptions)!;
        var setup = BootstrapSetup.Create().WithConfig(NodeConfig.Build(peerOptions))
            .And(new DotNettySslSetup(tls.Certificate, suppressValidation: true, requireMutualAuthentication: false));
        var peer = ActorSystem.Create(NodeOptions.SystemName, setup);
        bool up = false;
        Akka.Cluster.Cluster.Get(peer).RegisterOnMemberUp(() => up = true);
        try
        {
            // It joins the seed (its seed-nodes) on start.
            string refusal = await seed.WaitForLog("Mutual TLS required but client did not provide a certificate");
            output.WriteLine($"seed: {refusal}");
            // The peer stops: when its side of the handshake fails (TLS 1.2, or TLS 1.3 while the server's refusal arrives
            // within the handshake) Akka.Remote stops it at once; else it gives up joining.
            await peer.WhenTerminated.WaitAsync(Patience);
            output.WriteLine($"peer stopped: {Akka.Actor.CoordinatedShutdown.Get(peer).ShutdownReason}");
            Assert.Contains(Akka.Actor.CoordinatedShutdown.Get(peer).ShutdownReason?.GetType().Name, (string[])["TlsHandshakeFailureReason", "ClusterJoinUnsuccessfulReason"]);
            Assert.False(up, "the peer without a certificate became Up");
            Assert.Single(Akka.Cluster.Cluster.Get(seed.System).State.Members);
        }
        finally
        {
            await peer.Terminate();
        }
    }

    [Fact]
    public async Task Plaintext_traffic_to_a_tls_node_never_reaches_a_serializer()
    {
        var certs = ClusterCertificates.Create(Path.Combine(dir, "certs"), "seed", "sender");
        await using var node = await TlsNode.Start(certs, "seed", ["coordinator"], seed: null, CountingSerializer.Hocon);
        var received = new ConcurrentQueue<object>();
        node.System.ActorOf(Props.Create(() => new Sink(received)), "sink");
        int port = node.Address.Port!.Value;

        // A plaintext actor system (Akka's own association, then the message) and raw bytes shaped like an Akka frame.
        var plain = ActorSystem.Create(NodeOptions.SystemName, RemoteConfig.Config().WithFallback(Akka.Configuration.ConfigurationFactory.ParseString(CountingSerializer.Hocon)));
        try
        {
            plain.ActorSelection($"akka.tcp://lstm@127.0.0.1:{port}/user/sink").Tell(new Ping("plaintext"));
            string first = await node.WaitForLog("Rejected incoming connection from");
            output.WriteLine($"node: {first}");
        }
        finally
        {
            await plain.Terminate();
        }
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, port);
            byte[] payload = System.Text.Encoding.UTF8.GetBytes("\0\0\0\u0020akka.tcp://lstm@127.0.0.1/user/sink ping");
            await raw.GetStream().WriteAsync(payload);
            string second = await node.WaitForLog("Rejected incoming connection from", skip: 1);
            output.WriteLine($"node: {second}");
        }
        Assert.Equal(0, CountingSerializer.Deserialized(node.System));
        Assert.Empty(received);

        // The same message over TLS from a node of the cluster's CA is deserialized and delivered: the counter counts.
        await using var sender = await TlsNode.Start(certs, "sender", ["worker"], seed: node.Address, CountingSerializer.Hocon);
        sender.System.ActorSelection(new RootActorPath(node.Address) / "user" / "sink").Tell(new Ping("tls"));
        await node.WaitUntil(() => !received.IsEmpty, "the TLS message delivered");
        Assert.Equal("tls", Assert.IsType<Ping>(Assert.Single(received)).Text);
        Assert.Equal(1, CountingSerializer.Deserialized(node.System));
    }

    private static RemoteTls Tls(ClusterCertificates certs, string name) =>
        NodeTls.Load(new NodeOptions { TlsCertificate = certs.Pfx(name), TlsPassword = certs.Password, TlsCa = certs.Ca })!;

    [Fact]
    public async Task The_bulk_lane_between_tls_nodes_runs_tls_and_refuses_another_cas_certificate_and_plaintext()
    {
        var certs = ClusterCertificates.Create(Path.Combine(dir, "certs"), "seed", "sender");
        var other = ClusterCertificates.Create(Path.Combine(dir, "other"), "intruder");
        await using var node = await TlsNode.Start(certs, "seed", ["parameter-server"], seed: null);
        var received = new ConcurrentQueue<object>();
        node.System.ActorOf(Props.Create(() => new Sink(received)), "sink");
        var lane = BulkLane.Start(node.System, "127.0.0.1", 0, Tls(certs, "seed"));

        // A node of the cluster's CA: its lane connects over TLS and a weights message arrives through it.
        await using var sender = await TlsNode.Start(certs, "sender", ["worker"], seed: node.Address);
        var senderLane = BulkLane.Start(sender.System, "127.0.0.1", 0, Tls(certs, "sender"));
        await senderLane.ConnectAsync(node.Address, "127.0.0.1", lane.Port);
        var sink = ((ExtendedActorSystem)sender.System).Provider.ResolveActorRef($"{node.Address}/user/sink");
        new ChunkedSender(sender.System).Tell(sink, new LstmCluster.Actors.Protocol.Weights("j", 3, [1f, 2f]));
        await node.WaitUntil(() => !received.IsEmpty, "the weights delivered through the lane");
        Assert.Equal(3, Assert.IsType<LstmCluster.Actors.Protocol.Weights>(Assert.Single(received)).Version);
        Assert.Equal((1L, 0L), (lane.Counters.Received, lane.Counters.Refused));

        // Another CA's certificate: the handshake fails on both sides and the node says why.
        var intruder = ActorSystem.Create("intruder", RemoteConfig.Config());
        try
        {
            var intruderLane = BulkLane.Start(intruder, "127.0.0.1", 0, Tls(other, "intruder"));
            await Assert.ThrowsAnyAsync<Exception>(() => intruderLane.ConnectAsync(node.Address, "127.0.0.1", lane.Port));
            string refusal = await node.WaitForLog("CN=intruder");
            output.WriteLine($"node: {refusal}");
            Assert.Contains("is not issued by this cluster's CA", refusal, StringComparison.Ordinal);
        }
        finally
        {
            await intruder.Terminate();
        }

        // Plaintext: the lane's greeting is not a TLS record.
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, lane.Port);
            await raw.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("LSTMLANE1"));
            await node.WaitUntil(() => lane.Counters.Refused >= 2, "the plaintext connection refused");
        }
        Assert.Single(received);
        Assert.Equal(1L, lane.Counters.Received);
    }

    private async Task<JsonElement> WaitForJob(HttpClient http, string id, LocalCluster cluster)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            using var response = await http.GetAsync($"jobs/{id}");
            response.EnsureSuccessStatusCode();
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (status.GetProperty("state").GetString() is "Succeeded" or "Failed" or "Cancelled") return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id}: {status}\ncoordinator log:\n{cluster.Nodes[0].Tail()}");
            await Task.Delay(250);
        }
    }

    /// <summary>The first line of <paramref name="node"/>'s log holding <paramref name="text"/> (after the line <paramref name="after"/>, when given).</summary>
    private static async Task<string> WaitForLine(NodeProcess node, string text, string? after = null)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var lines = ReadShared(node.Log).Split('\n');
            int from = after is null ? 0 : Array.IndexOf(lines, after) + 1;
            if (lines.Skip(from).FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line) return line.TrimEnd('\r');
            if (node.Exited) throw new InvalidOperationException($"{node.Name} exited before logging '{text}':\n{node.Tail()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{node.Name} did not log '{text}' within {Patience}:\n{node.Tail()}");
            await Task.Delay(200);
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>A TLS node in this process, configured as `lstmcluster node --tls-certificate` configures one, with its log events kept.</summary>
    private sealed class TlsNode : IAsyncDisposable
    {
        private readonly ConcurrentQueue<string> log = new();

        private TlsNode(ActorSystem system) => System = system;

        public ActorSystem System { get; }

        public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;

        public static async Task<TlsNode> Start(ClusterCertificates certs, string name, string[] roles, Address? seed, string? hocon = null)
        {
            var options = new NodeOptions
            {
                Roles = roles, Host = "127.0.0.1", Port = 0, Seeds = seed is null ? [] : [seed.ToString()], TorchThreads = 1, Hocon = hocon,
                TlsCertificate = certs.Pfx(name), TlsPassword = certs.Password, TlsCa = certs.Ca,
            };
            var system = ActorSystem.Create(NodeOptions.SystemName, NodeConfig.Setup(options, NodeTls.Load(options)));
            var node = new TlsNode(system);
            var watcher = system.ActorOf(Props.Create(() => new LogWatcher(node.log)));
            system.EventStream.Subscribe(watcher, typeof(Warning));
            system.EventStream.Subscribe(watcher, typeof(Error));
            var cluster = Akka.Cluster.Cluster.Get(system);
            if (seed is null) cluster.Join(cluster.SelfAddress);
            await node.WaitUntil(() => cluster.SelfMember.Status == Akka.Cluster.MemberStatus.Up, $"{name} Up");
            return node;
        }

        /// <summary>The (<paramref name="skip"/> + 1)-th warning or error logged that holds <paramref name="text"/>.</summary>
        public async Task<string> WaitForLog(string text, int skip = 0)
        {
            string? line = null;
            await WaitUntil(() => (line = log.ToArray().Where(l => l.Contains(text, StringComparison.Ordinal)).Skip(skip).FirstOrDefault()) is not null, $"a log line '{text}'");
            return line!;
        }

        public async Task WaitUntil(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {Patience} for {what}; warnings:\n{string.Join('\n', log)}");
                await Task.Delay(50);
            }
        }

        public async ValueTask DisposeAsync() => await System.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private sealed class LogWatcher : ReceiveActor
    {
        public LogWatcher(ConcurrentQueue<string> log) => Receive<LogEvent>(e => log.Enqueue(e.ToString()));
    }

    private sealed class Sink : ReceiveActor
    {
        public Sink(ConcurrentQueue<object> received) => ReceiveAny(received.Enqueue);
    }
}

/// <summary>A message for <see cref="CountingSerializer"/>.</summary>
public sealed record Ping(string Text);

/// <summary>Serializes <see cref="Ping"/> and counts, per actor system, every message it deserializes.</summary>
public sealed class CountingSerializer : SerializerWithStringManifest
{
    public CountingSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    private static readonly ConditionalWeakTable<ActorSystem, StrongBox<int>> Counts = new();

    public const string Hocon = """
        akka.actor.serializers.tls-test-counting = "LstmCluster.Cluster.Tests.CountingSerializer, LstmCluster.Cluster.Tests"
        akka.actor.serialization-bindings { "LstmCluster.Cluster.Tests.Ping, LstmCluster.Cluster.Tests" = tls-test-counting }
        akka.actor.serialization-identifiers { "LstmCluster.Cluster.Tests.CountingSerializer, LstmCluster.Cluster.Tests" = 9901 }
        """;

    public static int Deserialized(ActorSystem of) => Counts.TryGetValue(of, out var box) ? Volatile.Read(ref box.Value) : 0;

    public override int Identifier => 9901;

    public override string Manifest(object o) => "ping";

    public override byte[] ToBinary(object obj) => System.Text.Encoding.UTF8.GetBytes(((Ping)obj).Text);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        Interlocked.Increment(ref Counts.GetValue(system, _ => new StrongBox<int>()).Value);
        return new Ping(System.Text.Encoding.UTF8.GetString(bytes));
    }
}
