using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Training;

/// <summary>
/// One per <c>parameter-server</c> node (and one inside the embedded coordinator): starts a
/// <see cref="ParameterServerActor"/> per job on request and stops it on <see cref="StopTraining"/>.
/// A factory actor instead of remote deployment: <c>Props</c> built from lambdas do not cross the wire,
/// and the request (with the job's windows) goes through the chunked path like any large message.
/// </summary>
public sealed class ParameterServerHost : ReceiveActor
{
    public const string Name = "parameter-servers";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> servers = [];
    private long started;

    public ParameterServerHost()
    {
        Receive<StartTraining>(OnStart);
        Receive<StopTraining>(m =>
        {
            if (servers.Remove(m.Job, out var server)) Context.Stop(server);
        });
        Receive<Terminated>(m =>
        {
            foreach (var (job, server) in servers.Where(s => s.Value.Equals(m.ActorRef)).ToList()) servers.Remove(job);
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new ParameterServerHost());

    private void OnStart(StartTraining m)
    {
        if (servers.Remove(m.Setup.Job, out var previous)) Context.Stop(previous);
        // Names are unique per start: a job restarted on this node must not collide with its stopping predecessor.
        string name = $"ps-{Uri.EscapeDataString(m.Setup.Job)}-{++started}";
        var server = Context.ActorOf(ParameterServerActor.Props(m.Setup, m.Workers, m.ReportTo), name);
        Context.Watch(server);
        servers[m.Setup.Job] = server;
        log.Info("job {0}: parameter server started with {1} workers", m.Setup.Job, m.Workers.Length);
        Sender.Tell(new TrainingStarted(m.Setup.Job, server));
    }
}
