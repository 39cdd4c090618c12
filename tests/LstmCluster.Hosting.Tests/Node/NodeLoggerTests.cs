using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using LstmCluster.Hosting.Node;
using Microsoft.Extensions.Logging;
using MelLevel = Microsoft.Extensions.Logging.LogLevel;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>Akka's log through Microsoft.Extensions.Logging (<see cref="NodeLogger"/>): categories, one-line causes, traces only at debug.</summary>
public sealed class NodeLoggerTests
{
    [Theory]
    [InlineData(MelLevel.Information, false)]
    [InlineData(MelLevel.Debug, true)]
    public async Task Akka_events_reach_the_logger_factory_under_their_class_with_a_stack_trace_only_at_debug(MelLevel minimum, bool traced)
    {
        var sink = new Sink();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(minimum).AddProvider(sink));
        var setup = BootstrapSetup.Create()
            .WithConfig(ConfigurationFactory.ParseString($"akka.loggers = [\"{typeof(NodeLogger).AssemblyQualifiedName}\"]\nakka.loglevel = DEBUG"))
            .And(new NodeLoggingSetup(factory, ["worker"]));
        using var system = ActorSystem.Create("log-test", setup);
        var log = Logging.GetLogger(system, typeof(NodeLoggerTests));
        log.Error(new InvalidOperationException("the cause in one line"), "a job failed");

        var entry = await sink.Next(e => e.Text.Contains("a job failed", StringComparison.Ordinal));
        Assert.Equal(typeof(NodeLoggerTests).FullName, entry.Category);
        Assert.Equal(MelLevel.Error, entry.Level);
        Assert.Equal(traced, entry.Exception is not null);
        // Without the trace, the cause's message ends the line.
        if (!traced) Assert.EndsWith(": the cause in one line", entry.Text, StringComparison.Ordinal);
        await system.Terminate();
    }

    private sealed record Entry(string Category, MelLevel Level, string Text, Exception? Exception);

    private sealed class Sink : ILoggerProvider
    {
        private readonly BlockingCollection<Entry> entries = [];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, entries);

        public async Task<Entry> Next(Func<Entry, bool> wanted)
        {
            return await Task.Run(() =>
            {
                // Bounded only to fail rather than hang: each entry arrives as the logger actor writes it.
                while (entries.TryTake(out var e, TimeSpan.FromSeconds(30)))
                    if (wanted(e)) return e;
                throw new TimeoutException("the log entry never arrived");
            });
        }

        public void Dispose() => entries.Dispose();

        private sealed class Logger(string category, BlockingCollection<Entry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(MelLevel logLevel) => true;

            public void Log<TState>(MelLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Add(new Entry(category, logLevel, formatter(state, exception), exception));
        }
    }
}
