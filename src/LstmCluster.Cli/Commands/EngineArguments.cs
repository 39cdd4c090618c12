using System.CommandLine;
using System.Text.Json.Nodes;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Contracts;
using LstmCluster.Core.Configuration;

namespace LstmCluster.Cli.Commands;

/// <summary>How training is distributed: workers, aggregation mode and its knobs.</summary>
public sealed class EngineArguments
{
    public Option<int> Workers { get; }
    public Option<string> Mode { get; }
    public Option<int> Staleness { get; }
    public Option<int> SyncPeriod { get; }
    public Option<int?> TorchThreads { get; }
    public Option<string> Sampling { get; }

    public EngineArguments(Defaults d)
    {
        Workers = new Option<int>("--workers")
        {
            Description = $"worker actors (data shards) in the embedded cluster (default: one per core, {Environment.ProcessorCount} here); 0 runs the bare single-process reference trainer",
            DefaultValueFactory = _ => DefaultWorkers(d),
        };
        Workers.Validators.Add(r =>
        {
            if (OptionValues.TryGet<int>(r, out int v) && v is < 0 or > 256) r.AddError("--workers must be between 0 and 256");
        });
        Mode = new Option<string>("--mode") { Description = EngineOptions.ModeHelp, DefaultValueFactory = _ => d.String("mode", Vocabulary.Modes.Sync) };
        Mode.AcceptOnlyFromAmong([.. Vocabulary.Modes.All]);
        Staleness = new Option<int>("--staleness") { Description = EngineOptions.StalenessHelp, DefaultValueFactory = _ => d.Int("staleness", 2) };
        SyncPeriod = new Option<int>("--sync-period") { Description = EngineOptions.SyncPeriodHelp, DefaultValueFactory = _ => d.Int("sync_period", 4) };
        Sampling = new Option<string>("--sampling") { Description = $"{EngineOptions.SamplingHelp}; global trains the model --workers 0 trains", DefaultValueFactory = _ => d.String("sampling", "global") };
        Sampling.AcceptOnlyFromAmong(EngineOptions.SamplingNames);
        TorchThreads = new Option<int?>("--torch-threads") { Description = "libtorch intra-op threads per worker, or for the bare trainer with --workers 0 (default: cores / workers, at least 1, so workers do not oversubscribe the cores; all cores with --workers 0)" };
        TorchThreads.Validators.Add(r =>
        {
            if (OptionValues.TryGet<int?>(r, out int? v) && v is < 1 or > 1024) r.AddError("--torch-threads must be between 1 and 1024");
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Workers);
        command.Options.Add(Mode);
        command.Options.Add(Staleness);
        command.Options.Add(SyncPeriod);
        command.Options.Add(TorchThreads);
        command.Options.Add(Sampling);
    }

    /// <summary>config train.workers: a number, or "auto" (the default) for one worker per core.</summary>
    private static int DefaultWorkers(Defaults d)
    {
        string text = d.Text("workers", "auto").Trim();
        if (text == "auto") return Environment.ProcessorCount;
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new ConfigException($"config key train.workers must be a number or \"auto\" (got {text})");
    }

    /// <summary>
    /// libtorch threads of the bare reference trainer (<c>--workers 0</c>): <c>--torch-threads</c>, else every core (the
    /// rule of the embedded engine, cores / compute threads, with one compute thread).
    /// </summary>
    public int BareTorchThreads(ParseResult p) => p.GetValue(TorchThreads) ?? Math.Max(1, Environment.ProcessorCount);

    /// <summary>Null for <c>--workers 0</c> (no actors).</summary>
    public EngineOptions? Bind(ParseResult p)
    {
        int workers = p.GetValue(Workers);
        if (workers == 0) return null;
        var options = new EngineOptions
        {
            Workers = workers,
            Mode = EngineOptions.ParseMode(p.GetValue(Mode)!),
            Staleness = p.GetValue(Staleness),
            SyncPeriod = p.GetValue(SyncPeriod),
            Sampling = EngineOptions.ParseSampling(p.GetValue(Sampling)!),
            // K workers computing at once share the cores: libtorch's default (all cores each) oversubscribes them,
            // measured 2x slower on 2 cores (bench/LstmCluster.Bench).
            TorchThreads = p.GetValue(TorchThreads) ?? Math.Max(1, Environment.ProcessorCount / workers),
        };
        options.Validate();
        return options;
    }

    public static JsonObject Json(EngineStats s) => s.ToJson();
}
