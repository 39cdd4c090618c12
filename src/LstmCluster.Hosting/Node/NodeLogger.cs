using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace LstmCluster.Hosting.Node;

/// <summary>Hands the node's <see cref="ILoggerFactory"/> to <see cref="NodeLogger"/> through the actor system's setup.</summary>
public sealed class NodeLoggingSetup(ILoggerFactory factory, IReadOnlyList<string> roles) : Akka.Actor.Setup.Setup
{
    public ILoggerFactory Factory { get; } = factory;

    public IReadOnlyList<string> Roles { get; } = roles;
}

/// <summary>
/// Akka's logger for nodes: every Akka log event through Microsoft.Extensions.Logging, so the node has one format
/// (<c>--log-format text|json</c>) and one set of level filters. The category is the class that logged
/// (<c>Akka.Cluster.Cluster</c>, <c>LstmCluster.Actors.Jobs.CoordinatorActor</c>), the message Akka's text with its source,
/// and the scope carries the node's roles and the source (actor path) for JSON collectors.
/// </summary>
/// <remarks>
/// Akka.Hosting's <c>AddLoggerFactory</c> was tried first: it logs every event under the one category
/// <c>Akka.Actor.ActorSystem</c> with Akka's own "[INFO][date][Thread 0012][source]" prefix inside the message, so the
/// level filters per category cannot tell Akka's cluster chatter from the product's actors, and each line carries two
/// timestamps. A stack trace is written only when the category logs at Debug; above that the cause's message ends the line.
/// </remarks>
public sealed class NodeLogger : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ILoggerFactory factory;
    private readonly string roles;
    private readonly Dictionary<string, ILogger> loggers = new(StringComparer.Ordinal);

    public NodeLogger()
    {
        var setup = Context.System.Settings.Setup.Get<NodeLoggingSetup>();
        if (!setup.HasValue) throw new InvalidOperationException($"{nameof(NodeLogger)} needs a {nameof(NodeLoggingSetup)} in the actor system's setup");
        factory = setup.Value.Factory;
        roles = string.Join(",", setup.Value.Roles);
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent e:
                Write(e);
                return true;
            default:
                return false;
        }
    }

    private void Write(LogEvent e)
    {
        // Sources given as strings (remoting, cluster extensions) have no class: their first word names them.
        string category = e.LogClass is { } type && type != typeof(DummyClassForStringSources) ? type.FullName ?? type.Name
            : "Akka." + (e.LogSource ?? "").Split(' ', 2)[0];
        if (!loggers.TryGetValue(category, out var logger)) loggers[category] = logger = factory.CreateLogger(category);
        var level = e.LogLevel() switch
        {
            Akka.Event.LogLevel.DebugLevel => LogLevel.Debug,
            Akka.Event.LogLevel.InfoLevel => LogLevel.Information,
            Akka.Event.LogLevel.WarningLevel => LogLevel.Warning,
            _ => LogLevel.Error,
        };
        if (!logger.IsEnabled(level)) return;
        string text = e.Message?.ToString() ?? "";
        bool trace = e.Cause is not null && logger.IsEnabled(LogLevel.Debug);
        if (e.Cause is { } cause && !trace && !text.Contains(cause.Message, StringComparison.Ordinal))
            text += $": {cause.GetBaseException().Message}";
        using (logger.BeginScope(new Scope(roles, e.LogSource ?? "")))
            logger.Log(level, default, trace ? e.Cause : null, "[{Source}] {Message}", e.LogSource, text);
    }

    /// <summary>The node's roles and the event's source as a log scope: named fields in JSON, one short text elsewhere.</summary>
    private sealed class Scope(string roles, string source) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 2;

        public KeyValuePair<string, object?> this[int index] => index == 0 ? new("Roles", roles) : new("Source", source);

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
            yield return this[1];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"roles {roles}";
    }
}
