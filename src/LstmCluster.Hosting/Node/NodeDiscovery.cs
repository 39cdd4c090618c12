using System.Collections.Immutable;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Discovery.Config.Hosting;
using Akka.Hosting;
using Akka.Management;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// How a node finds the cluster (<c>--discovery</c>): <see cref="Static"/> seeds (<c>--seeds</c>, or none: found a cluster
/// of one), or Akka.Management's Cluster Bootstrap over Akka.Discovery: a fixed list of management endpoints
/// (<see cref="Config"/>), or the pods the Kubernetes API lists under a label selector (<see cref="Kubernetes"/>).
/// </summary>
/// <remarks>
/// With bootstrap every node serves Akka.Management's HTTP endpoint (<c>/bootstrap/seed-nodes</c>) on
/// <see cref="ManagementPort"/>, looks its peers up, and asks each for the cluster it belongs to: it joins one that exists,
/// and when none does, once at least <see cref="RequiredContactPoints"/> peers answered and the list of peers has not
/// changed for Akka's stable margin (5 s), the peer with the lowest address founds it and the others join it. Options
/// are read like the node's other ones (<see cref="NodeOptions.Resolve"/>): <see cref="EnvironmentNames"/> gives their
/// names and environment variables.
/// </remarks>
public sealed record NodeDiscoveryOptions
{
    public const string Static = "static";
    public const string Config = "config";
    public const string Kubernetes = "kubernetes";

    public static readonly string[] Methods = [Static, Config, Kubernetes];

    /// <summary>Akka.Management's own default port.</summary>
    public const int DefaultManagementPort = 8558;

    /// <summary>The service the bootstrap looks up; also what <c>{0}</c> in <see cref="PodLabelSelector"/> stands for.</summary>
    public const string DefaultServiceName = "lstmcluster";

    /// <summary>The pods of one deployment share this label (<c>deploy/k8s/</c>: <c>app.kubernetes.io/part-of: lstmcluster</c>).</summary>
    public const string DefaultPodLabelSelector = "app.kubernetes.io/part-of={0}";

    /// <summary>The name of the container port Kubernetes discovery reads the management port from.</summary>
    public const string ManagementPortName = "management";

    /// <summary><see cref="Static"/>, <see cref="Config"/> or <see cref="Kubernetes"/>.</summary>
    public string Method { get; init; } = Static;

    /// <summary>Akka.Management's HTTP port (bootstrap only): the other nodes probe it; it must not be reachable from outside the cluster.</summary>
    public int ManagementPort { get; init; } = DefaultManagementPort;

    /// <summary>The service name looked up (config: the entry of the endpoint list; kubernetes: <c>{0}</c> of the selector).</summary>
    public string ServiceName { get; init; } = DefaultServiceName;

    /// <summary><see cref="Config"/>: the management endpoints of the nodes, <c>host:port</c>, this node's own among them to be able to found the cluster.</summary>
    public string[] Endpoints { get; init; } = [];

    /// <summary><see cref="Kubernetes"/>: the pods to contact, a label selector (<c>{0}</c>: <see cref="ServiceName"/>).</summary>
    public string PodLabelSelector { get; init; } = DefaultPodLabelSelector;

    /// <summary>
    /// Peers that must have answered before the lowest of them founds a new cluster (joining an existing one needs only one).
    /// Set it to the number of nodes started together; more than will ever run and no cluster forms.
    /// </summary>
    public int RequiredContactPoints { get; init; } = 2;

    /// <summary>Whether the node forms the cluster through Akka.Management's Cluster Bootstrap (not static seeds).</summary>
    public bool Bootstraps => Method != Static;

    /// <summary>The selector with <c>{0}</c> replaced, as the Kubernetes API is asked.</summary>
    public string EffectiveSelector => PodLabelSelector.Replace("{0}", ServiceName, StringComparison.Ordinal);

    /// <summary>Option name → environment variable (merged into <see cref="NodeOptions.EnvironmentNames"/>).</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentNames { get; } = new Dictionary<string, string>
    {
        ["discovery"] = "LSTMCLUSTER_DISCOVERY",
        ["management-port"] = "LSTMCLUSTER_MANAGEMENT_PORT",
        ["discovery-service"] = "LSTMCLUSTER_DISCOVERY_SERVICE",
        ["discovery-endpoints"] = "LSTMCLUSTER_DISCOVERY_ENDPOINTS",
        ["discovery-selector"] = "LSTMCLUSTER_DISCOVERY_SELECTOR",
        ["required-contact-points"] = "LSTMCLUSTER_REQUIRED_CONTACT_POINTS",
    };

