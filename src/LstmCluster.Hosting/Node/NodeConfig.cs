using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Remoting;
using LstmCluster.Actors.Serialization;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// The Akka configuration of a cluster node, in one place: Akka.Hosting's options for what its builders cover
/// (<see cref="Remote"/>: transport, frame size, TLS; <see cref="Cluster"/>: roles, seeds, failure detector, split-brain
/// resolver; <see cref="CoordinatorSingleton"/>), and <see cref="Hocon"/> for what they do not, each key with its reason.
/// The operator's <see cref="NodeOptions.Hocon"/> goes over all of it.
/// </summary>
public static class NodeConfig
{
    /// <summary>
    /// Failure detection for nodes that saturate their CPU with training: a training step can hold
    /// both cores for hundreds of milliseconds, and garbage collection of large vectors adds pauses.
    /// Akka's defaults (3 s pause) would mark a busy worker unreachable; 10 s tolerates it while a
    /// really dead node is still noticed within seconds.
    /// </summary>
    public static readonly TimeSpan FailureDetectorPause = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the split-brain resolver waits for the membership to be stable before it downs unreachable nodes;
    /// also how long the coordinator singleton waits, once its old node is removed, before it starts on the next
    /// coordinator node (Akka's removal margin defaults to it), so the copy on a downed side has stopped first.
    /// </summary>
    public const string StableAfter = "7s";

    /// <summary>Everything the node's actor system is configured with, on an Akka.Hosting builder (<see cref="NodeHost"/>).</summary>
    /// <param name="tls">This node's certificate and peer validation (<see cref="NodeTls.Load"/>); null: plaintext, or only the configuration is wanted.</param>
    public static AkkaConfigurationBuilder Configure(AkkaConfigurationBuilder akka, NodeOptions options, RemoteTls? tls)
    {
        akka.AddHocon(Hocon(options), HoconAddMode.Prepend);
        akka.WithRemoting(Remote(options, tls));
        akka.WithClustering(Cluster(options));
        // Last, so it wins over everything above (failure-detector timings in tests, an operator's tuning).
        if (options.Hocon is { Length: > 0 } extra) akka.AddHocon(extra, HoconAddMode.Prepend);
        return akka;
    }

    /// <summary>Akka.Remote through Akka.Hosting: where the transport listens, how large a frame may be, and TLS.</summary>
    public static RemoteOptions Remote(NodeOptions options, RemoteTls? tls) => new()
    {
        HostName = options.Host,
        Port = options.Port,
        PublicHostName = options.AdvertisedHost,
        // See RemoteConfig.MaximumFrameSize: Akka's default (128000 bytes) drops one model's weights; Akka asks that the
        // socket buffers hold a whole frame.
        MaxFrameSize = RemoteConfig.MaximumFrameSize,
        SendBufferSize = RemoteConfig.MaximumFrameSize,
        ReceiveBufferSize = RemoteConfig.MaximumFrameSize,
        WatchFailureDetector = new PhiAccrualFailureDetectorOptions { AcceptableHeartbeatPause = FailureDetectorPause },
        // Addresses become akka.ssl.tcp://lstm@host:port. Both ends present a certificate; a peer is admitted by its CA
        // (RemoteTls.Validate), not by its host name, and validation is never suppressed (see RemoteTls).
        EnableSsl = options.Tls,
        Ssl = new SslOptions
        {
            X509Certificate = tls?.Certificate,
            SuppressValidation = options.Tls ? false : null,
            RequireMutualAuthentication = options.Tls ? true : null,
            ValidateCertificateHostname = options.Tls ? false : null,
            CustomValidator = tls is null ? null : tls.Validate,
        },
    };

