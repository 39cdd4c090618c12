using LstmCluster.Hosting.Node;
using static LstmCluster.Hosting.Tests.Node.NodeOptionInput;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>How a node's options are layered (file &lt; environment &lt; flags) and checked.</summary>
public sealed class NodeOptionsTests : IDisposable
{
    private readonly string config = Path.Combine(Path.GetTempPath(), $"lstmcluster-node-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(config);

    [Fact]
    public void Defaults_make_a_single_node_cluster_with_every_role()
    {
        var o = NodeOptions.Resolve(Flags(), Env(), configPath: null);
        Assert.Equal(["coordinator", "parameter-server", "worker"], o.Roles);
        Assert.Equal(("127.0.0.1", 4053, 5080), (o.Host, o.Port, o.HttpPort));
        Assert.Empty(o.Seeds);
        Assert.Null(o.TorchThreads);
    }

    [Fact]
    public void A_flag_wins_over_the_environment_and_the_environment_over_the_file()
    {
        File.WriteAllText(config, """
            { "node": { "//": "comment", "roles": "worker", "port": 5000, "http_port": 6000, "seeds": ["akka.tcp://lstm@a:1", "akka.tcp://lstm@b:2"] } }
            """);
        var fileOnly = NodeOptions.Resolve(Flags(), Env(), config);
        Assert.Equal(["worker"], fileOnly.Roles);
        Assert.Equal((5000, 6000), (fileOnly.Port, fileOnly.HttpPort));
        Assert.Equal(["akka.tcp://lstm@a:1", "akka.tcp://lstm@b:2"], fileOnly.Seeds);

        var env = Env(("LSTMCLUSTER_PORT", "5001"), ("LSTMCLUSTER_ROLES", "parameter-server, worker"), ("LSTMCLUSTER_TORCH_THREADS", ""));
        var withEnv = NodeOptions.Resolve(Flags(), env, config);
        Assert.Equal(["parameter-server", "worker"], withEnv.Roles);
        Assert.Equal((5001, 6000), (withEnv.Port, withEnv.HttpPort));
        Assert.Null(withEnv.TorchThreads);   // empty means "not set" (compose passes empty variables)

        var withFlags = NodeOptions.Resolve(Flags(("port", "5002"), ("roles", null), ("torch-threads", "2")), env, config);
        Assert.Equal(5002, withFlags.Port);
        Assert.Equal(["parameter-server", "worker"], withFlags.Roles);   // a flag not given leaves the environment's value
        Assert.Equal(2, withFlags.TorchThreads);
    }

    [Fact]
    public void A_wildcard_host_advertises_the_machines_name_unless_a_public_host_is_given()
    {
        Assert.Equal(System.Net.Dns.GetHostName(), NodeOptions.Resolve(Flags(("host", "0.0.0.0")), Env(), null).AdvertisedHost);
        Assert.Equal("seed", NodeOptions.Resolve(Flags(("host", "0.0.0.0"), ("public-host", "seed")), Env(), null).AdvertisedHost);
        Assert.Equal("10.1.2.3", NodeOptions.Resolve(Flags(("host", "10.1.2.3")), Env(), null).AdvertisedHost);
    }

    public static TheoryData<string, string, string> BadOptions => new()
    {
        { "roles", "boss", "unknown role 'boss'" },
        { "roles", " , ", "at least one role" },
        { "port", "70000", "port must be between 0 and 65535 (got 70000)" },
        { "port", "four", "port must be a whole number (got 'four')" },
        { "seeds", "lstm@host:4053", "is not an address like akka.tcp://lstm@host:4053" },
        { "seeds", "akka.tcp://other@host:4053", "names actor system 'other'" },
        { "torch-threads", "0", "torch threads must be between 1 and 1024 (got 0)" },
        { "max-upload-mb", "0", "max upload" },
        { "checkpoint-every", "soon", "checkpoint-every must be a duration like 30s or 5m, 'epoch' or 'off' (got 'soon')" },
        { "checkpoint-every", "-5s", "checkpoint-every must be a duration" },
        { "max-job-work", "lots", "max-job-work must be a positive number like 4000000 or 4e13 (got 'lots')" },
        { "max-queued-jobs", "0", "max queued jobs must be at least 1 (got 0)" },
        { "max-queued-per-owner", "0", "max queued jobs per owner must be at least 1 (got 0)" },
        { "max-running-per-owner", "0", "max running jobs per owner must be at least 1 (got 0)" },
        { "max-stored-mb-per-owner", "0", "max stored MB per owner must be at least 1 (got 0)" },
        { "max-stored-mb-per-owner", "lots", "max-stored-mb-per-owner" },
    };

    [Theory]
    [InlineData(null, 30.0)]
    [InlineData("45s", 45.0)]
    [InlineData("2m", 120.0)]
    [InlineData("10", 10.0)]
    [InlineData("epoch", 0.0)]
    [InlineData("0", 0.0)]
    [InlineData("off", null)]
    public void Checkpoint_intervals_read_as_seconds_minutes_epoch_or_off(string? value, double? seconds)
    {
        var o = NodeOptions.Resolve(Flags(("checkpoint-every", value)), Env(), null);
        Assert.Equal(seconds, o.CheckpointEvery?.TotalSeconds);
    }

    [Fact]
    public void Job_budgets_come_from_the_node_options()
    {
        var o = NodeOptions.Resolve(Flags(("max-queued-jobs", "5"), ("max-job-parameters", "1e6"), ("max-job-work", "2e12")), Env(), null);
        Assert.Equal((5, 1_000_000L, 2e12), (o.Budget.MaxQueuedJobs, o.Budget.MaxParameters, o.Budget.MaxWork));
        Assert.Null(o.Budget.MaxQueuedPerOwner);
        Assert.Equal(3, NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_MAX_QUEUED_PER_OWNER", "3")), null).Budget.MaxQueuedPerOwner);
        Assert.Null(o.Budget.MaxRunningPerOwner);
        Assert.Equal(2, NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_MAX_RUNNING_PER_OWNER", "2")), null).Budget.MaxRunningPerOwner);
        Assert.Equal(1, NodeOptions.Resolve(Flags(("max-running-per-owner", "1")), Env(), null).Budget.MaxRunningPerOwner);
        Assert.Null(o.Budget.MaxStoredBytesPerOwner);
        Assert.Equal(2048L * 1048576, NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_MAX_STORED_MB_PER_OWNER", "2048")), null).Budget.MaxStoredBytesPerOwner);
        Assert.Equal(5L * 1048576, NodeOptions.Resolve(Flags(("max-stored-mb-per-owner", "5")), Env(), null).Budget.MaxStoredBytesPerOwner);
    }


    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_value_is_refused_with_its_reason(string option, string value, string reason)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags((option, value)), Env(), null));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void The_layers_are_one_configuration_whose_keys_are_the_files_spelling()
    {
        File.WriteAllText(config, """
            { "node": { "http-port": 6000, "max_upload_mb": 8, "insecure_api": true, "cors_origins": ["https://a.example", "https://b.example"] } }
            """);
        var layers = NodeOptions.Layers(Flags(("port", "5002")), config, Env(("LSTMCLUSTER_MAX_UPLOAD_MB", "9")));
        Assert.Equal("5002", layers["port"]);
        Assert.Equal("9", layers["MAX_UPLOAD_MB"]);   // keys compare without case: the environment's and the file's are one
        Assert.Equal("6000", layers["http-port"]);

        var o = NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_MAX_UPLOAD_MB", "9")), config);
        Assert.Equal(6000, o.HttpPort);   // a name with dashes in the file, as the flag spells it
        Assert.Equal(9L * 1024 * 1024, o.MaxUploadBytes);
        Assert.True(o.InsecureApi);
        Assert.Equal(["https://a.example", "https://b.example"], o.CorsOrigins);
        // A flag's value may start with a dash and is still the flag's.
        Assert.Equal("-Dsomething", NodeOptions.Layers(Flags(("hocon", "-Dsomething")), null, Env())["hocon"]);
    }

    [Fact]
    public void A_config_file_that_is_not_json_is_refused_naming_it()
    {
        File.WriteAllText(config, """{ "node": { "port": """);
        var e = Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(), Env(), config));
        Assert.StartsWith($"{config}: not valid JSON", e.Message);
    }

