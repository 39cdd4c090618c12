using Akka.Actor;
using Akka.Configuration;
using LstmCluster.Hosting.Node;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// The node process's exit code from why its actor system stopped (NodeHost.ExitCode); NodeLossTests
/// checks the same with a real node the split-brain resolver downs.
/// </summary>
public sealed class NodeExitCodeTests
{
    private static readonly Dictionary<string, CoordinatedShutdown.Reason> Reasons = new()
    {
        ["downed by the cluster"] = CoordinatedShutdown.ClusterDowningReason.Instance,
        ["gave up joining"] = CoordinatedShutdown.ClusterJoinUnsuccessfulReason.Instance,
        ["terminated by code"] = CoordinatedShutdown.ActorSystemTerminateReason.Instance,
        ["SIGTERM, Ctrl+C or parent gone"] = CoordinatedShutdown.ClrExitReason.Instance,
        ["asked to leave the cluster"] = CoordinatedShutdown.ClusterLeavingReason.Instance,
    };

    [Theory]
    [InlineData("downed by the cluster", 1)]
    [InlineData("gave up joining", 1)]
    [InlineData("terminated by code", 1)]
    [InlineData("SIGTERM, Ctrl+C or parent gone", 0)]
    [InlineData("asked to leave the cluster", 0)]
    public async Task A_node_whose_actor_system_stopped_exits_with_the_code_its_reason_calls_for(string reason, int expected)
    {
        using var system = ActorSystem.Create("exit", ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off"));
        await CoordinatedShutdown.Get(system).Run(Reasons[reason]);
        await system.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected, NodeHost.ExitCode(system));
    }

    [Fact]
    public async Task A_node_whose_actor_system_still_runs_exits_with_code_0()
    {
        using var system = ActorSystem.Create("exit", ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off"));
        Assert.Equal(0, NodeHost.ExitCode(system));
        await system.Terminate();
    }
}