    /// <summary>The command line's words for the options (<c>lstmcluster node --help</c>).</summary>
    public static IReadOnlyList<(string Name, string Description)> Flags { get; } =
    [
        ("discovery", "how the node finds the cluster: static (--seeds, the default), config (--discovery-endpoints) or kubernetes (pods by label), the last two through Akka.Management's Cluster Bootstrap"),
        ("management-port", $"config/kubernetes discovery: Akka.Management's HTTP port, probed by the other nodes (default {DefaultManagementPort}; keep it inside the cluster)"),
        ("discovery-service", $"config/kubernetes discovery: the service name looked up (default {DefaultServiceName})"),
        ("discovery-endpoints", "config discovery: every node's management endpoint, host:port, comma separated"),
        ("discovery-selector", $"kubernetes discovery: label selector of the cluster's pods, {{0}} = the service name (default {DefaultPodLabelSelector})"),
        ("required-contact-points", "config/kubernetes discovery: nodes that must answer before the lowest founds a new cluster (default 2)"),
    ];

    /// <summary>The options from <paramref name="values"/> (option name → text, as <see cref="NodeOptions.Resolve"/> layers them).</summary>
    public static NodeDiscoveryOptions From(IReadOnlyDictionary<string, string> values)
    {
        var o = new NodeDiscoveryOptions();
        if (values.TryGetValue("discovery", out var method) && method.Trim().Length > 0) o = o with { Method = method.Trim().ToLowerInvariant() };
        if (values.TryGetValue("management-port", out var port) && port.Trim().Length > 0) o = o with { ManagementPort = Int("management-port", port) };
        if (values.TryGetValue("discovery-service", out var service) && service.Trim().Length > 0) o = o with { ServiceName = service.Trim() };
        if (values.TryGetValue("discovery-endpoints", out var endpoints))
            o = o with { Endpoints = endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        if (values.TryGetValue("discovery-selector", out var selector) && selector.Trim().Length > 0) o = o with { PodLabelSelector = selector.Trim() };
        if (values.TryGetValue("required-contact-points", out var required) && required.Trim().Length > 0)
            o = o with { RequiredContactPoints = Int("required-contact-points", required) };
        return o;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the option that is wrong; <paramref name="seeds"/> are the node's <c>--seeds</c>.</summary>
    public void Validate(IReadOnlyCollection<string> seeds)
    {
        if (!Methods.Contains(Method))
            throw new ArgumentException($"discovery must be static, config or kubernetes (got '{Method}')");
        if (!Bootstraps)
        {
            if (Endpoints.Length > 0) throw new ArgumentException("--discovery-endpoints needs --discovery config");
            return;
        }
        if (seeds.Count > 0)
            throw new ArgumentException($"--seeds and --discovery {Method} are two ways of joining: give one (Cluster Bootstrap does not run when seeds are set)");
        if (ManagementPort is < 1 or > 65535) throw new ArgumentException($"management-port must be between 1 and 65535 (got {ManagementPort})");
        if (RequiredContactPoints is < 1 or > 10_000) throw new ArgumentException($"required-contact-points must be between 1 and 10000 (got {RequiredContactPoints})");
        if (ServiceName.Any(char.IsWhiteSpace)) throw new ArgumentException($"discovery-service must be one word (got '{ServiceName}')");
        if (Method == Config)
        {
            if (Endpoints.Length == 0)
                throw new ArgumentException("--discovery config needs --discovery-endpoints: every node's management endpoint, host:port, comma separated");
            foreach (var e in Endpoints)
            {
                int colon = e.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(e[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
                    throw new ArgumentException($"discovery endpoint '{e}' is not host:port (a node's management endpoint, like 10.0.0.5:{DefaultManagementPort})");
            }
        }
        if (Method != Config && Endpoints.Length > 0) throw new ArgumentException("--discovery-endpoints needs --discovery config");
    }

    private static int Int(string name, string text) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new ArgumentException($"{name} must be a whole number (got '{text}')");
}

/// <summary>
/// Wires <see cref="NodeDiscoveryOptions"/> into a node: nothing for static seeds; otherwise Akka.Management's Cluster
/// Bootstrap with the discovery method, and the HTTP endpoint its peers probe, <c>GET /bootstrap/seed-nodes</c>, on the
/// management port, all started with the actor system through Akka.Hosting.
/// </summary>
/// <remarks>
/// The endpoint is served here, by Kestrel, not by Akka.Management's own HTTP server: that one (Akka.Http.Shim 1.5.73)
/// is built against Ceen.Httpd 0.9.9, and the only Ceen.Httpd the package feed serves, 0.9.10, lacks the method it calls
/// (<c>MissingMethodException</c> on start, and Akka.Management then stops the actor system). The answer is the one
/// Akka.Management's <c>HttpClusterBootstrapRoutes</c> gives, written with the same JSON protocol classes and serializer
/// its probing side (<c>HttpContactPointBootstrap</c>) reads, so nodes of either kind bootstrap together.
/// </remarks>
public static class NodeDiscovery
{
    /// <summary>The most seed nodes one answer lists (Akka.Management's default).</summary>
    private const int MaxSeedNodesToExpose = 5;

    /// <summary>Checks, before anything starts, that the management port can be bound (like the node's other ports).</summary>
    public static void CheckPorts(NodeOptions options)
    {
        var d = options.Discovery;
        if (!d.Bootstraps) return;
        if (d.ManagementPort == options.Port || d.ManagementPort == options.HttpPort)
            throw new ArgumentException($"management-port {d.ManagementPort} is also the node's {(d.ManagementPort == options.Port ? "--port" : "--http-port")}: give each its own");
        NodeHost.CheckPortFree(options.Host, d.ManagementPort, "Akka.Management, --management-port");
    }

    /// <summary>Adds Cluster Bootstrap, the discovery of <paramref name="options"/> and the management endpoint (nothing for static seeds).</summary>
    public static AkkaConfigurationBuilder WithNodeDiscovery(this AkkaConfigurationBuilder akka, NodeOptions options)
    {
        var d = options.Discovery;
        if (!d.Bootstraps) return akka;
        string bind = options.Host is "0.0.0.0" or "::" or "*" or "" ? "0.0.0.0" : options.Host;
        // Peers probe this node at the address they discovered it by, and the join decider finds itself among the contact
        // points by this host and port: the node's advertised address (a pod's IP in Kubernetes: --public-host).
        var self = new Uri($"http://{options.AdvertisedHost}:{d.ManagementPort}/");
        // Settings only (akka.management.http.*: the fallback port of contact points without one); not started (see remarks).
        akka.WithAkkaManagement(new AkkaManagementOptions
        {
            HostName = options.AdvertisedHost,
            Port = d.ManagementPort,
            BindHostName = bind,
            BindPort = d.ManagementPort,
        }, autoStart: false);
        akka.WithClusterBootstrap(setup =>
        {
            setup.ContactPointDiscovery.ServiceName = d.ServiceName;
            setup.ContactPointDiscovery.RequiredContactPointsNr = d.RequiredContactPoints;
            if (d.Method == NodeDiscoveryOptions.Kubernetes)
            {
                // The pods' container port of this name is the management port: no filtering by port needed.
                setup.ContactPointDiscovery.PortName = NodeDiscoveryOptions.ManagementPortName;
            }
            else
            {
                // Configured endpoints carry their port. Several nodes on one host (127.0.0.1 in tests, or one machine) differ
                // by port alone, and by default all but the one on this node's own port would be dropped.
                setup.ContactPoint.FilterOnFallbackPort = false;
            }
        }, autoStart: false);
        if (d.Method == NodeDiscoveryOptions.Kubernetes)
        {
            // The method and the selector over anything else; the defaults (the pod's ServiceAccount files) under --hocon.
            akka.AddHocon($"akka.discovery.method = {KubernetesPodDiscovery.Method}\n"
                + $"akka.discovery.{KubernetesPodDiscovery.Method}.pod-label-selector = {JsonConvert.ToString(d.PodLabelSelector)}", HoconAddMode.Prepend);
            akka.AddHocon(KubernetesPodDiscovery.DefaultHocon, HoconAddMode.Append);
        }
        else
            akka.WithConfigDiscovery(new ConfigServiceDiscoveryOptions
            {
                Services = [new Service { Name = d.ServiceName, Endpoints = d.Endpoints }],
            });
        akka.AddStartup(async (system, registry) =>
        {
            var endpoint = await StartEndpoint(system, bind, d.ManagementPort);
            _ = system.WhenTerminated.ContinueWith(_ => endpoint.DisposeAsync().AsTask(), TaskScheduler.Default).Unwrap();
            var bootstrap = ClusterBootstrap.Get(system);
            // What Akka.Management does when it binds its routes: tells the bootstrap its own contact point.
            _ = bootstrap.Routes(ManagementRouteProviderSettings.Create(self, readOnly: true));
            await bootstrap.Start();
        });
        return akka;
    }

    /// <summary>Kestrel on the management port with <c>GET /bootstrap/seed-nodes</c> alone.</summary>
    private static async Task<WebApplication> StartEndpoint(ActorSystem system, string bind, int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{bind}:{port}");
        var app = builder.Build();
        app.MapGet("/bootstrap/seed-nodes", () => Results.Text(SeedNodes(system), "application/json"));
        await app.StartAsync();
        return app;
    }

    /// <summary>
    /// Akka.Management's answer: this node's address and up to <see cref="MaxSeedNodesToExpose"/> reachable members that are
    /// Up, WeaklyUp or Joining (none while this node is leaving or down), as Newtonsoft writes its protocol classes.
    /// </summary>
    public static string SeedNodes(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address,
                ImmutableList<HttpBootstrapJsonProtocol.ClusterMember>.Empty));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(MaxSeedNodesToExpose)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, members));
    }
}