    [Fact]
    public void Every_option_has_its_environment_variable()
    {
        Assert.Equal("LSTMCLUSTER_HTTP_PORT", NodeOptions.EnvironmentNames["http-port"]);
        Assert.Equal("LSTMCLUSTER_TLS_CA", NodeOptions.EnvironmentNames["tls-ca"]);
        Assert.Equal("LSTMCLUSTER_REQUIRED_CONTACT_POINTS", NodeOptions.EnvironmentNames["required-contact-points"]);
        Assert.Equal(44, NodeOptions.EnvironmentNames.Count);
        Assert.All(NodeOptions.EnvironmentNames, e => Assert.Equal("LSTMCLUSTER_" + e.Key.Replace('-', '_').ToUpperInvariant(), e.Value));
    }

    [Fact]
    public void Unknown_options_in_the_file_are_refused()
    {
        File.WriteAllText(config, """{ "node": { "rolez": "worker" } }""");
        var e = Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(), Env(), config));
        Assert.Contains("unknown node option 'rolez'", e.Message);
    }

    [Fact]
    public void The_node_config_carries_roles_seeds_the_split_brain_resolver_and_the_frame_size()
    {
        var o = NodeOptions.Resolve(Flags(("roles", "worker"), ("seeds", "akka.tcp://lstm@seed:4053"), ("port", "4100")), Env(), null);
        var c = NodeConfig.Build(o);
        Assert.Equal("cluster", c.GetString("akka.actor.provider"));
        Assert.Equal(["worker"], c.GetStringList("akka.cluster.roles"));
        Assert.Equal(["akka.tcp://lstm@seed:4053"], c.GetStringList("akka.cluster.seed-nodes"));
        // A majority over all members: no single loss in a cluster of 3 or more downs the survivors (NodeLossTests).
        Assert.Equal("keep-majority", c.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.True(string.IsNullOrEmpty(c.GetString("akka.cluster.split-brain-resolver.keep-majority.role")));
        Assert.StartsWith("Akka.Cluster.SBR.SplitBrainResolverProvider", c.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal(TimeSpan.FromSeconds(7), c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(TimeSpan.FromSeconds(10), c.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(4 * 1024 * 1024, c.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.Equal(4100, c.GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Fact]
    public void The_operators_hocon_wins_over_the_builders_and_the_nodes_own()
    {
        var o = NodeOptions.Resolve(Flags(("hocon", """
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
            akka.remote.dot-netty.tcp.maximum-frame-size = 8MiB
            akka.cluster.split-brain-resolver.stable-after = 2s
            """)), Env(), null);
        var c = NodeConfig.Build(o);
        Assert.Equal(TimeSpan.FromSeconds(3), c.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(8 * 1024 * 1024, c.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.Equal(TimeSpan.FromSeconds(2), c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        // What the builders do not cover is still there, once: chunking, the serializers, the dispatcher.
        Assert.Equal(1024 * 1024, c.GetByteSize("lstmcluster.chunking.chunk-size"));
        Assert.False(c.GetBoolean("akka.remote.dot-netty.tcp.batching.enabled"));
        // A peer names the serializer of what it sends: Akka's JSON one (id 1) builds only allowed types on a node.
        Assert.StartsWith(typeof(LstmCluster.Actors.Serialization.AllowListJsonSerializer).FullName!, c.GetString("akka.actor.serializers.json"));
    }

    [Fact]
    public void A_state_directory_gives_the_coordinator_a_sqlite_journal_there_and_none_keeps_it_in_memory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lstm state");
        var durable = NodeConfig.Build(NodeOptions.Resolve(Flags(("state-dir", dir)), Env(), null));
        Assert.Equal("akka.persistence.journal.sql", durable.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", durable.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal($"Data Source={Path.Combine(dir, "lstmcluster.db")}", durable.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("SQLite.MS", durable.GetString("akka.persistence.journal.sql.provider-name"));

        var postgres = NodeConfig.Build(NodeOptions.Resolve(Flags(("state-dir", dir), ("journal-provider", "PostgreSQL"),
            ("journal-connection", "Host=db;Database=lstm")), Env(), null));
        Assert.Equal("PostgreSQL", postgres.GetString("akka.persistence.snapshot-store.sql.provider-name"));
        Assert.Equal("Host=db;Database=lstm", postgres.GetString("akka.persistence.snapshot-store.sql.connection-string"));

        // Resolved options default to ./lstmcluster-state; an empty value keeps nothing (tests only).
        Assert.Equal(Path.GetFullPath(NodeOptions.DefaultStateDir), NodeOptions.Resolve(Flags(), Env(), null).StateDir);
        var none = NodeConfig.Build(NodeOptions.Resolve(Flags(("state-dir", "")), Env(), null));
        Assert.Equal("akka.persistence.journal.inmem", none.GetString("akka.persistence.journal.plugin"));
        Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(Flags(("keep-jobs", "0")), Env(), null));
    }
}