    /// <summary>Akka.Cluster through Akka.Hosting: roles, seeds, failure detection and the split-brain resolver.</summary>
    public static ClusterOptions Cluster(NodeOptions options) => new()
    {
        Roles = options.Roles,
        // No seeds: this node founds the cluster; NodeActors joins it to itself once its port is known (port 0 too).
        SeedNodes = options.Seeds,
        // See FailureDetectorPause.
        FailureDetector = new PhiAccrualFailureDetectorOptions
        {
            HeartbeatInterval = TimeSpan.FromSeconds(1),
            Threshold = 12.0,
            AcceptableHeartbeatPause = FailureDetectorPause,
        },
        // Split-brain resolver, chosen on purpose: keep-majority over all members (no role). Losing any one node of a
        // cluster of 3 or more, the oldest coordinator included, leaves a majority that downs it and runs on; the
        // coordinator singleton then starts on the next coordinator-role node. A second node that merely looks
        // unreachable at that moment (a GC pause, a saturated core) still leaves a majority in a cluster of 5. A
        // partition: the larger side survives; an even split keeps the side with the lowest address.
        // Not keep-oldest: with one crashed oldest node and a second node briefly unreachable, the reachable side no
        // longer sees the oldest "alone" and downs itself (seen in NodeLossTests on a loaded machine); with role =
        // "coordinator" it counts only coordinator nodes, and every survivor downed itself when the only coordinator
        // died. The price: a 2-node cluster that loses a node is an even split (1 against 1), decided by address; run 3
        // or more. All of this holds once the membership has converged (ClusterReadiness: /ready's converged): the
        // resolver counts only Up members, and a node lost while the others still see themselves Joining leaves them
        // counting nobody on their side, so they down themselves. Its stable-after is in Hocon (the option has none).
        SplitBrainResolver = new KeepMajorityOption(),
    };

    /// <summary>The coordinator as a cluster singleton on the coordinator role (<see cref="NodeActors"/>), and every node's proxy to it.</summary>
    public static ClusterSingletonOptions CoordinatorSingleton => new()
    {
        Role = Vocabulary.Roles.Coordinator,
        TerminationMessage = PoisonPill.Instance,
        // Akka's proxy warns "failed to find an associated singleton ... after 30 seconds" on every node at start, a
        // second after it was created, while the singleton starts normally (seen on 1.5.73). /ready and the API's 503
        // ("no coordinator node is up") say when the coordinator is really missing.
        LogSingletonIdentificationFailure = false,
    };

    /// <summary>
    /// What Akka.Hosting's builders do not cover, as HOCON: the split-brain resolver's stable-after and the cluster's
    /// shutdown behaviour, transport batching, log levels, chunking, the serializers, the torch dispatcher, the journal.
    /// </summary>
    public static Config Hocon(NodeOptions options)
    {
        // Threads for torch actors: this node's worker plus a parameter server per concurrent job.
        int torchActors = (options.Has(Vocabulary.Roles.Worker) ? 1 : 0) + (options.Has(Vocabulary.Roles.ParameterServer) ? options.MaxConcurrentJobs : 0);
        string node = $$"""
            akka.cluster {
              # See StableAfter. The resolver itself (keep-majority) is Cluster(options).SplitBrainResolver.
              split-brain-resolver.stable-after = {{StableAfter}}
              # A downed node stops its actor system; the node process exits with it.
              run-coordinated-shutdown-when-down = on
              # A node that cannot join gives up (and exits 1, for an orchestrator to restart it) instead of retrying for ever.
              shutdown-after-unsuccessful-join-seed-nodes = 60s
            }
            # Weights, gradients and shards go on a connection of their own between the nodes that train together
            # (BulkLane: fewer thread hand-overs than Akka.Remote's, issue #12). port = 0: any free port, told to peers
            # through the cluster; set a fixed one where a firewall must let it through. off: everything on Akka.Remote.
            lstmcluster.bulk-lane {
              enabled = on
              port = 0
            }
            # A training round is a request/response between the parameter server and its workers: DotNetty's
            # write batching (flush every 40 ms unless 16 KB are pending) would hold small messages back.
            akka.remote.dot-netty.tcp.batching.enabled = false
            # Info and above reach NodeLogger (Microsoft.Extensions.Logging); the console logger of Akka's own start-up only warnings.
            akka.loglevel = INFO
            akka.stdout-loglevel = WARNING
            akka.log-dead-letters = 10
            akka.log-dead-letters-during-shutdown = off
            # SIGTERM leaves the cluster gracefully.
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = on
            """;
        return ConfigurationFactory.ParseString(Journal(options))
            .WithFallback(ConfigurationFactory.ParseString(node))
            // Large messages in chunks, through the chunk assembler every node starts (RemoteConfig.ChunkingHocon).
            .WithFallback(ConfigurationFactory.ParseString(RemoteConfig.ChunkingHocon))
            .WithFallback(ConfigurationFactory.ParseString(ChunkSerializer.Hocon))
            // Akka's JSON fallback, which a peer can name by its id, restricted to known types (AllowListJsonSerializer says why).
            .WithFallback(ConfigurationFactory.ParseString(AllowListJsonSerializer.Hocon))
            // The project's serializers, the torch dispatcher (EmbeddedEngine.Configuration says why each).
            .WithFallback(EmbeddedEngine.Configuration(null, torchActors));
    }

