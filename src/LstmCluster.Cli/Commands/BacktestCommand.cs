using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmCluster.Cli.Output;
using LstmCluster.Cli.Rendering;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Persistence;
using LstmCluster.Reporting.Rendering;
using LstmCluster.Reporting;
using Spectre.Console;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster backtest</c>: rolling-origin evaluation with an expanding window (see <see cref="Backtest"/>),
/// the model against the baselines fold by fold; writes backtest.csv, backtest.json and backtest.png.
/// </summary>
public static class BacktestCommand
{
    public static Command Create(Defaults defaults)
    {
        var args = new RunArguments(defaults);
        var folds = new Option<int>("--folds") { Description = "number of consecutive test blocks over the last 30 % of the series", DefaultValueFactory = _ => 5 };
        var retrain = new Option<bool>("--retrain") { Description = "train a fresh model for each fold (default: one model, trained before the first fold's test block, for all folds)" };
        var outDir = new Option<DirectoryInfo>("--out") { Description = "output directory", DefaultValueFactory = _ => new DirectoryInfo("runs/backtest") };
        var command = new Command("backtest", "Rolling-origin backtest: train on an expanding window and score the model and naive baselines on several consecutive test periods");
        args.AddTo(command);
        command.Options.Add(folds);
        command.Options.Add(retrain);
        command.Options.Add(outDir);
        command.SetAction(p => Run(args.Bind(p), p.GetValue(folds), p.GetValue(retrain), p.GetValue(outDir)!.FullName));
        return command;
    }

