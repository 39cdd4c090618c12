using Akka.Actor;
using Akka.Configuration;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Embedded;

/// <summary>What a distributed training run did, beyond Core's <see cref="TrainingResult"/>.</summary>
/// <param name="Rounds">Master versions produced (optimizer steps, or local-SGD averagings).</param>
/// <param name="ServerTime">Time the parameter server spent averaging, stepping and validating.</param>
/// <param name="RoundTimes">What a round was made of (sync and local-SGD jobs; null for async).</param>
public sealed record EngineStats(EngineOptions Options, long Rounds, IReadOnlyList<WorkerFigures> Workers, TimeSpan Elapsed, TimeSpan ServerTime,
    RoundTimes? RoundTimes = null)
{
    public long Dropped => Workers.Sum(w => w.Dropped);
    public long Samples => Workers.Sum(w => w.Samples);

    /// <summary>A finished job's figures, from its parameter server's <see cref="TrainingFinished"/>, on <paramref name="options"/>'s engine.</summary>
    public static EngineStats Of(TrainingFinished finished, EngineOptions options) =>
        new(options with { Workers = Math.Max(1, finished.Workers.Length) }, finished.Version, finished.Workers, finished.Elapsed, finished.ServerTime,
            finished.Rounds);

    /// <summary>
    /// The <c>engine</c> object of metrics.json: mode, workers, rounds, samples, dropped gradients, times, what a round was
    /// made of (<c>round</c>, milliseconds, when measured), and each worker's share.
    /// </summary>
    public System.Text.Json.Nodes.JsonObject ToJson() => new()
    {
        ["mode"] = Options.Mode.ToString().ToLowerInvariant(),
        ["workers"] = Options.Workers,
        ["sampling"] = EngineOptions.SamplingName(Options.RunSampling()),
        ["torch_threads"] = Options.TorchThreads,
        ["rounds"] = Rounds,
        ["samples"] = Samples,
        ["dropped_gradients"] = Dropped,
        ["seconds"] = Math.Round(Elapsed.TotalSeconds, 3),
        ["server_seconds"] = Math.Round(ServerTime.TotalSeconds, 3),
        ["round"] = RoundTimes is { } t
            ? new System.Text.Json.Nodes.JsonObject
            {
                ["measured_rounds"] = t.Measured,
                ["median_ms"] = Math.Round(t.Round.TotalMilliseconds, 3),
                ["slowest_compute_ms"] = Math.Round(t.Compute.TotalMilliseconds, 3),
                ["hand_over_ms"] = Math.Round(t.HandOver.TotalMilliseconds, 3),
                ["server_step_ms"] = Math.Round(t.ServerStep.TotalMilliseconds, 3),
            }
            : null,
        ["per_worker"] = new System.Text.Json.Nodes.JsonArray([.. Workers.Select(w => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
        {
            ["worker"] = w.Worker,
            ["rounds"] = w.Rounds,
            ["samples"] = w.Samples,
            ["dropped_gradients"] = w.Dropped,
        })]),
    };
}

/// <summary>A training job failed (its reason, from the parameter server): the run's failure, not a fault of this code, so no stack trace is of use.</summary>
public sealed class TrainingFailedException(string message) : InvalidOperationException(message);

/// <summary>
/// Every role in one process: one ActorSystem with a coordinator, its pool of workers, and a
/// parameter server per running job. <see cref="Trainer"/> plugs it into <see cref="ForecastRun"/>.
/// </summary>
public sealed class EmbeddedEngine : IDisposable
{
    private EmbeddedEngine(EngineOptions options, ActorSystem system)
    {
        Options = options;
        System = system;
        Coordinator = system.ActorOf(CoordinatorActor.Props(options), "coordinator");
    }

    public EngineOptions Options { get; }
    public ActorSystem System { get; }
    public IActorRef Coordinator { get; }

    /// <summary>Figures of the last run <see cref="Train"/> finished.</summary>
    public EngineStats? LastRun { get; private set; }

    /// <summary>The HOCON an embedded system runs with: serializer bindings, the torch dispatcher, quiet logs.</summary>
    public static Config Configuration(string? extraHocon = null, int torchThreads = 1) =>
        ConfigurationFactory.ParseString(extraHocon ?? "")
            .WithFallback(ConfigurationFactory.ParseString(LstmClusterSerializer.Hocon))
            .WithFallback(ConfigurationFactory.ParseString(JobEventSerializer.Hocon))
            .WithFallback(ConfigurationFactory.ParseString(InMemoryJournal))
            .WithFallback(ConfigurationFactory.ParseString(Dispatchers.Hocon(torchThreads)))
            .WithFallback(ConfigurationFactory.ParseString("""
                akka.loglevel = WARNING
                akka.stdout-loglevel = WARNING
                akka.log-dead-letters = off
                akka.log-dead-letters-during-shutdown = off
                """));