    /// <summary>
    /// The whole configuration <see cref="Configure"/> gives, for a node's ActorSystem created outside Akka.Hosting
    /// (<c>ActorSystem.Create</c> in tests) or to read it: the builders' output over <see cref="Hocon"/>, with the cluster provider.
    /// </summary>
    public static Config Build(NodeOptions options) => Builder(options, tls: null).Configuration.Value;

    /// <summary>
    /// <see cref="Build"/> with <paramref name="tls"/> (from <see cref="NodeTls.Load"/>): the setup <c>ActorSystem.Create</c> needs
    /// for a node outside Akka.Hosting, the certificate and peer validation included.
    /// </summary>
    public static ActorSystemSetup Setup(NodeOptions options, RemoteTls? tls)
    {
        if (options.Tls != tls is not null) throw new ArgumentException("TLS options and TLS material disagree: load it with NodeTls.Load(options)");
        var akka = Builder(options, tls);
        return akka.Setups.Aggregate(ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(akka.Configuration.Value)), (s, extra) => s.And(extra));
    }

    private static AkkaConfigurationBuilder Builder(NodeOptions options, RemoteTls? tls)
    {
        var akka = Configure(new AkkaConfigurationBuilder(new ServiceCollection(), NodeOptions.SystemName), options, tls);
        // Akka.Hosting sets the provider on the system's bootstrap setup; a system created from the configuration alone reads it here.
        akka.AddHocon("akka.actor.provider = cluster", HoconAddMode.Append);
        return akka;
    }

    /// <summary>The journal as error messages name it: the SQLite file, or the provider of another database.</summary>
    public static string JournalName(NodeOptions options) =>
        options.StateDir is null ? "in-memory journal"
        : options.JournalConnection is null ? Path.Combine(options.StateDir, "lstmcluster.db")
        : $"{options.JournalProvider} database of --journal-connection";

    /// <summary>
    /// The coordinator's job journal: Akka.Persistence.Sql (Linq2Db) with SQLite in the state directory unless the
    /// operator names another database; tables are created on first use. No state directory (tests): in memory.
    /// </summary>
    public static string Journal(NodeOptions options)
    {
        if (options.StateDir is null) return EmbeddedEngine.InMemoryJournal;
        string connection = options.JournalConnection ?? $"Data Source={Path.Combine(options.StateDir, "lstmcluster.db")}";
        string sql = $$"""
            sql {
              connection-string = {{Quote(connection)}}
              provider-name = {{Quote(options.JournalProvider)}}
            }
            """;
        return $$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                {{sql}}
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                {{sql}}
              }
            }
            """;
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
