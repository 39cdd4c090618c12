using System.CommandLine;
using System.Text.Json.Nodes;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Cli.Output;
using LstmCluster.Cli.Rendering;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Reporting;
using Spectre.Console;

namespace LstmCluster.Cli.Commands;

/// <summary><c>lstmcluster train</c>: train on a CSV, compare with baselines, forecast, write the run directory.</summary>
public static class TrainCommand
{
    public const int ExitModelLosesToNaive = 3;

    /// <summary>Each worker's share of the global batch: exactly B/K shard-local and global-sliced, about B/K (the batch's members in its shard) global.</summary>
    private static string PerWorker(RunOptions options, EngineOptions engine) =>
        engine.RunSampling() == Core.Training.BatchSampling.Global && engine.Workers > 1
            ? $"sampled globally, about {options.Training.BatchSize / engine.Workers}"
            : $"{options.Training.BatchSize / engine.Workers}";

    public static Command Create(Defaults defaults)
    {
        var args = new RunArguments(defaults);
        var outDir = new Option<DirectoryInfo>("--out") { Description = "output directory (created; files of an earlier run in it are replaced, each only once the new run is complete); checked before training: a file, or a path under a file, is refused", DefaultValueFactory = _ => new DirectoryInfo(defaults.String("out", "runs/latest")) };
        var requireBeat = new Option<bool>("--require-beat-naive") { Description = $"exit {ExitModelLosesToNaive} without writing a model when the model does not beat the naive forecast on validation" };
        var engine = new EngineArguments(defaults);
        var strategy = new Option<string>("--strategy") { Description = "with --symbol all or a list: per-series (one model per series, trained one after the other here; a cluster job runs them at once on free workers) or global (one model over every series, each normalized on its own training split)", DefaultValueFactory = _ => "per-series" };
        var seriesId = new Option<string>("--series-id") { Description = "with --strategy global: none (the model sees each series' values alone) or one-hot (every window also carries a one-hot indicator of its series; the LSTM's input grows by the number of series)", DefaultValueFactory = _ => "none" };
        seriesId.AcceptOnlyFromAmong([.. SeriesSelection.SeriesIdChoices]);
        var command = new Command("train", "Train an LSTM forecaster on a CSV time series, evaluate it against naive baselines and forecast the next values");
        args.AddTo(command);
        engine.AddTo(command);
        command.Options.Add(outDir);
        command.Options.Add(requireBeat);
        command.Options.Add(strategy);
        command.Options.Add(seriesId);
        command.SetAction(p =>
        {
            var options = args.Bind(p);
            var id = SeriesSelection.ParseSeriesId(p.GetValue(seriesId)!);
            if (!SeriesSelection.IsMany(options.Data.Symbol))
            {
                if (id != SeriesIdFeature.None) throw new CliUsageException("--series-id applies to --strategy global over several series (--symbol all or a list)");
                return Run(options, engine.Bind(p), engine.BareTorchThreads(p), p.GetValue(outDir)!.FullName, p.GetValue(requireBeat));
            }
            if (p.GetValue(requireBeat)) throw new CliUsageException("--require-beat-naive applies to one series; with several, summary.json says which beat naive");
            var chosen = SeriesSelection.ParseStrategy(p.GetValue(strategy)!);
            if (id != SeriesIdFeature.None && chosen != SeriesStrategy.Global) throw new CliUsageException("--series-id applies to --strategy global");
            return RunGroup(options with { Strategy = chosen, SeriesId = id }, chosen, engine.Bind(p), engine.BareTorchThreads(p), p.GetValue(outDir)!.FullName);
        });
        return command;
    }

    /// <param name="bareThreads">libtorch threads of the bare trainer, used when <paramref name="engine"/> is null (<c>--workers 0</c>).</param>
    private static int Run(RunOptions options, EngineOptions? engine, int bareThreads, string outDir, bool requireBeatNaive)
    {
        // Before the work: a run whose --out cannot be written would be lost after training.
        OutputPaths.CheckDirectory(outDir);
        var data = ForecastRun.Prepare(options);
        Report.DataSummary(data, options);
        var result = Train(options, data, engine, bareThreads, out var stats);
        Report.Verdict(result);
        if (requireBeatNaive && !result.Validation.Beats("naive"))
        {
            Console.Error.WriteLine($"error: the model does not beat the naive forecast on validation (MASE {result.Validation.Model.Mase:0.###} vs {result.Validation.Baselines["naive"].Mase:0.###}); no model written (--require-beat-naive)");
            return ExitModelLosesToNaive;
        }
        var written = Write(outDir, result, options, engine, bareThreads, stats);
        Report.Forecast(result.Forecast, result.Data.Series.TargetName);
        Report.Written(written);
        return 0;
    }