    /// <summary>
    /// The coordinator's job registry in memory: an embedded run (or a test) keeps nothing between processes. Nodes
    /// configure a durable journal instead (SQLite or another database under <c>--state-dir</c>).
    /// </summary>
    public const string InMemoryJournal = """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    public static EmbeddedEngine Start(EngineOptions options, string? extraHocon = null)
    {
        options.Validate();
        // One line per log event on standard error: an embedded run is a command's, whose output Akka's entries would break up.
        var config = Configuration(extraHocon, options.PoolSize).WithFallback(ConfigurationFactory.ParseString(OneLineLogger.Hocon));
        return new EmbeddedEngine(options, ActorSystem.Create("lstmcluster", config));
    }

    /// <summary>
    /// A <see cref="Core.Forecasting.Trainer"/> that starts an engine for the call, trains through
    /// it and shuts it down; <paramref name="stats"/> receives the run's figures.
    /// </summary>
    public static Trainer Trainer(EngineOptions options, Action<EngineStats>? stats = null)
    {
        options.Validate();
        return (model, data, training, progress, cancel) =>
        {
            using var engine = Start(options);
            var result = engine.Train(model, data, training, progress, cancel);
            if (engine.LastRun is { } run) stats?.Invoke(run);
            return result;
        };
    }

    /// <summary>This engine as a <see cref="Core.Forecasting.Trainer"/> (the system stays up between calls).</summary>
    public Trainer AsTrainer() => Train;

    /// <summary>
    /// Trains <paramref name="model"/> in place through the coordinator, a parameter server and
    /// <see cref="EngineOptions.Workers"/> workers, starting from the model's current weights, and
    /// leaves the best weights loaded. Blocks until training ends.
    /// </summary>
    public TrainingResult Train(ForecastModel model, PreparedData data, TrainingOptions options, Action<EpochReport>? progress,
        CancellationToken cancel) => Train(model, data.Train, data.Validation, options, progress, cancel);

    public TrainingResult Train(ForecastModel model, WindowSet train, WindowSet validation, TrainingOptions options,
        Action<EpochReport>? progress = null, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = System.ActorOf(TrainingListener.Props(Coordinator, done, progress));
        var setup = new TrainingSetup("", model.Spec, train, validation, options, Options, ParameterVector.Flatten(model));
        Coordinator.Tell(new SubmitTraining(setup, listener), listener);
        using var registration = cancel.Register(() => listener.Tell(TrainingListener.Cancel.Instance));
        TrainingFinished finished;
        try
        {
            finished = done.Task.GetAwaiter().GetResult();
        }
        catch (TaskCanceledException)
        {
            throw new OperationCanceledException("training cancelled", cancel);
        }
        ParameterVector.Load(model, finished.BestWeights);
        LastRun = new EngineStats(Options, finished.Version, finished.Workers, finished.Elapsed, finished.ServerTime, finished.Rounds);
        return finished.ToResult();
    }

    public void Dispose()
    {
        System.Terminate().Wait(TimeSpan.FromSeconds(30));
        System.Dispose();
    }

    /// <summary>Relays one training job's events to the blocked caller.</summary>
    private sealed class TrainingListener : ReceiveActor
    {
        private string? job;
        private bool cancelRequested;

        public TrainingListener(IActorRef coordinator, TaskCompletionSource<TrainingFinished> done, Action<EpochReport>? progress)
        {
            Receive<JobAccepted>(m =>
            {
                job = m.Job;
                if (cancelRequested) coordinator.Tell(new CancelJob(m.Job));
            });
            Receive<JobRejected>(m => Stop(() => done.TrySetException(new ArgumentException(m.Reason))));
            Receive<EpochProgress>(m => progress?.Invoke(m.Report));
            Receive<TrainingFinished>(m => Stop(() => done.TrySetResult(m)));
            Receive<TrainingFailed>(m => Stop(() => done.TrySetException(new TrainingFailedException($"training failed: {m.Reason}"))));
            Receive<JobStatus>(m =>
            {
                if (m.State == JobState.Cancelled) Stop(() => done.TrySetCanceled());
            });
            Receive<Cancel>(_ =>
            {
                cancelRequested = true;
                if (job is not null) coordinator.Tell(new CancelJob(job));
            });
        }

        public static Props Props(IActorRef coordinator, TaskCompletionSource<TrainingFinished> done, Action<EpochReport>? progress) =>
            Akka.Actor.Props.Create(() => new TrainingListener(coordinator, done, progress));

        private void Stop(Action complete)
        {
            complete();
            Context.Stop(Self);
        }

        /// <summary>From the caller's cancellation token to this local listener; never crosses a wire.</summary>
        public sealed class Cancel : INoSerializationVerificationNeeded
        {
            public static Cancel Instance { get; } = new();
            private Cancel() { }
        }
    }
}
