using LstmCluster.Hosting.Node;
using static LstmCluster.Hosting.Tests.Node.NodeOptionInput;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>How a node is told to find the cluster (<c>--discovery</c> and its options), layered and checked like its other options.</summary>
public sealed class NodeDiscoveryOptionsTests : IDisposable
{
    private readonly string config = Path.Combine(Path.GetTempPath(), $"lstmcluster-discovery-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(config);

    [Fact]
    public void Static_seeds_stay_the_default()
    {
        var o = NodeOptions.Resolve(Flags(), Env(), configPath: null);
        Assert.Equal(NodeDiscoveryOptions.Static, o.Discovery.Method);
        Assert.False(o.Discovery.Bootstraps);
    }

    [Fact]
    public void Discovery_comes_from_the_file_the_environment_and_flags_in_that_order()
    {
        File.WriteAllText(config, """
            { "node": { "discovery": "config", "discovery_endpoints": ["10.0.0.1:8558", "10.0.0.2:8558"], "management_port": 8600 } }
            """);
        var file = NodeOptions.Resolve(Flags(), Env(), config);
        Assert.Equal(NodeDiscoveryOptions.Config, file.Discovery.Method);
        Assert.Equal(["10.0.0.1:8558", "10.0.0.2:8558"], file.Discovery.Endpoints);
        Assert.Equal(8600, file.Discovery.ManagementPort);

        var env = Env(("LSTMCLUSTER_DISCOVERY", "Kubernetes"), ("LSTMCLUSTER_DISCOVERY_ENDPOINTS", ""), ("LSTMCLUSTER_REQUIRED_CONTACT_POINTS", "4"),
            ("LSTMCLUSTER_DISCOVERY_SELECTOR", "app=lstm,tier={0}"), ("LSTMCLUSTER_DISCOVERY_SERVICE", "nodes"));
        var fromEnv = NodeOptions.Resolve(Flags(), env, config);
        Assert.Equal(NodeDiscoveryOptions.Kubernetes, fromEnv.Discovery.Method);
        Assert.Equal(4, fromEnv.Discovery.RequiredContactPoints);
        Assert.Equal("app=lstm,tier=nodes", fromEnv.Discovery.EffectiveSelector);

        var flags = NodeOptions.Resolve(Flags(("discovery", "static"), ("management-port", "9000")), env, config);
        Assert.False(flags.Discovery.Bootstraps);
    }

    [Fact]
    public void The_kubernetes_defaults_select_the_pods_of_the_deployment_by_their_part_of_label()
    {
        var o = NodeOptions.Resolve(Flags(("discovery", "kubernetes")), Env(), null);
        Assert.Equal("app.kubernetes.io/part-of=lstmcluster", o.Discovery.EffectiveSelector);
        Assert.Equal((NodeDiscoveryOptions.DefaultManagementPort, 2), (o.Discovery.ManagementPort, o.Discovery.RequiredContactPoints));
    }

    public static TheoryData<string[], string> BadOptions => new()
    {
        { ["discovery", "dns"], "discovery must be static, config or kubernetes (got 'dns')" },
        { ["discovery", "config"], "--discovery config needs --discovery-endpoints" },
        { ["discovery", "config", "discovery-endpoints", "10.0.0.1"], "discovery endpoint '10.0.0.1' is not host:port" },
        { ["discovery", "config", "discovery-endpoints", "a:1", "seeds", "akka.tcp://lstm@a:4053"], "--seeds and --discovery config are two ways of joining" },
        { ["discovery", "kubernetes", "discovery-endpoints", "a:1"], "--discovery-endpoints needs --discovery config" },
        { ["discovery-endpoints", "a:1"], "--discovery-endpoints needs --discovery config" },
        { ["discovery", "kubernetes", "management-port", "0"], "management-port must be between 1 and 65535 (got 0)" },
        { ["discovery", "kubernetes", "required-contact-points", "0"], "required-contact-points must be between 1 and 10000 (got 0)" },
        { ["discovery", "kubernetes", "required-contact-points", "two"], "required-contact-points must be a whole number (got 'two')" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Bad_discovery_options_are_refused_naming_the_option(string[] pairs, string message)
    {
        var flags = Enumerable.Range(0, pairs.Length / 2).Select(i => (pairs[2 * i], (string?)pairs[2 * i + 1])).ToArray();
        var e = Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(flags), Env(), null));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_management_port_that_is_also_the_node_port_is_refused_before_anything_starts()
    {
        var o = NodeOptions.Resolve(Flags(("discovery", "kubernetes"), ("port", "8558"), ("http-port", "0")), Env(), null);
        var e = Assert.ThrowsAny<ArgumentException>(() => NodeHost.Build(o));
        Assert.Contains("management-port 8558 is also the node's --port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_discovery_option_is_a_node_option_with_its_environment_variable()
    {
        foreach (var (name, variable) in NodeDiscoveryOptions.EnvironmentNames)
            Assert.Equal(variable, NodeOptions.EnvironmentNames[name]);
        Assert.Equal(NodeDiscoveryOptions.EnvironmentNames.Keys.Order(), NodeDiscoveryOptions.Flags.Select(f => f.Name).Order());
    }
}

/// <summary>Which pods of the Kubernetes API's answer become contact points.</summary>
public sealed class KubernetesPodDiscoveryTests
{
    [Fact]
    public void Only_running_pods_with_an_ip_that_are_not_being_deleted_count_with_their_port_of_the_asked_name()
    {
        const string pods = """
            { "kind": "PodList", "items": [
              { "metadata": { "name": "a" }, "status": { "phase": "Running", "podIP": "10.0.0.1" },
                "spec": { "containers": [ { "name": "node", "ports": [ { "name": "remoting", "containerPort": 4053 }, { "name": "management", "containerPort": 8558 } ] } ] } },
              { "metadata": { "name": "pending" }, "status": { "phase": "Pending", "podIP": "10.0.0.2" },
                "spec": { "containers": [ { "name": "node", "ports": [ { "name": "management", "containerPort": 8558 } ] } ] } },
              { "metadata": { "name": "leaving", "deletionTimestamp": "2026-01-01T00:00:00Z" }, "status": { "phase": "Running", "podIP": "10.0.0.3" },
                "spec": { "containers": [ { "name": "node", "ports": [ { "name": "management", "containerPort": 8558 } ] } ] } },
              { "metadata": { "name": "no-ip" }, "status": { "phase": "Running" },
                "spec": { "containers": [ { "name": "node", "ports": [ { "name": "management", "containerPort": 8558 } ] } ] } },
              { "metadata": { "name": "sidecar-first" }, "status": { "phase": "Running", "podIP": "10.0.0.5" },
                "spec": { "containers": [ { "name": "proxy" }, { "name": "node", "ports": [ { "name": "management", "containerPort": 9000 } ] } ] } },
              { "metadata": { "name": "no-management" }, "status": { "phase": "Running", "podIP": "10.0.0.6" },
                "spec": { "containers": [ { "name": "node", "ports": [ { "name": "http", "containerPort": 5080 } ] } ] } }
            ] }
            """;
        var targets = KubernetesPodDiscovery.Targets(pods, "management");
        Assert.Equal([("10.0.0.1", (int?)8558), ("10.0.0.5", 9000)], targets.Select(t => (t.Host, t.Port)));
        // Without a port name every running pod counts, with no port.
        Assert.Equal(["10.0.0.1", "10.0.0.5", "10.0.0.6"], KubernetesPodDiscovery.Targets(pods, null).Select(t => t.Host));
    }
}
