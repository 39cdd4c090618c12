using Akka.Actor;
using Akka.Cluster;
using LstmCluster.Actors.Cluster;
using LstmCluster.Actors.Remoting;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Asks the coordinator a question whose message can outgrow one remoting frame (a job with its CSV inline).
/// A cluster-singleton proxy forwards with a plain Tell, and remoting drops a message larger than a frame, so
/// this finds the singleton itself (on the oldest Up coordinator node) and sends through the chunked path,
/// with a one-shot actor for the answer. On this node, or without a cluster, it is a plain Ask.
/// </summary>
public static class CoordinatorDelivery
{
    public static async Task<object> AskAsync(ActorSystem system, IActorRef proxy, object message, TimeSpan timeout, CancellationToken ct)
    {
        var target = await Locate(system, proxy, timeout, ct);
        if (target.Path.Address.HasLocalScope) return await target.Ask<object>(message, timeout, ct);
        var answer = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reply = system.ActorOf(Props.Create(() => new OneReply(answer)));
        try
        {
            target.TellChunked(message, reply, system);
            return await answer.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            throw new AskTimeoutException($"the coordinator at {target.Path.Address} did not answer within {timeout.TotalSeconds:0} s");
        }
        finally
        {
            system.Stop(reply);
        }
    }

    private static async Task<IActorRef> Locate(ActorSystem system, IActorRef proxy, TimeSpan timeout, CancellationToken ct)
    {
        if (system is not ExtendedActorSystem { Provider: ClusterActorRefProvider }) return proxy;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var oldest = cluster.State.Members
            .Where(m => m.Status == MemberStatus.Up && m.HasRole(ClusterDiscovery.CoordinatorRole))
            .OrderBy(m => m, Member.AgeOrdering)
            .FirstOrDefault();
        if (oldest is null || oldest.Address.Equals(cluster.SelfAddress)) return proxy;
        try
        {
            return await system.ActorSelection(new RootActorPath(oldest.Address) / "user" / NodeActors.SingletonManagerName / NodeActors.SingletonName)
                .ResolveOne(timeout, ct);
        }
        catch (ActorNotFoundException)
        {
            // Handing over between nodes: the proxy buffers until the singleton is back.
            return proxy;
        }
    }

    private sealed class OneReply : ReceiveActor
    {
        public OneReply(TaskCompletionSource<object> answer) => ReceiveAny(m =>
        {
            answer.TrySetResult(m);
            Context.Stop(Self);
        });
    }
}
