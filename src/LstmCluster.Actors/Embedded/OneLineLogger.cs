using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace LstmCluster.Actors.Embedded;

/// <summary>
/// The embedded engine's Akka logger: each event one line on standard error, <c>[akka warning] message (Exception: reason)</c>.
/// A training failure reaches the caller anyway (the CLI prints it as its own error line), so the actors' log must not put
/// Akka's multi-line entries and stack traces next to a command's output; the stack trace is added only when
/// <c>LSTMCLUSTER_DEBUG</c> is set, as the CLI does for its own errors.
/// </summary>
public sealed class OneLineLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>HOCON that makes this the only logger of a system, with Akka's own console logger quiet except for errors before it starts.</summary>
    public const string Hocon = """
        akka.loggers = ["LstmCluster.Actors.Embedded.OneLineLogger, LstmCluster.Actors"]
        akka.stdout-loglevel = ERROR
        """;

    public OneLineLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Write);
    }

    /// <summary>One event as one line (the stack trace after it only when debugging).</summary>
    public static string Format(LogEvent e, bool withStackTrace)
    {
        string level = e.LogLevel() switch
        {
            LogLevel.ErrorLevel => "error",
            LogLevel.WarningLevel => "warning",
            LogLevel.InfoLevel => "info",
            _ => "debug",
        };
        string message = OneLine(e.Message?.ToString() ?? "");
        if (e.Cause is { } cause)
        {
            string reason = OneLine(cause.Message);
            if (!message.Contains(reason, StringComparison.Ordinal)) message += $" ({cause.GetType().Name}: {reason})";
            if (withStackTrace) message += Environment.NewLine + cause;
        }
        return $"[akka {level}] {message}";
    }

    private static void Write(LogEvent e) =>
        Console.Error.WriteLine(Format(e, Environment.GetEnvironmentVariable("LSTMCLUSTER_DEBUG") is { Length: > 0 }));

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
