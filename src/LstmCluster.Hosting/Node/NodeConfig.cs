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
        int torchActors = (options.Has("worker") ? 1 : 0) + (options.Has("parameter-server") ? options.MaxConcurrentJobs : 0);
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
              # Split-brain resolver, chosen on purpose: keep-oldest over all members (no role) with
              # down-if-alone = on. Akka counts, on each side, the members it keeps (DowningStrategy.KeepOldest):
              # - one node crashes in a cluster of 3 or more: the survivors keep. If it is a younger node, the
              #   side with the oldest member downs it; if it is the oldest (the founding coordinator), the
              #   oldest is "alone" against 2 or more, so the others down it and the coordinator singleton
              #   moves to the next-oldest coordinator-role node, if there is one;
              # - a partition: the side with the oldest member survives (usually the coordinator with the
              #   job queue and the HTTP API), unless the oldest is cut off alone: then it downs itself;
              # - 2 nodes: the oldest survives the loss of the other; the younger one downs itself if the
              #   oldest goes (a crash and a partition look the same; it exits 1 and is restarted).
              # Not with role = "coordinator": Akka would count only coordinator-role nodes, so with one or
              # two of them the loss of the oldest left "1 or 0 against 1" and every survivor downed itself.
              # Not keep-majority: a 2-node cluster would keep the node with the lowest address, a coordinator
              # downing itself when its only worker crashes if the worker's address sorts first.
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver {
                active-strategy = keep-oldest
                stable-after = {{StableAfter}}
                keep-oldest {
                  down-if-alone = on
                  role = ""
                }
              }
              # A downed node stops its actor system; the node process exits with it.
              run-coordinated-shutdown-when-down = on
              singleton.role = "coordinator"
              singleton-proxy.role = "coordinator"
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
            .WithFallback(ConfigurationFactory.ParseString(Journal(options)))
            .WithFallback(ConfigurationFactory.ParseString(node))
            .WithFallback(RemoteConfig.Config(options.Host, options.Port, "cluster", options.AdvertisedHost))
            .WithFallback(EmbeddedEngine.Configuration(null, torchActors));
    }

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
