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

    /// <summary>How long the split-brain resolver waits for the membership to be stable before it downs unreachable nodes.</summary>
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
              # Split-brain resolver, chosen on purpose: keep-oldest on the coordinator role. The side
              # with the oldest coordinator node (where the singleton, the job queue and the HTTP API
              # live) survives a partition; nodes on the other side are downed and exit, so an
              # orchestrator restarts them and they rejoin. down-if-alone = off: a coordinator cut off
              # from every worker keeps its jobs and waits for workers instead of downing itself.
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver {
                active-strategy = keep-oldest
                stable-after = {{StableAfter}}
                keep-oldest {
                  down-if-alone = off
                  role = "coordinator"
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
            .WithFallback(ConfigurationFactory.ParseString(node))
            .WithFallback(RemoteConfig.Config(options.Host, options.Port, "cluster", options.AdvertisedHost))
            .WithFallback(EmbeddedEngine.Configuration(null, torchActors));
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
