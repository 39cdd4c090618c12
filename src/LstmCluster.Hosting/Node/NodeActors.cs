using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using LstmCluster.Actors.Cluster;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Actors.Training;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// The actors a node starts for its roles, registered with Akka.Hosting: <see cref="CoordinatorKey"/> (the coordinator
/// singleton's proxy, on every node), <see cref="WorkerKey"/> and <see cref="ParameterServersKey"/> on nodes with those roles.
/// </summary>
public static class NodeActors
{
    /// <summary>The singleton manager's name: <c>/user/coordinator</c> on coordinator-role nodes.</summary>
    public const string SingletonManagerName = "coordinator";

    /// <summary>The coordinator's own name under its manager: <c>/user/coordinator/coordinator</c>.</summary>
    public const string SingletonName = "coordinator";

    /// <summary>How long a sync round on a cluster waits for its last gradients before it closes with a majority.</summary>
    public static readonly TimeSpan StragglerTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts, on a system configured by <see cref="NodeConfig.Configure"/>: the chunk assembler (every node: large
    /// messages arrive through it), the <see cref="QuarantineGuard"/> (every node), <c>/user/worker</c> on worker nodes, <c>/user/parameter-servers</c> on
    /// parameter-server nodes, the coordinator as a cluster singleton on the coordinator role (<c>WithSingleton</c>; it
    /// finds workers and parameter servers through <see cref="ClusterDiscovery"/>), and on every node a proxy to it
    /// (<c>WithSingletonProxy</c>, or the one <c>WithSingleton</c> makes).
    /// </summary>
    public static AkkaConfigurationBuilder Configure(AkkaConfigurationBuilder akka, NodeOptions options, ArtifactWriter? artifacts, RemoteTls? tls = null)
    {
        akka.WithActors((system, registry) =>
        {
            if (options.Seeds.Length == 0 && !options.Discovery.Bootstraps)
            {
                // No seeds and no discovery: this node founds the cluster, at the address its transport took (port 0
                // included). With discovery, Cluster Bootstrap joins (NodeDiscovery).
                var cluster = Akka.Cluster.Cluster.Get(system);
                cluster.Join(cluster.SelfAddress);
            }
            system.StartChunkAssembler();
            // A node the others have removed and quarantined downs itself instead of running on alone (QuarantineGuard says when that happens).
            system.ActorOf(QuarantineGuard.Props(), QuarantineGuard.Name);
            // Weights, gradients and shards between the nodes that train together, beside Akka.Remote (BulkLane says why).
            if (system.Settings.Config.GetBoolean(BulkLane.EnabledKey, false))
            {
                var lane = BulkLane.Start(system, options.Host, system.Settings.Config.GetInt(BulkLane.PortKey, 0), tls);
                system.ActorOf(BulkLaneConnector.Props(lane, peer => TrainsWith(options, peer)), BulkLaneConnector.Name);
            }
            if (options.Has(Vocabulary.Roles.Worker))
                registry.Register<WorkerKey>(system.ActorOf(WorkerActor.Props(options.TorchThreads), WorkerActor.Name));
            if (options.Has(Vocabulary.Roles.ParameterServer))
                registry.Register<ParameterServersKey>(system.ActorOf(ParameterServerHost.Props(), ParameterServerHost.Name));
        });
        if (options.Has(Vocabulary.Roles.Coordinator))
            akka.WithSingleton<CoordinatorKey>(SingletonManagerName, SingletonName,
                (system, _, _) => CoordinatorActor.Props(Settings(system, options, artifacts)), NodeConfig.CoordinatorSingleton, createProxyToo: true);
        else
            akka.WithSingletonProxy<CoordinatorKey>(SingletonManagerName, SingletonName, NodeConfig.CoordinatorSingleton);
        return akka;
    }

    /// <summary>
    /// Whether this node sends bulk messages to <paramref name="peer"/>: a worker to parameter servers (gradients), a
    /// parameter server to workers (shards, weights) and coordinators (checkpoints, the trained model), a coordinator to
    /// parameter servers (a job's data). Workers never talk to each other.
    /// </summary>
    private static bool TrainsWith(NodeOptions options, Akka.Cluster.Member peer)
    {
        bool ps = peer.HasRole(Vocabulary.Roles.ParameterServer);
        return (options.Has(Vocabulary.Roles.Worker) && ps)
            || (options.Has(Vocabulary.Roles.Coordinator) && ps)
            || (options.Has(Vocabulary.Roles.ParameterServer) && (peer.HasRole(Vocabulary.Roles.Worker) || peer.HasRole(Vocabulary.Roles.Coordinator)));
    }

    private static CoordinatorSettings Settings(ActorSystem system, NodeOptions options, ArtifactWriter? artifacts)
    {
        // The SQL journal's defaults (table layout, plugin classes) must be in the config before the coordinator recovers.
        if (options.StateDir is not null) Akka.Persistence.Sql.SqlPersistence.Get(system);
        return new CoordinatorSettings
        {
            Engine = new EngineOptions
            {
                Workers = 1, MaxConcurrentJobs = options.MaxConcurrentJobs, TorchThreads = options.TorchThreads, WorkerPool = 1,
                // A worker that stops answering but is not downed (hung, not dead) must not stall a sync job for ever:
                // after a minute the round closes with a majority and the late gradient is counted and dropped.
                StragglerTimeout = StragglerTimeout,
                CheckpointEvery = options.CheckpointEvery,
            },
            LocalWorkers = 0,
            LocalParameterServers = false,
            Discovery = ClusterDiscovery.Props(),
            Artifacts = artifacts,
            GroupFiles = Api.GroupArtifactFiles.Write,
            EngineLabel = "cluster",
            Store = options.StateDir is { } state ? new JobStore(state) : null,
            JournalName = NodeConfig.JournalName(options),
            // A node whose journal cannot be read must not go on without a coordinator: it exits 2 with the reason.
            JournalUnreadable = reason => CoordinatedShutdown.Get(system).Run(new JournalUnreadableReason(reason)),
            History = options.KeepJobs,
            Budget = options.Budget,
            KeepFor = options.KeepDays is { } days ? TimeSpan.FromDays(days) : null,
        };
    }
}

/// <summary>Akka.Hosting registry key of this node's worker (<c>/user/worker</c>), on worker-role nodes.</summary>
public sealed class WorkerKey;

/// <summary>Akka.Hosting registry key of this node's parameter-server host (<c>/user/parameter-servers</c>), on parameter-server nodes.</summary>
public sealed class ParameterServersKey;
