using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Remoting;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// The HOCON of a cluster node. Each block says why its numbers are what they are; the operator
/// overrides any of it with <see cref="NodeOptions.Hocon"/>.
/// </summary>
public static class NodeConfig
{
    /// <summary>
    /// Failure detection for nodes that saturate their CPU with training: a training step can hold
    /// both cores for hundreds of milliseconds, and garbage collection of large vectors adds pauses.
    /// Akka's defaults (3 s pause) would mark a busy worker unreachable; 10 s tolerates it while a
    /// really dead node is still noticed within seconds.
    /// </summary>
    public const string FailureDetectorPause = "10s";

    /// <summary>
    /// How long the split-brain resolver waits for the membership to be stable before it downs unreachable nodes;
    /// also how long the coordinator singleton waits, once its old node is removed, before it starts on the next
    /// coordinator node (Akka's removal margin defaults to it), so the copy on a downed side has stopped first.
    /// </summary>
    public const string StableAfter = "7s";

    public static Config Build(NodeOptions options)
    {
        string roles = string.Join(", ", options.Roles.Select(Quote));
        // No seeds: this node founds the cluster; NodeActors.Start joins it to itself once its port is known (port 0 too).
        var seeds = options.Seeds;
        // Threads for torch actors: this node's worker plus a parameter server per concurrent job.
        int torchActors = (options.Has(Vocabulary.Roles.Worker) ? 1 : 0) + (options.Has(Vocabulary.Roles.ParameterServer) ? options.MaxConcurrentJobs : 0);
        string node = $$"""
            akka.cluster {
              roles = [{{roles}}]
              seed-nodes = [{{string.Join(", ", seeds.Select(Quote))}}]
              # Failure detection: see NodeConfig.FailureDetectorPause.
              failure-detector {
                heartbeat-interval = 1s
                threshold = 12.0
                acceptable-heartbeat-pause = {{FailureDetectorPause}}
              }
              # Split-brain resolver, chosen on purpose: keep-majority over all members (no role). Losing any
              # one node of a cluster of 3 or more, the oldest coordinator included, leaves a majority that
              # downs it and runs on; the coordinator singleton then starts on the next coordinator-role node.
              # A second node that merely looks unreachable at that moment (a GC pause, a saturated core)
              # still leaves a majority in a cluster of 5. A partition: the larger side survives; an even
              # split keeps the side with the lowest address.
              # Not keep-oldest: with one crashed oldest node and a second node briefly unreachable, the
              # reachable side no longer sees the oldest "alone" and downs itself (seen in NodeLossTests on a
              # loaded machine); with role = "coordinator" it counts only coordinator nodes, and every survivor
              # downed itself when the only coordinator died. The price: a 2-node cluster that loses a node
              # is an even split (1 against 1), decided by address; run 3 or more.
              # All of this holds once the membership has converged (ClusterReadiness: /ready's converged): the
              # resolver counts only Up members, and a node lost while the others still see themselves Joining
              # leaves them counting nobody on their side, so they down themselves.
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver {
                active-strategy = keep-majority
                stable-after = {{StableAfter}}
                keep-majority {
                  role = ""
                }
              }
              # A downed node stops its actor system; the node process exits with it.
              run-coordinated-shutdown-when-down = on
              singleton.role = "coordinator"
              singleton-proxy.role = "coordinator"
              # Akka's proxy warns "failed to find an associated singleton ... after 30 seconds" on every node at start,
              # a second after it was created, while the singleton starts normally (seen on 1.5.73). /ready and the API's
              # 503 ("no coordinator node is up") say when the coordinator is really missing.
              singleton-proxy.log-singleton-identification-failure = off
              # Tell nodes leaving on purpose (Ctrl+C) from dead ones quickly.
              shutdown-after-unsuccessful-join-seed-nodes = 60s
            }
            akka.remote.watch-failure-detector.acceptable-heartbeat-pause = {{FailureDetectorPause}}
            # A training round is a request/response between the parameter server and its workers: DotNetty's
            # write batching (flush every 40 ms unless 16 KB are pending) would hold small messages back.
            akka.remote.dot-netty.tcp.batching.enabled = false
            akka.loglevel = INFO
            akka.stdout-loglevel = WARNING
            akka.log-dead-letters = 10
            akka.log-dead-letters-during-shutdown = off
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = on
            """;
        return ConfigurationFactory.ParseString(options.Hocon ?? "")
            .WithFallback(ConfigurationFactory.ParseString(options.Tls ? RemoteTls.Hocon : ""))
            .WithFallback(ConfigurationFactory.ParseString(Journal(options)))
            .WithFallback(ConfigurationFactory.ParseString(node))
            .WithFallback(RemoteConfig.Config(options.Host, options.Port, "cluster", options.AdvertisedHost))
            .WithFallback(EmbeddedEngine.Configuration(null, torchActors));
    }

    /// <summary>
    /// What <c>ActorSystem.Create</c> needs for a node outside Akka.Hosting (tests): <see cref="Build"/>, and with
    /// <paramref name="tls"/> (from <see cref="NodeTls.Load"/>) the certificate and peer validation of <see cref="RemoteTls.Setup"/>.
    /// </summary>
    public static ActorSystemSetup Setup(NodeOptions options, RemoteTls? tls)
    {
        if (options.Tls != tls is not null) throw new ArgumentException("TLS options and TLS material disagree: load it with NodeTls.Load(options)");
        var setup = BootstrapSetup.Create().WithConfig(Build(options));
        return tls is null ? ActorSystemSetup.Create(setup) : setup.And(tls.Setup());
    }

    /// <summary>
    /// The coordinator's job journal: Akka.Persistence.Sql (Linq2Db) with SQLite in the state directory unless the
    /// operator names another database; tables are created on first use. No state directory (tests): in memory.
    /// </summary>
    /// <summary>The journal as error messages name it: the SQLite file, or the provider of another database.</summary>
    public static string JournalName(NodeOptions options) =>
        options.StateDir is null ? "in-memory journal"
        : options.JournalConnection is null ? Path.Combine(options.StateDir, "lstmcluster.db")
        : $"{options.JournalProvider} database of --journal-connection";

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
