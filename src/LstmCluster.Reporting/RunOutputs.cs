using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmCluster.Core.Data;
using LstmCluster.Reporting.Rendering;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;

namespace LstmCluster.Reporting;

/// <summary>Writes what a training run leaves behind in its output directory.</summary>
public static class RunOutputs
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// metrics.json, forecast.csv, test_predictions.csv and the two plots; the model only when <paramref name="writeModel"/>.
    /// Written into a staging folder and moved into <paramref name="directory"/> when complete (<see cref="OutputPaths.WriteDirectory"/>).
    /// </summary>
    public static IReadOnlyList<string> Write(string directory, RunResult result, RunOptions options, string engine, bool writeModel,
        JsonObject? extra = null)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        IReadOnlyList<string> staged = [];
        OutputPaths.WriteDirectory(full, staging => staged = WriteInto(staging, result, options, engine, writeModel, extra));
        return [.. staged.Select(name => Path.Combine(full, name))];
    }

    /// <summary>Writes the run's files into <paramref name="directory"/>; returns their names relative to it.</summary>
    private static IReadOnlyList<string> WriteInto(string directory, RunResult result, RunOptions options, string engine, bool writeModel,
        JsonObject? extra)
    {
        var written = new List<string>();
        if (writeModel)
        {
            var modelDir = Path.Combine(directory, "model");
            ModelStore.Save(modelDir, result.Model);
            written.Add("model/");
        }

        var forecastPath = Path.Combine(directory, "forecast.csv");
        WriteForecastCsv(forecastPath, result.Forecast);
        written.Add("forecast.csv");

        var predictionsPath = Path.Combine(directory, "test_predictions.csv");
        WritePredictionsCsv(predictionsPath, result);
        written.Add("test_predictions.csv");

        var metricsPath = Path.Combine(directory, "metrics.json");
        File.WriteAllText(metricsPath, MetricsJson(result, options, engine, extra).ToJsonString(Indented));
        written.Add("metrics.json");

        var data = result.Data;
        var title = $"{Path.GetFileName(options.Data.Path)}: {data.Series.TargetName}";
        var forecastPng = Path.Combine(directory, "forecast.png");
        Plots.WriteForecast(forecastPng, $"{title} (h = {options.Preprocessing.Horizon})", data.Series.TargetName, data.Series.Time,
            data.Series.Target, data.Split.TrainEnd, data.Split.ValidationEnd,
            result.TestPredictions.Origins.Select(o => o + 1).ToArray(),
            result.TestPredictions.Values.Select(v => v[0]).ToArray(),
            result.Forecast.Select(f => f.Value).ToArray(), ZoomPoints(options), ForecastBand(result));
        written.Add("forecast.png");

        if (options.Preprocessing.Horizon > 1 && StepReports(result, options) is { } steps)
        {
            var series = new Dictionary<string, IReadOnlyList<double>> { ["LSTM model"] = steps.Select(r => r.Model.Mase).ToArray() };
            foreach (var name in steps[0].Baselines.Keys) series[name] = steps.Select(r => r.Baselines[name].Mase).ToArray();
            Plots.WriteStepErrors(Path.Combine(directory, "errors_by_step.png"), $"{title}: test MASE by forecast step", series);
            written.Add("errors_by_step.png");
        }

        var lossPng = Path.Combine(directory, "loss.png");
        Plots.WriteLoss(lossPng, result.Training.Epochs.Select(e => e.TrainLoss).ToArray(),
            result.Training.Epochs.Select(e => e.ValidationLoss).ToArray(), result.Training.BestEpoch, $"{title}: loss per epoch");
        written.Add("loss.png");
        return written;
    }

    /// <summary>
    /// The interval the plot shades: the outermost levels of a quantile head, for the forecast and for the one-step test
    /// predictions; null for a point head.
    /// </summary>
    public static IntervalBand? ForecastBand(RunResult result)
    {
        if (result.Forecast.Count == 0 || result.Forecast[0].Quantiles.Count < 2) return null;
        var levels = result.Forecast[0].Quantiles;
        double low = levels[0].Level, high = levels[^1].Level;
        var test = result.TestPredictions.Quantiles;
        return new IntervalBand(
            $"{QuantileLevels.ColumnName(low)}–{QuantileLevels.ColumnName(high)} ({(high - low) * 100:0.#} % interval)",
            result.Forecast.Select(f => f.Quantiles[0].Value).ToArray(),
            result.Forecast.Select(f => f.Quantiles[^1].Value).ToArray(),
            test?.Select(w => w[0][0]).ToArray() ?? [],
            test?.Select(w => w[^1][0]).ToArray() ?? []);
    }

    /// <summary>The zoomed panel's span: three seasons, five horizons, or 30 observations, whichever is longest.</summary>
    public static int ZoomPoints(RunOptions options) =>
        Math.Max(30, Math.Max(3 * options.Season, 5 * options.Preprocessing.Horizon));

    /// <summary>The test split scored per forecast step; null without test windows.</summary>
    public static IReadOnlyList<EvaluationReport>? StepReports(RunResult result, RunOptions options)
    {
        var p = result.TestPredictions;
        if (p.Origins.Length == 0) return null;
        var data = result.Data;
        double scale = data.MaseScale(options.Season);
        return HoldoutEvaluation.EvaluateByStep(data.Series.Target, p.Origins, p.Values, data.Preprocessor.Horizon, options.Season, scale);
    }

    /// <summary>
    /// forecast.csv (through a temporary file and a rename: a reader never sees half of it): step, time, forecast and, for a
    /// quantile head, one column per level (<c>q0.1</c>, <c>q0.5</c>, ...; the forecast is the q0.5 column).
    /// </summary>
    public static void WriteForecastCsv(string path, IReadOnlyList<ForecastPoint> forecast)
    {
        var levels = forecast.Count > 0 ? forecast[0].Quantiles.Select(q => q.Level).ToArray() : [];
        var sb = new StringBuilder("step,time,forecast");
        foreach (var level in levels) sb.Append(',').Append(QuantileLevels.ColumnName(level));
        sb.Append('\n');
        foreach (var f in forecast)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{f.Step},{f.Time},{f.Value:R}");
            foreach (var q in f.Quantiles) sb.Append(CultureInfo.InvariantCulture, $",{q.Value:R}");
            sb.Append('\n');
        }
        OutputPaths.WriteFile(path, temp => File.WriteAllText(temp, sb.ToString()));
    }

    private static void WritePredictionsCsv(string path, RunResult result)
    {
        var series = result.Data.Series;
        int h = result.Data.Preprocessor.Horizon;
        var p = result.TestPredictions;
        var sb = new StringBuilder("origin_time,step,time,actual,predicted");
        foreach (var level in p.Levels ?? []) sb.Append(',').Append(QuantileLevels.ColumnName(level));
        sb.Append('\n');
        for (int w = 0; w < p.Origins.Length; w++)
            for (int k = 0; k < h; k++)
            {
                int t = p.Origins[w] + 1 + k;
                sb.Append(CultureInfo.InvariantCulture,
                    $"{series.Time.Label(p.Origins[w])},{k + 1},{series.Time.Label(t)},{series.Target[t]:R},{p.Values[w][k]:R}");
                if (p.Quantiles is { } q)
                    foreach (var level in q[w]) sb.Append(CultureInfo.InvariantCulture, $",{level[k]:R}");
                sb.Append('\n');
            }
        File.WriteAllText(path, sb.ToString());
    }

    public static JsonObject Metrics(ErrorMetrics m) => new()
    {
        ["mae"] = Num(m.Mae),
        ["rmse"] = Num(m.Rmse),
        ["mape"] = Num(m.Mape),
        ["smape"] = Num(m.Smape),
        ["mase"] = Num(m.Mase),
    };

    public static JsonObject Report(EvaluationReport r)
    {
        var baselines = new JsonObject();
        foreach (var (name, m) in r.Baselines) baselines[name] = Metrics(m);
        return new JsonObject
        {
            ["model"] = Metrics(r.Model),
            ["baselines"] = baselines,
            ["best_baseline"] = r.BestBaseline,
            ["beats_naive"] = r.Beats("naive"),
            ["points"] = r.Points,
            ["origins"] = r.Origins,
            ["quantiles"] = r.Quantiles is { } q ? QuantilesJson(q) : null,
        };
    }

    /// <summary>
    /// A quantile head on a split: each level's mean pinball loss (original units) and the share of actual values at or
    /// below it, each central interval's nominal and empirical coverage and mean width, and the same before calibration.
    /// </summary>
    public static JsonObject QuantilesJson(QuantileReport q) => new()
    {
        ["mean_pinball_loss"] = Num(q.MeanPinball),
        ["levels"] = new JsonArray(q.Levels.Select(l => (JsonNode)new JsonObject
        {
            ["level"] = l.Level,
            ["pinball_loss"] = Num(l.Pinball),
            ["fraction_below"] = Num(l.BelowFraction),
        }).ToArray()),
        ["intervals"] = new JsonArray(q.Intervals.Select(i => (JsonNode)new JsonObject
        {
            ["lower"] = i.Lower,
            ["upper"] = i.Upper,
            ["nominal_coverage"] = i.Nominal,
            ["coverage"] = Num(i.Coverage),
            ["mean_width"] = Num(i.MeanWidth),
        }).ToArray()),
        ["points"] = q.Points,
        // The head's raw levels on the same split, before the validation calibration widened or narrowed the intervals.
        ["uncalibrated"] = q.Uncalibrated is { } raw ? QuantilesJson(raw) : null,
    };

    private static JsonObject MetricsJson(RunResult r, RunOptions o, string engine, JsonObject? extra)
    {
        var test = Report(r.Test);
        var data = r.Data;
        var root = new JsonObject
        {
            // The test-split figures sit at the top level: the headline numbers.
            ["model"] = test["model"]!.DeepClone(),
            ["baselines"] = test["baselines"]!.DeepClone(),
            ["beats_naive"] = new JsonObject { ["validation"] = r.Validation.Beats("naive"), ["test"] = r.Test.Beats("naive") },
            ["validation"] = Report(r.Validation),
            ["test"] = test,
            // A quantile head's test-split pinball loss per level and coverage per central interval (null for a point head).
            ["quantiles"] = test["quantiles"]?.DeepClone(),
            // MASE per forecast step on the test split: element k is step k + 1.
            ["test_by_step"] = StepReports(r, o) is { } steps ? new JsonArray(steps.Select((e, k) => (JsonNode)new JsonObject
            {
                ["step"] = k + 1,
                ["model_mase"] = Num(e.Model.Mase),
                ["baselines_mase"] = new JsonObject(e.Baselines.Select(b => KeyValuePair.Create(b.Key, Num(b.Value.Mase)))),
            }).ToArray()) : null,
            ["data"] = new JsonObject
            {
                ["file"] = o.Data.Path,
                ["target"] = data.Series.TargetName,
                ["columns"] = new JsonArray(data.Series.ColumnNames.Select(c => (JsonNode)c).ToArray()),
                ["rows"] = data.Series.Length,
                ["missing_policy"] = data.Series.Missing.ToString().ToLowerInvariant(),
                ["missing_handled"] = data.Series.MissingHandled,
                ["rows_reordered"] = data.Series.RowsReordered,
                ["on_duplicate"] = CsvSeriesLoader.PolicyName(data.Series.OnDuplicate),
                ["duplicates_resolved"] = data.Series.DuplicatesResolved,
                ["split_rows"] = new JsonObject { ["train"] = data.Split.TrainRows, ["validation"] = data.Split.ValidationRows, ["test"] = data.Split.TestRows },
                ["windows"] = new JsonObject { ["train"] = data.Train.Count, ["validation"] = data.Validation.Count, ["test"] = data.Test.Count },
            },
            ["options"] = new JsonObject
            {
                ["lookback"] = o.Preprocessing.Lookback,
                ["horizon"] = o.Preprocessing.Horizon,
                ["season"] = o.Season,
                ["transform"] = o.Preprocessing.Transform.ToString(),
                // The normalization the kept model uses (with auto, the candidate chosen on validation).
                ["normalize"] = r.Model.IsEnsemble ? Ensemble.Name : NormalizationNames.Name(data.Preprocessor.Normalize),
                // window-seasonal: per forecast step, whether it is measured from the seasonal-naive value.
                ["seasonal_anchor_steps"] = new JsonArray(data.Preprocessor.SeasonalSteps.Select(b => (JsonNode)b).ToArray()),
                ["hidden"] = o.Hidden,
                ["layers"] = o.Layers,
                ["dropout"] = o.Dropout,
                ["quantiles"] = r.Model.Spec.Quantiles is { } levels ? new JsonArray(levels.Select(l => (JsonNode)l).ToArray()) : null,
                ["training"] = JsonNode.Parse(JsonSerializer.Serialize(o.Training, ModelStore.Json)),
            },
            ["training"] = new JsonObject
            {
                ["engine"] = engine,
                ["epochs_run"] = r.Training.Epochs.Count,
                ["best_epoch"] = r.Training.BestEpoch,
                ["best_validation_loss"] = Num(r.Training.BestValidationLoss),
                ["stopped_early"] = r.Training.StoppedEarly,
                // early_stop (patience ran out), epoch_limit or time_budget.
                ["stop_reason"] = StopReasonName(r.Training.Stop),
                ["still_improving"] = r.Training.StillImproving,
                ["final_learning_rate"] = r.Training.Epochs.Count > 0 ? Num(r.Training.Epochs[^1].LearningRate) : null,
                ["samples"] = r.Training.Samples,
                ["seconds"] = Math.Round(r.Training.Elapsed.TotalSeconds, 3),
                ["samples_per_second"] = Math.Round(r.Training.SamplesPerSecond, 1),
                ["parameters"] = r.Model.Spec.ParameterCount,
                // Per epoch, as the loss plot draws it (the dashboard's curve of a finished job).
                ["history"] = new JsonArray(r.Training.Epochs.Select(e => (JsonNode)new JsonObject
                {
                    ["epoch"] = e.Epoch,
                    ["train_loss"] = Num(e.TrainLoss),
                    ["validation_loss"] = Num(e.ValidationLoss),
                    ["learning_rate"] = Num(e.LearningRate),
                }).ToArray()),
            },
            ["normalization"] = NormalizationJson(r),
            ["forecast"] = new JsonArray(r.Forecast.Select(f => (JsonNode)new JsonObject
            {
                ["step"] = f.Step,
                ["time"] = f.Time,
                ["value"] = f.Value,
                ["quantiles"] = f.Quantiles.Count > 0
                    ? new JsonObject(f.Quantiles.Select(q => KeyValuePair.Create(QuantileLevels.ColumnName(q.Level), (JsonNode?)JsonValue.Create(q.Value))))
                    : null,
            }).ToArray()),
        };
        if (extra is not null)
            foreach (var (key, value) in extra) root[key] = value?.DeepClone();
        return root;
    }

    public static string StopReasonName(LstmCluster.Core.Training.StopReason reason) => reason switch
    {
        LstmCluster.Core.Training.StopReason.EarlyStop => "early_stop",
        LstmCluster.Core.Training.StopReason.EpochLimit => "epoch_limit",
        _ => "time_budget",
    };

    /// <summary>
    /// How the normalization was decided: <c>fixed</c> (asked for by name) or <c>auto</c> with every candidate's validation and
    /// test errors and which one was chosen (on validation MAE only).
    /// </summary>
    private static JsonObject NormalizationJson(RunResult r)
    {
        var node = new JsonObject
        {
            ["mode"] = r.Candidates.Count > 0 ? "auto" : "fixed",
            ["chosen"] = r.Model.IsEnsemble ? Ensemble.Name : NormalizationNames.Name(r.Data.Preprocessor.Normalize),
        };
        if (r.Candidates.Count == 0) return node;
        node["chosen_by"] = "lowest validation MAE (original units)";
        node["candidates"] = new JsonArray(r.Candidates.Select(c => (JsonNode)new JsonObject
        {
            // The ensemble: the mean of the others' forecasts; its epochs are its lead member's.
            ["normalize"] = c.IsEnsemble ? Ensemble.Name : NormalizationNames.Name(c.Normalize),
            ["members"] = c.IsEnsemble ? new JsonArray([.. c.Members.Select(m => (JsonNode)NormalizationNames.Name(m)!)]) : null,
            ["chosen"] = c.Chosen,
            ["validation"] = Metrics(c.Validation.Model),
            ["test"] = Metrics(c.Test.Model),
            ["test_best_baseline"] = c.Test.Baselines.Count > 0 ? c.Test.BestBaseline : null,
            ["test_best_baseline_mase"] = c.Test.Baselines.Count > 0 ? Num(c.Test.Baselines[c.Test.BestBaseline].Mase) : null,
            ["best_epoch"] = c.BestEpoch,
            ["epochs_run"] = c.EpochsRun,
            ["stop_reason"] = StopReasonName(c.Stop),
        }).ToArray());
        // A candidate equal to another on this series is not trained twice: named here, with the one it equals and why.
        node["left_out"] = new JsonArray(r.LeftOut.Select(l => (JsonNode)new JsonObject
        {
            ["normalize"] = NormalizationNames.Name(l.Normalize),
            ["same_as"] = NormalizationNames.Name(l.SameAs),
            ["reason"] = l.Reason,
        }).ToArray());
        return node;
    }

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
}
