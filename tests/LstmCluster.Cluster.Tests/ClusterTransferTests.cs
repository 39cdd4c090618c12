using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;

namespace LstmCluster.Cluster.Tests;

/// <summary>A 20 MB parameter vector between two cluster nodes configured as real nodes: intact, and neither node ever seen unreachable.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTransferTests
{
    [Fact]
    public async Task A_20_MB_parameter_vector_crosses_between_two_nodes_intact_with_no_node_unreachable()
    {
        // The failure detector of a real node (NodeConfig), not the tests' shorter one: this is the setting that must hold.
        await using var cluster = await InProcessCluster.Start(hocon: null, ["coordinator", "parameter-server"], ["worker"]);
        var (sender, _, _) = cluster.Nodes[0];
        var (receiver, _, _) = cluster.Nodes[1];
        var unreachable = 0;
        var watcher = sender.ActorOf(Props.Create(() => new UnreachableCounter(() => Interlocked.Increment(ref unreachable))));
        var watcher2 = receiver.ActorOf(Props.Create(() => new UnreachableCounter(() => Interlocked.Increment(ref unreachable))));

        var arrived = new TaskCompletionSource<Weights>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = receiver.ActorOf(Props.Create(() => new Sink(arrived)), "sink");
        var remoteSink = await sender.ActorSelection(new RootActorPath(Akka.Cluster.Cluster.Get(receiver).SelfAddress) / "user" / "sink")
            .ResolveOne(TimeSpan.FromSeconds(10));
        var values = Enumerable.Range(0, 5_000_000).Select(i => i * 0.5f).ToArray();   // exact in float: every value checkable

        int chunks = remoteSink.TellChunked(new Weights("big", 7, values), ActorRefs.NoSender, sender);
        var received = await arrived.Task.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(chunks >= 20, $"sent in {chunks} chunks");
        Assert.Equal(7, received.Version);
        Assert.Equal(values.Length, received.Values.Length);
        for (int i = 0; i < values.Length; i++)
            if (received.Values[i] != i * 0.5f) Assert.Fail($"value {i} is {received.Values[i]}");
        await Task.Delay(TimeSpan.FromSeconds(2));   // heartbeats after the transfer still arrive
        Assert.Equal(0, Volatile.Read(ref unreachable));
        Assert.All(Akka.Cluster.Cluster.Get(sender).State.Members, m => Assert.Equal(MemberStatus.Up, m.Status));
        Assert.Empty(Akka.Cluster.Cluster.Get(sender).State.Unreachable);
        sender.Stop(watcher);
        receiver.Stop(watcher2);
    }

    private sealed class Sink : ReceiveActor
    {
        public Sink(TaskCompletionSource<Weights> arrived) => Receive<Weights>(w => arrived.TrySetResult(w));
    }

    private sealed class UnreachableCounter : ReceiveActor
    {
        public UnreachableCounter(Action seen)
        {
            Receive<ClusterEvent.UnreachableMember>(_ => seen());
            ReceiveAny(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.UnreachableMember));

        protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
