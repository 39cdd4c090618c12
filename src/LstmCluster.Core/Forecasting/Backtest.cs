using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Forecasting;

/// <summary>
/// One fold's outcome: the model and every baseline on the fold's test windows, in original units, with
/// MASE scaled by the fold's training rows [0, TrainEnd). <see cref="Training"/> is null when the fold reused
/// a model trained for an earlier fold.
/// </summary>
public sealed record BacktestFoldResult(BacktestFold Fold, EvaluationReport Report, SplitPredictions Predictions,
    TrainingResult? Training);

/// <summary>
/// A rolling-origin backtest. <see cref="Mean"/> holds the mean over folds of each per-fold metric (every fold
/// weighs the same), with points and origins summed.
/// </summary>
public sealed record BacktestResult(TimeSeries Series, IReadOnlyList<BacktestFoldResult> Folds, EvaluationReport Mean,
    bool Retrain)
{
    /// <summary>Models trained: 1 without retraining, one per fold with it.</summary>
    public int ModelsTrained => Folds.Count(f => f.Training is not null);
}

/// <summary>
/// Rolling-origin evaluation with an expanding window (folds from <see cref="BacktestPlan"/>): how well the
/// model and the baselines would have forecast from several points in the past, not just one test split.
/// <para>
/// Without retraining, one model is trained on the first fold's training range, which precedes every test
/// block, and scored on every fold: fast, and no fold's test rows were seen. Later folds then also measure
/// how the model ages. With retraining, each fold trains a fresh model (same seed) on its own, longer range:
/// what a model refitted before each period would do, at N times the cost.
/// </para>
/// <para>
/// Each training is handed a <see cref="PreparedData"/> cut at the fold's test end, whose Train and Validation
/// windows lie inside the fold's training range and whose Test windows are the fold's test windows: the same
/// contract an engine has in <c>train</c> (train on Train, stop early on Validation).
/// </para>
/// </summary>
public static class Backtest
{
    public static BacktestResult Run(RunOptions options, int folds, bool retrain, Trainer engine, Action<string>? log = null,
        Action<EpochReport>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        options.Validate();
        if (folds is < 1 or > BacktestPlan.MaxFolds) throw new ArgumentException($"folds must be between 1 and {BacktestPlan.MaxFolds} (got {folds})");
        var series = CsvSeriesLoader.Load(options.Data);
        IReadOnlyList<BacktestFold> plan;
        try
        {
            plan = BacktestPlan.Folds(series.Length, folds, options.Preprocessing);
        }
        catch (ArgumentException ex)
        {
            // Everything else was validated above: what is left is the data being too short, so name the file.
            throw new DataException(series.Source, null, ex.Message);
        }

        var time = series.Time;
        var first = plan[0];
        log?.Invoke($"data: {series.Source}: {series.Length} rows, target {series.TargetName}; {folds} fold{(folds == 1 ? "" : "s")} of {first.TestPoints} test rows " +
            $"from {time.Label(first.TestStart)} to {time.Label(series.Length - 1)}, expanding window, " +
            (retrain ? "a model retrained for each fold" : $"one model trained on the rows before {time.Label(first.TestStart)}"));

        int h = options.Preprocessing.Horizon;
        var spec = options.Spec(series.Columns.Length);
        var results = new List<BacktestFoldResult>(plan.Count);
        ForecastModel? model = null;
        Preprocessor? preprocessor = null;
        try
        {
            foreach (var fold in plan)
            {
                cancel.ThrowIfCancellationRequested();
                TrainingResult? training = null;
                if (model is null || retrain)
                {
                    var data = PrepareFold(series, options.Preprocessing, fold);
                    log?.Invoke($"fold {fold.Number}/{plan.Count}: training on {time.Label(0)} .. {time.Label(fold.TrainEnd - 1)} " +
                        $"({fold.TrainRows} rows, the last {fold.ValidationRows} for early stopping; {data.Train.Count} / {data.Validation.Count} windows)");
                    model?.Dispose();
                    model = null;
                    model = ForecastModel.Create(spec, options.Training.Seed);
                    training = engine(model, data, options.Training, progress, cancel);
                    QuantileCalibration.FitOffsetHead(model, data);
                    preprocessor = QuantileCalibration.Calibrate(model, data);
                }

                var report = Evaluate(model, preprocessor!, series, fold, h, options.Season, out var predictions);
                results.Add(new BacktestFoldResult(fold, report, predictions, training));
                var best = report.BestBaseline;
                log?.Invoke($"fold {fold.Number}/{plan.Count}: test {time.Label(fold.TestStart)} .. {time.Label(fold.TestEnd - 1)} " +
                    $"({report.Origins} windows): model MASE {report.Model.Mase:0.###}, best baseline {best} {report.Baselines[best].Mase:0.###}");
            }
        }
        finally
        {
            model?.Dispose();
        }
        return new BacktestResult(series, results, Mean(results.Select(r => r.Report).ToArray()), retrain);
    }

