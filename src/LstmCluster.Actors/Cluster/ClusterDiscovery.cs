using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Contracts;

namespace LstmCluster.Actors.Cluster;

/// <summary>
/// Finds the coordinator's workers and parameter-server hosts from cluster membership: for every
/// member that is Up with the <c>worker</c> role it identifies <c>/user/worker</c> there, for the
/// <c>parameter-server</c> role <c>/user/parameter-servers</c>, and tells its parent (the coordinator)
/// <see cref="WorkerAvailable"/> / <see cref="ParameterServerHostAvailable"/>. Leaving is the
/// coordinator's death watch: a member that is removed terminates its actors' refs.
/// A node is Up before its actors necessarily exist, so an empty identity is retried (bounded).
/// </summary>
public sealed class ClusterDiscovery : ReceiveActor, IWithTimers
{
    public const string WorkerRole = Vocabulary.Roles.Worker;
    public const string ParameterServerRole = Vocabulary.Roles.ParameterServer;
    public const string CoordinatorRole = Vocabulary.Roles.Coordinator;

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private const int MaxAttempts = 120;

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<ActorPath, int> attempts = [];
    private readonly HashSet<Address> up = [];

    public ClusterDiscovery()
    {
        Receive<ClusterEvent.MemberUp>(m => OnUp(m.Member));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            up.Remove(m.Member.Address);
            foreach (var path in attempts.Keys.Where(p => p.Address.Equals(m.Member.Address)).ToList()) attempts.Remove(path);
        });
        Receive<ActorIdentity>(OnIdentity);
        Receive<Retry>(m =>
        {
            if (up.Contains(m.Path.Address) && attempts.ContainsKey(m.Path)) Identify(m.Path);
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props() => Akka.Actor.Props.Create(() => new ClusterDiscovery());

    protected override void PreStart() =>
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => cluster.Unsubscribe(Self);

    private void OnUp(Member member)
    {
        up.Add(member.Address);
        var root = new RootActorPath(member.Address);
        if (member.HasRole(WorkerRole)) Start(root / "user" / WorkerActor.Name);
        if (member.HasRole(ParameterServerRole)) Start(root / "user" / ParameterServerHost.Name);
    }

    private void Start(ActorPath path)
    {
        attempts[path] = 0;
        Identify(path);
    }

    private void Identify(ActorPath path)
    {
        attempts[path]++;
        Context.ActorSelection(path).Tell(new Identify(path.ToStringWithAddress()));
    }

    private void OnIdentity(ActorIdentity m)
    {
        if (m.MessageId is not string id) return;
        var path = attempts.Keys.FirstOrDefault(p => p.ToStringWithAddress() == id);
        if (path is null) return;
        if (m.Subject is { } actor)
        {
            attempts.Remove(path);
            if (path.Name == WorkerActor.Name) Context.Parent.Tell(new WorkerAvailable(actor));
            else Context.Parent.Tell(new ParameterServerHostAvailable(actor));
            return;
        }
        if (attempts[path] >= MaxAttempts)
        {
            log.Warning("no actor at {0} after {1} attempts: that node is Up but serves no {2}", path, MaxAttempts, path.Name);
            attempts.Remove(path);
            return;
        }
        Timers.StartSingleTimer(path.ToStringWithAddress(), new Retry(path), RetryInterval);
    }

    private sealed record Retry(ActorPath Path);
}