    private static IReadOnlyList<string> Write(string outDir, RunResult result, RunOptions options, EngineOptions? engine, int bareThreads, EngineStats? stats) =>
        RunOutputs.Write(outDir, result, options, engine: engine is null ? "reference" : "embedded-actors", writeModel: true,
            extra: new JsonObject { ["engine"] = stats is null ? new JsonObject { ["workers"] = 0, ["torch_threads"] = bareThreads } : EngineArguments.Json(stats) });

    /// <summary>
    /// <c>--symbol all</c> or a list, <c>--strategy per-series</c>: each series trains as <c>train</c> trains one (its files in
    /// <c>series/SYMBOL/</c>), one after the other; a series that cannot be trained (too few rows for the windows, ...) is
    /// skipped with a warning. Then the group's files: series.csv, summary.json, forecast.csv with a symbol column, grid.png.
    /// </summary>
    private static int RunGroup(RunOptions options, SeriesStrategy strategy, EngineOptions? engine, int bareThreads, string outDir)
    {
        OutputPaths.CheckDirectory(outDir);
        var available = CsvSeriesLoader.Symbols(options.Data);
        var symbols = SeriesSelection.Resolve(options.Data.Symbol!, available, options.Data.Path);
        if (strategy == SeriesStrategy.Global) return RunGlobal(options, symbols, available, engine, bareThreads, outDir);
        Console.WriteLine($"{symbols.Count} series of {Path.GetFileName(options.Data.Path)}, strategy {SeriesSelection.Name(strategy)}: one model per series");
        var outcomes = new List<SeriesOutcome>();
        for (int i = 0; i < symbols.Count; i++)
        {
            string symbol = symbols[i];
            var member = options with { Data = options.Data with { Symbol = symbol } };
            int rows = available.First(a => a.Symbol == symbol).Rows;
            AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(symbol)}[/] ({i + 1} of {symbols.Count})") { Justification = Justify.Left });
            PreparedData data;
            try
            {
                data = ForecastRun.Prepare(member);
            }
            catch (DataException e)
            {
                Console.Error.WriteLine($"warning: series '{symbol}' skipped: {e.Problem}");
                outcomes.Add(new SeriesOutcome(symbol) { Rows = rows, Skipped = e.Problem });
                continue;
            }
            Report.DataSummary(data, member);
            var result = Train(member, data, engine, bareThreads, out var stats);
            Write(Path.Combine(outDir, GroupOutputs.SeriesFolder(symbol)), result, member, engine, bareThreads, stats);
            outcomes.Add(SeriesOutcome.From(symbol, result));
        }
        var summary = new GroupSummary(outcomes);
        if (summary.Trained.Count == 0)
            throw new DataException(options.Data.Path, null, $"none of the {symbols.Count} series could be trained: {string.Join("; ", summary.Skipped.Select(s => $"{s.Symbol}: {s.Skipped}"))}");
        var written = GroupOutputs.Write(outDir, summary, SeriesSelection.Name(strategy));
        AnsiConsole.Write(Report.GroupTable(summary));
        Report.Written([.. written.Select(name => Path.Combine(outDir, name))]);
        return 0;
    }

    /// <summary>
    /// <c>--strategy global</c>: every usable series prepared alone (a series too short is skipped with a warning), one model
    /// trained on all their windows, then each series evaluated, forecast and written as in per-series.
    /// </summary>
    private static int RunGlobal(RunOptions options, IReadOnlyList<string> symbols, IReadOnlyList<SymbolRows> available, EngineOptions? engine,
        int bareThreads, string outDir)
    {
        var prepared = GlobalRun.Prepare(options, symbols);
        var outcomes = new Dictionary<string, SeriesOutcome>();
        foreach (var skip in prepared.Skipped)
        {
            Console.Error.WriteLine($"warning: series '{skip.Symbol}' skipped: {skip.Reason}");
            outcomes[skip.Symbol] = new SeriesOutcome(skip.Symbol) { Rows = available.First(a => a.Symbol == skip.Symbol).Rows, Skipped = skip.Reason };
        }
        var members = prepared.Members;
        if (members.Count == 0)
            throw new DataException(options.Data.Path, null, $"no series is usable for the global model: {string.Join("; ", prepared.Skipped.Select(s => $"{s.Symbol}: {s.Reason}"))}");
        var prep = members[0].Data.Preprocessor;
        Console.WriteLine($"{members.Count} series of {Path.GetFileName(options.Data.Path)}, strategy global: one model over {members.Sum(m => m.Data.Train.Count)} training windows " +
            $"(lookback {prep.Lookback}, {NormalizationNames.Name(prep.Normalize)} normalization fitted on each series' own training split{(options.AutoNormalize ? "; --normalize auto takes its first candidate here" : "")}" +
            $"{(prep.SeriesCount > 0 ? $"; a one-hot series id adds {prep.SeriesCount} inputs" : "")})");
        Console.WriteLine(engine is null
            ? $"engine: single-process reference trainer (--workers 0), {bareThreads} torch thread(s)"
            : $"engine: embedded cluster, {engine.Workers} worker(s), {engine.Mode.ToString().ToLowerInvariant()} mode, global batch {options.Training.BatchSize}");
        EngineStats? stats = null;
        var trainer = engine is null ? ForecastRun.ReferenceEngineWith(bareThreads) : EmbeddedEngine.Trainer(engine, s => stats = s);
        var global = TrainingProgress.Run("training (global)", options.Training.Epochs,
            progress => GlobalRun.Execute(options with { AutoNormalize = false }, members, trainer, progress, CancellationToken.None));
        Report.TrainingSummary(global.Training, options.Training);
        if (stats is not null) Report.EngineSummary(stats);
        foreach (var (symbol, result) in global.Series)
        {
            var member = members.First(m => m.Symbol == symbol).Options;
            Write(Path.Combine(outDir, GroupOutputs.SeriesFolder(symbol)), result, member, engine, bareThreads, stats);
            outcomes[symbol] = SeriesOutcome.From(symbol, result);
        }
        var summary = new GroupSummary([.. symbols.Select(s => outcomes[s])]);
        var written = GroupOutputs.Write(outDir, summary, SeriesSelection.Name(SeriesStrategy.Global));
        AnsiConsole.Write(Report.GroupTable(summary));
        Report.Written([.. written.Select(name => Path.Combine(outDir, name))]);
        return 0;
    }

    /// <summary>Trains one series (every normalization candidate with <c>--normalize auto</c>) with progress, and prints the test table.</summary>
    private static RunResult Train(RunOptions options, PreparedData data, EngineOptions? engine, int bareThreads, out EngineStats? engineStats)
    {
        Console.WriteLine(engine is null
            ? $"engine: single-process reference trainer (--workers 0), {bareThreads} torch thread(s)"
            : $"engine: embedded cluster, {engine.Workers} worker(s), {engine.Mode.ToString().ToLowerInvariant()} mode, global batch {options.Training.BatchSize} ({PerWorker(options, engine)} per worker), {engine.TorchThreads} torch thread(s) each");
        EngineStats? stats = null;
        var trainer = engine is null ? ForecastRun.ReferenceEngineWith(bareThreads) : EmbeddedEngine.Trainer(engine, s => stats = s);
        RunResult result;
        if (options.AutoNormalize)
        {
            // One training per candidate, each with its own progress display and summary, one after the other.
            Trainer each = (model, candidate, training, _, cancel) =>
            {
                string name = NormalizationNames.Name(candidate.Preprocessor.Normalize);
                Console.WriteLine($"candidate: {name} normalization");
                var trained = TrainingProgress.Run($"training ({name})", training.Epochs, progress => trainer(model, candidate, training, progress, cancel));
                Report.TrainingSummary(trained, training);
                if (stats is not null) Report.EngineSummary(stats);
                return trained;
            };
            // Said before the first training, so a user counting the trainings knows why one is missing.
            foreach (var left in ForecastRun.LeftOut(options, data))
                Console.WriteLine($"candidate: {NormalizationNames.Name(left.Normalize)} normalization not trained, same as {NormalizationNames.Name(left.SameAs)}: {left.Reason}");
            result = ForecastRun.Execute(options, data, each, null, CancellationToken.None);
            AnsiConsole.Write(Report.CandidatesTable(result.Candidates, result.LeftOut));
        }
        else
        {
            result = TrainingProgress.Run("training", options.Training.Epochs,
                progress => ForecastRun.Execute(options, data, trainer, progress, CancellationToken.None));
            Report.TrainingSummary(result.Training, options.Training);
            if (stats is not null) Report.EngineSummary(stats);
        }

        AnsiConsole.Write(Report.MetricsTable($"Test split ({result.Test.Origins} windows, h = {options.Preprocessing.Horizon}, original units)", result.Test));
        if (result.Test.Quantiles is { } quantiles) AnsiConsole.Write(Report.QuantilesTable("Prediction intervals, test split", quantiles));
        engineStats = stats;
        return result;
    }
}
