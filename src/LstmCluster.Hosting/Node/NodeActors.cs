using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using LstmCluster.Actors.Cluster;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Actors.Training;

namespace LstmCluster.Hosting.Node;

/// <summary>The actors a node starts for its roles, and how the rest of the node reaches the coordinator.</summary>
/// <param name="Coordinator">The coordinator singleton's proxy (every node has one).</param>
public sealed record NodeActors(IActorRef Coordinator, IActorRef? Worker, IActorRef? ParameterServers)
{
    public const string SingletonManagerName = "coordinator";
    public const string ProxyName = "coordinator-proxy";

    /// <summary>How long a sync round on a cluster waits for its last gradients before it closes with a majority.</summary>
    public static readonly TimeSpan StragglerTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts, on a system configured by <see cref="NodeConfig.Build"/>: the chunk assembler (every node: large
    /// messages arrive through it), <c>/user/worker</c> on worker nodes, <c>/user/parameter-servers</c> on
    /// parameter-server nodes, the coordinator as a cluster singleton on the coordinator role (it finds workers
    /// and parameter servers through <see cref="ClusterDiscovery"/>), and a proxy to it.
    /// </summary>
    public static NodeActors Start(ActorSystem system, NodeOptions options, ArtifactWriter? artifacts)
    {
        if (options.Seeds.Length == 0)
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            cluster.Join(cluster.SelfAddress);
        }
        system.StartChunkAssembler();
        IActorRef? worker = options.Has(ClusterDiscovery.WorkerRole)
            ? system.ActorOf(WorkerActor.Props(options.TorchThreads), WorkerActor.Name)
            : null;
        IActorRef? servers = options.Has(ClusterDiscovery.ParameterServerRole)
            ? system.ActorOf(ParameterServerHost.Props(), ParameterServerHost.Name)
            : null;
        if (options.Has(ClusterDiscovery.CoordinatorRole))
        {
            var settings = new CoordinatorSettings
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
            // The SQL journal's defaults (table layout, plugin classes) must be in the config before the coordinator recovers.
            if (options.StateDir is not null) Akka.Persistence.Sql.SqlPersistence.Get(system);
            system.ActorOf(ClusterSingletonManager.Props(CoordinatorActor.Props(settings), PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(ClusterDiscovery.CoordinatorRole)), SingletonManagerName);
        }
        var proxy = system.ActorOf(ClusterSingletonProxy.Props($"/user/{SingletonManagerName}",
            ClusterSingletonProxySettings.Create(system).WithRole(ClusterDiscovery.CoordinatorRole)), ProxyName);
        return new NodeActors(proxy, worker, servers);
    }
}