    /// <summary>
    /// The data one fold trains on: <paramref name="series"/> cut at the fold's test end, preprocessing fitted on
    /// [0, ValidationStart), Train windows with targets before ValidationStart, Validation windows with targets in
    /// [ValidationStart, TrainEnd), Test windows with targets in the fold's test block.
    /// </summary>
    public static PreparedData PrepareFold(TimeSeries series, PreprocessingOptions options, BacktestFold fold)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fold);
        if (fold.TestEnd > series.Length)
            throw new ArgumentException($"fold {fold.Number} ends at row {fold.TestEnd}, past the series' {series.Length} rows");
        int n = fold.TestEnd;
        var cut = series with
        {
            Columns = series.Columns.Select(c => c[..n]).ToArray(),
            Time = series.Time.Select(Enumerable.Range(0, n).ToArray()),
        };
        var data = PreparedData.Build(cut, options, new SplitPoints(n, fold.ValidationStart, fold.TrainEnd));
        return data;
    }

    private static EvaluationReport Evaluate(ForecastModel model, Preprocessor preprocessor, TimeSeries series, BacktestFold fold,
        int horizon, int season, out SplitPredictions predictions)
    {
        // The model's own preprocessor, which may be an earlier fold's: the model only understands that scaling.
        var origins = fold.TestOrigins(horizon);
        var windows = preprocessor.Windows(series.Columns, origins);
        predictions = ForecastRun.Predict(model, preprocessor, series.Columns, windows);
        double scale = Metrics.MaseScale(series.Target.AsSpan(0, fold.TrainEnd), season);
        return ForecastRun.Score(series.Target, predictions, model.Spec, season, scale);
    }

    /// <summary>Mean of each metric over the reports; a NaN in any fold (an undefined metric) stays NaN.</summary>
    internal static EvaluationReport Mean(IReadOnlyList<EvaluationReport> reports)
    {
        if (reports.Count == 0) throw new ArgumentException("no reports to average");
        var baselines = reports[0].Baselines.Keys.ToDictionary(k => k, k => MeanOf(reports.Select(r => r.Baselines[k])));
        return new EvaluationReport(MeanOf(reports.Select(r => r.Model)), baselines,
            reports.Sum(r => r.Points), reports.Sum(r => r.Origins))
        {
            Quantiles = reports.All(r => r.Quantiles is not null) ? MeanOf(reports.Select(r => r.Quantiles!).ToArray()) : null,
        };
    }

    /// <summary>
    /// A quantile head's scores averaged over folds as the point metrics are (each fold weighs the same): each level's pinball
    /// loss and share below, each interval's coverage and width; points summed. Calibrated and raw alike.
    /// </summary>
    private static QuantileReport MeanOf(IReadOnlyList<QuantileReport> reports)
    {
        var first = reports[0];
        var mean = new QuantileReport(
            [.. first.Levels.Select((l, i) => new QuantileScore(l.Level, reports.Average(r => r.Levels[i].Pinball), reports.Average(r => r.Levels[i].BelowFraction)))],
            [.. first.Intervals.Select((c, i) => new IntervalCoverage(c.Lower, c.Upper, c.Nominal, reports.Average(r => r.Intervals[i].Coverage),
                reports.Average(r => r.Intervals[i].MeanWidth)))],
            reports.Average(r => r.MeanPinball), reports.Sum(r => r.Points));
        return reports.All(r => r.Uncalibrated is not null)
            ? mean with { Uncalibrated = MeanOf(reports.Select(r => r.Uncalibrated!).ToArray()) }
            : mean;
    }

    private static ErrorMetrics MeanOf(IEnumerable<ErrorMetrics> metrics)
    {
        var all = metrics.ToArray();
        return new ErrorMetrics(all.Average(m => m.Mae), all.Average(m => m.Rmse), all.Average(m => m.Mape),
            all.Average(m => m.Smape), all.Average(m => m.Mase));
    }
}
