using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Remoting;

/// <summary>Asks a node's <see cref="BulkLaneConnector"/> where its <see cref="BulkLane"/> listens.</summary>
public sealed record GetBulkLane : ITrainingMessage
{
    public static GetBulkLane Instance { get; } = new();
}

/// <summary>Where a node's <see cref="BulkLane"/> listens: the host its cluster address names, and the lane's port.</summary>
public sealed record BulkLaneEndpoint(string Host, int Port) : ITrainingMessage;

/// <summary>
/// Opens this node's <see cref="BulkLane"/> connections: when a member this node trains with is Up (<c>wanted</c>), it
/// asks that node's connector (<c>/user/bulk-lane</c>) where its lane listens and connects; when the member is removed, it
/// closes the connection. Answers <see cref="GetBulkLane"/> for its own lane. A peer without a lane (turned off there)
/// never answers: after a few asks its messages simply stay on Akka.Remote.
/// </summary>
public sealed class BulkLaneConnector : ReceiveActor, IWithTimers
{
    public const string Name = "bulk-lane";

    private const int MaxAsks = 5;
    private static readonly TimeSpan AskInterval = TimeSpan.FromSeconds(2);

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly BulkLane lane;
    private readonly Func<Member, bool> wanted;
    private readonly Dictionary<Address, int> asked = [];

    public BulkLaneConnector(BulkLane lane, Func<Member, bool> wanted)
    {
        this.lane = lane;
        this.wanted = wanted;
        Receive<GetBulkLane>(_ => Sender.Tell(new BulkLaneEndpoint(cluster.SelfAddress.Host ?? "127.0.0.1", lane.Port)));
        Receive<ClusterEvent.MemberUp>(m => OnUp(m.Member));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            asked.Remove(m.Member.Address);
            lane.Disconnect(m.Member.Address);
        });
        Receive<AskAgain>(m =>
        {
            if (asked.ContainsKey(m.Node) && lane.To(m.Node) is null) Ask(m.Node);
        });
        Receive<BulkLaneEndpoint>(OnEndpoint);
        Receive<Connected>(m => asked.Remove(m.Node));
        Receive<ConnectFailed>(m =>
        {
            asked.Remove(m.Node);
            log.Warning("bulk lane: could not connect to the lane of {0}: {1}; messages to it go through Akka.Remote", m.Node, m.Why);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="wanted">Which members this node sends bulk messages to (a worker: parameter servers; a parameter server: workers and coordinators).</param>
    public static Props Props(BulkLane lane, Func<Member, bool> wanted) => Akka.Actor.Props.Create(() => new BulkLaneConnector(lane, wanted));

    protected override void PreStart() =>
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => cluster.Unsubscribe(Self);

    private void OnUp(Member member)
    {
        if (member.Address.Equals(cluster.SelfAddress) || !wanted(member)) return;
        asked[member.Address] = 0;
        Ask(member.Address);
    }

    private void Ask(Address node)
    {
        int n = asked[node] + 1;
        if (n > MaxAsks)
        {
            log.Info("bulk lane: {0} did not say where its lane listens after {1} asks; messages to it go through Akka.Remote", node, MaxAsks);
            asked.Remove(node);
            return;
        }
        asked[node] = n;
        Context.ActorSelection(new RootActorPath(node) / "user" / Name).Tell(GetBulkLane.Instance, Self);
        Timers.StartSingleTimer(("ask", node), new AskAgain(node), AskInterval);
    }

    private void OnEndpoint(BulkLaneEndpoint m)
    {
        var node = Sender.Path.Address;
        if (!asked.ContainsKey(node)) return;
        Timers.Cancel(("ask", node));
        lane.ConnectAsync(node, m.Host, m.Port).ContinueWith<object>(t => t.IsCompletedSuccessfully
                ? new Connected(node)
                : new ConnectFailed(node, $"{m.Host}:{m.Port}: {t.Exception?.GetBaseException().Message}"),
            TaskScheduler.Default).PipeTo(Self);
    }

    private sealed record AskAgain(Address Node);

    private sealed record Connected(Address Node);

    private sealed record ConnectFailed(Address Node, string Why);
}