    private static int Run(RunOptions options, int folds, bool retrain, string outDir)
    {
        OutputPaths.CheckDirectory(outDir);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: LSTM {options.Layers}×{options.Hidden}; {options.Training.Optimizer} lr {options.Training.LearningRate}, batch {options.Training.BatchSize}, up to {options.Training.Epochs} epochs, seed {options.Training.Seed}"));
        int trainings = 0;
        // Each training gets its own progress display; the fold lines print between them, never inside a live bar.
        Trainer engine = (model, data, training, _, cancel) =>
        {
            trainings++;
            var title = retrain ? $"fold {trainings}/{folds}" : "training";
            var result = TrainingProgress.Run(title, training.Epochs,
                progress => ForecastRun.ReferenceEngine(model, data, training, progress, cancel));
            Report.TrainingSummary(result, training);
            return result;
        };
        var backtest = Backtest.Run(options, folds, retrain, engine, Console.WriteLine);

        AnsiConsole.Write(FoldTable(backtest, options));
        AnsiConsole.Write(Report.MetricsTable(
            $"Mean over {backtest.Folds.Count} folds (h = {options.Preprocessing.Horizon}, original units)", backtest.Mean));
        if (backtest.Mean.Quantiles is { } meanQuantiles)
            AnsiConsole.Write(Report.QuantilesTable($"Prediction intervals, mean over {backtest.Folds.Count} folds (calibrated on each training's validation rows)", meanQuantiles));
        var mean = backtest.Mean;
        int won = backtest.Folds.Count(f => f.Report.Beats(f.Report.BestBaseline));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model beats the best baseline in {won} of {backtest.Folds.Count} folds; mean MASE {mean.Model.Mase:0.###} vs {mean.BestBaseline} {mean.Baselines[mean.BestBaseline].Mase:0.###}"));

        Directory.CreateDirectory(outDir);
        var csv = Path.Combine(outDir, "backtest.csv");
        File.WriteAllText(csv, Csv(backtest));
        var json = Path.Combine(outDir, "backtest.json");
        File.WriteAllText(json, Json(backtest, options, folds).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var png = Path.Combine(outDir, "backtest.png");
        WritePlot(png, backtest, options);
        Report.Written([csv, json, png]);
        return 0;
    }

    private static Table FoldTable(BacktestResult backtest, RunOptions options)
    {
        var time = backtest.Series.Time;
        var first = backtest.Folds[0];
        // Narrow enough for an 80-column log (decimal-year labels are 11 wide): the windows per fold and what was
        // trained go in the title, the best baseline's MASE next to its name.
        var table = new Table()
            .Border(TableBorder.Rounded)
            .Title(Markup.Escape($"Backtest MASE by fold: {first.Report.Origins} windows each, h = {options.Preprocessing.Horizon}, " +
                (backtest.Retrain ? "retrained per fold" : $"one model trained to {time.Label(first.Fold.TrainEnd - 1)}")))
            .AddColumn("fold")
            .AddColumn("test from")
            .AddColumn("test to")
            .AddColumn(new TableColumn("model").RightAligned())
            .AddColumn("best baseline")
            .AddColumn("winner");
        // A quantile head: the coverage of its widest interval on each fold's test block.
        var widest = first.Report.Quantiles?.Intervals.MaxBy(i => i.Nominal);
        if (widest is not null)
            table.AddColumn(new TableColumn(string.Create(CultureInfo.InvariantCulture, $"{widest.Nominal * 100:0.#} % cover")).RightAligned());
        foreach (var f in backtest.Folds)
        {
            var r = f.Report;
            var best = r.BestBaseline;
            string[] cells =
            [
                f.Fold.Number.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(time.Label(f.Fold.TestStart)),
                Markup.Escape(time.Label(f.Fold.TestEnd - 1)),
                Tables.FormatNumber(r.Model.Mase),
                Markup.Escape($"{best} {Tables.FormatNumber(r.Baselines[best].Mase)}"),
                r.Beats(best) ? "[bold green]model[/]" : "baseline",
            ];
            if (widest is not null)
                cells = [.. cells, r.Quantiles?.Intervals.FirstOrDefault(i => i.Nominal == widest.Nominal) is { } c
                    ? string.Create(CultureInfo.InvariantCulture, $"{c.Coverage * 100:0.#} %")
                    : "—"];
            table.AddRow(cells);
        }
        return table;
    }

    private static string Csv(BacktestResult backtest)
    {
        var time = backtest.Series.Time;
        var sb = new StringBuilder("fold,train_end_time,test_start_time,test_end_time,forecaster,mae,rmse,mape,smape,mase\n");
        foreach (var f in backtest.Folds)
        {
            var prefix = $"{f.Fold.Number},{time.Label(f.Fold.TrainEnd - 1)},{time.Label(f.Fold.TestStart)},{time.Label(f.Fold.TestEnd - 1)}";
            foreach (var (name, m) in Rows(f.Report))
                sb.Append(CultureInfo.InvariantCulture, $"{prefix},{name},{Cell(m.Mae)},{Cell(m.Rmse)},{Cell(m.Mape)},{Cell(m.Smape)},{Cell(m.Mase)}\n");
        }
        return sb.ToString();
    }

    private static IEnumerable<(string Name, ErrorMetrics Metrics)> Rows(EvaluationReport r) =>
        [("model", r.Model), .. r.Baselines.Select(b => (b.Key, b.Value))];

    // An undefined metric (MAPE with all-zero actuals, MASE with a constant training range) is an empty cell.
    private static string Cell(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    private static JsonObject Json(BacktestResult backtest, RunOptions o, int folds)
    {
        var time = backtest.Series.Time;
        var foldNodes = backtest.Folds.Select(f =>
        {
            // Times are of rows: the last row trained on, the first and last rows of the test block (inclusive).
            var node = new JsonObject
            {
                ["fold"] = f.Fold.Number,
                ["train_end_time"] = time.Label(f.Fold.TrainEnd - 1),
                ["test_start_time"] = time.Label(f.Fold.TestStart),
                ["test_end_time"] = time.Label(f.Fold.TestEnd - 1),
                ["rows"] = new JsonObject
                {
                    ["train"] = f.Fold.TrainRows,
                    ["validation"] = f.Fold.ValidationRows,
                    ["test"] = f.Fold.TestPoints,
                },
                ["trained"] = f.Training is not null,
            };
            if (f.Training is { } t)
            {
                node["training"] = new JsonObject
                {
                    ["epochs_run"] = t.Epochs.Count,
                    ["best_epoch"] = t.BestEpoch,
                    ["best_validation_loss"] = double.IsFinite(t.BestValidationLoss) ? t.BestValidationLoss : null,
                    ["seconds"] = Math.Round(t.Elapsed.TotalSeconds, 3),
                };
            }
            foreach (var (key, value) in RunOutputs.Report(f.Report)) node[key] = value?.DeepClone();
            return (JsonNode)node;
        }).ToArray();

        return new JsonObject
        {
            ["data"] = new JsonObject
            {
                ["file"] = o.Data.Path,
                ["target"] = backtest.Series.TargetName,
                ["columns"] = new JsonArray(backtest.Series.ColumnNames.Select(c => (JsonNode)c).ToArray()),
                ["rows"] = backtest.Series.Length,
            },
            ["backtest"] = new JsonObject
            {
                ["folds"] = folds,
                ["retrain"] = backtest.Retrain,
                ["window"] = "expanding",
                ["test_fraction"] = BacktestPlan.TestFraction,
                ["models_trained"] = backtest.ModelsTrained,
            },
            ["options"] = new JsonObject
            {
                ["lookback"] = o.Preprocessing.Lookback,
                ["horizon"] = o.Preprocessing.Horizon,
                ["season"] = o.Season,
                ["transform"] = o.Preprocessing.Transform.ToString(),
                ["normalize"] = o.Preprocessing.Normalize.ToString(),
                ["hidden"] = o.Hidden,
                ["layers"] = o.Layers,
                ["dropout"] = o.Dropout,
                ["training"] = JsonNode.Parse(JsonSerializer.Serialize(o.Training, ModelStore.Json)),
            },
            ["folds"] = new JsonArray(foldNodes),
            ["mean"] = RunOutputs.Report(backtest.Mean),
        };
    }

    private static void WritePlot(string path, BacktestResult backtest, RunOptions options)
    {
        var time = backtest.Series.Time;
        var labels = backtest.Folds.Select(f => $"{f.Fold.Number} ({time.Label(f.Fold.TestStart)})").ToArray();
        // Insertion order is the plot's series order: the model first.
        var mase = new Dictionary<string, IReadOnlyList<double>>
        {
            ["LSTM model"] = backtest.Folds.Select(f => f.Report.Model.Mase).ToArray(),
        };
        foreach (var name in backtest.Folds[0].Report.Baselines.Keys)
            mase[name] = backtest.Folds.Select(f => f.Report.Baselines[name].Mase).ToArray();
        var title = $"{Path.GetFileName(options.Data.Path)}: {backtest.Series.TargetName}, backtest MASE by fold (h = {options.Preprocessing.Horizon}" +
            $"{(backtest.Retrain ? ", retrained per fold" : ", one model")})";
        Plots.WriteBacktest(path, title, labels, mase);
    }
}
