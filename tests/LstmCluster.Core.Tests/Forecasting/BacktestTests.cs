using System.Globalization;
using System.Text;
using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Forecasting;

[Collection(TorchCollection.Name)]
public sealed class BacktestTests : IDisposable
{
    private const int Rows = 160;
    private const int Lookback = 8;
    private const int Horizon = 2;
    private readonly string dir = Path.Combine(Path.GetTempPath(), "lstmcluster-backtest-" + Guid.NewGuid().ToString("N")[..8]);

    public BacktestTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string SineCsv(int rows = Rows)
    {
        var csv = new StringBuilder("value\n");
        for (int i = 0; i < rows; i++)
            csv.Append(CultureInfo.InvariantCulture, $"{10 + 3 * Math.Sin(2 * Math.PI * i / 12) + 0.02 * i}\n");
        var path = Path.Combine(dir, $"sine{rows}.csv");
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private static RunOptions Options(string path) => new()
    {
        Data = new CsvSeriesOptions { Path = path, Target = "value" },
        Preprocessing = new PreprocessingOptions { Lookback = Lookback, Horizon = Horizon },
        Hidden = 8,
        Layers = 1,
        Season = 12,
        Training = new TrainingOptions { Epochs = 2, BatchSize = 32, Seed = 7 },
    };

    /// <summary>The reference engine, recording what each training was handed.</summary>
    private sealed class RecordingEngine
    {
        public List<(int Rows, SplitPoints Split, int LastTrainTarget, int LastValidationTarget, double[] Scale)> Calls { get; } = [];

        public Trainer Engine => (model, data, options, progress, cancel) =>
        {
            int h = data.Preprocessor.Horizon;
            Calls.Add((data.Series.Length, data.Split, data.Train.Origins.Max() + h, data.Validation.Origins.Max() + h, data.Preprocessor.Scale));
            return ForecastRun.ReferenceEngine(model, data, options, progress, cancel);
        };
    }

    [Fact]
    public void Without_retrain_one_model_is_trained_before_the_first_test_block_and_scored_on_every_fold()
    {
        var engine = new RecordingEngine();
        var log = new List<string>();

        var result = Backtest.Run(Options(SineCsv()), folds: 3, retrain: false, engine.Engine, log.Add);

        Assert.Equal(3, result.Folds.Count);
        Assert.Equal(1, result.ModelsTrained);
        var call = Assert.Single(engine.Calls);
        Assert.Single(log, l => l.Contains("training on", StringComparison.Ordinal));
        Assert.NotNull(result.Folds[0].Training);
        Assert.All(result.Folds.Skip(1), f => Assert.Null(f.Training));
        // The single model was fitted and stopped early on rows before the first block, so on no fold's test rows.
        var first = result.Folds[0].Fold;
        Assert.Equal(first.TrainEnd, call.Split.ValidationEnd);
        Assert.True(call.LastValidationTarget < first.TestStart);
        Assert.Equal(first.TestEnd, call.Rows);

        foreach (var f in result.Folds)
        {
            Assert.Equal(f.Fold.TestOrigins(Horizon), f.Predictions.Origins);
            Assert.Equal(f.Fold.TestPoints - Horizon + 1, f.Report.Origins);
            foreach (var m in new[] { f.Report.Model }.Concat(f.Report.Baselines.Values))
                Assert.All(new[] { m.Mae, m.Rmse, m.Mape, m.Smape, m.Mase }, v => Assert.True(double.IsFinite(v), $"fold {f.Fold.Number}: {m}"));
            Assert.Equal(Baselines.All.Select(Baselines.Name), f.Report.Baselines.Keys);
        }
    }

    [Fact]
    public void With_retrain_each_fold_trains_with_the_same_seed_on_its_own_range_only()
    {
        var path = SineCsv();
        var engine = new RecordingEngine();

        var retrained = Backtest.Run(Options(path), folds: 3, retrain: true, engine.Engine);
        var once = Backtest.Run(Options(path), folds: 3, retrain: false, ForecastRun.ReferenceEngine);

        Assert.Equal(3, retrained.ModelsTrained);
        Assert.Equal(3, engine.Calls.Count);
        for (int i = 0; i < 3; i++)
        {
            var fold = retrained.Folds[i].Fold;
            var call = engine.Calls[i];
            Assert.Equal(fold.ValidationStart, call.Split.TrainEnd);
            Assert.Equal(fold.TrainEnd, call.Split.ValidationEnd);
            Assert.True(call.LastTrainTarget < fold.ValidationStart);
            Assert.True(call.LastValidationTarget < fold.TestStart);
            // Cut at the fold's test end: later folds' rows are not even in the data handed over.
            Assert.Equal(fold.TestEnd, call.Rows);
        }
        // The expanding window refits the scaler on more rows each fold.
        Assert.NotEqual(engine.Calls[0].Scale[0], engine.Calls[2].Scale[0]);
        // Same seed, same range: the first fold is the same model with or without retraining.
        Assert.Equal(once.Folds[0].Report.Model, retrained.Folds[0].Report.Model);
    }

    [Fact]
    public void The_mean_is_the_mean_of_each_metric_over_the_folds()
    {
        var result = Backtest.Run(Options(SineCsv()), folds: 2, retrain: false, ForecastRun.ReferenceEngine);

        Assert.Equal(result.Folds.Average(f => f.Report.Model.Mase), result.Mean.Model.Mase, 12);
        Assert.Equal(result.Folds.Average(f => f.Report.Baselines["seasonal_naive"].Rmse), result.Mean.Baselines["seasonal_naive"].Rmse, 12);
        Assert.Equal(result.Folds.Sum(f => f.Report.Points), result.Mean.Points);
    }

    [Fact]
    public void A_quantile_backtest_scores_each_folds_intervals_and_averages_them_over_the_folds()
    {
        var result = Backtest.Run(Options(SineCsv()) with { Quantiles = [0.1, 0.5, 0.9] }, folds: 2, retrain: false, ForecastRun.ReferenceEngine);

        Assert.All(result.Folds, f =>
        {
            var interval = Assert.Single(f.Report.Quantiles!.Intervals);
            Assert.Equal(0.8, interval.Nominal, 12);
            Assert.InRange(interval.Coverage, 0, 1);
            Assert.True(interval.MeanWidth > 0);
            Assert.Equal(f.Report.Points, f.Report.Quantiles.Points);
        });
        var mean = result.Mean.Quantiles!;
        Assert.Equal(result.Folds.Average(f => f.Report.Quantiles!.Intervals[0].Coverage), mean.Intervals[0].Coverage, 12);
        Assert.Equal(result.Folds.Average(f => f.Report.Quantiles!.Levels[2].Pinball), mean.Levels[2].Pinball, 12);
        Assert.Equal(result.Folds.Sum(f => f.Report.Points), mean.Points);
        // A point head's backtest has none.
        Assert.Null(Backtest.Run(Options(SineCsv()), folds: 2, retrain: false, ForecastRun.ReferenceEngine).Mean.Quantiles);
    }

    [Fact]
    public void Changing_a_folds_test_rows_changes_nothing_its_training_sees()
    {
        var series = CsvSeriesLoader.Load(new CsvSeriesOptions { Path = SineCsv(), Target = "value" });
        var options = new PreprocessingOptions { Lookback = Lookback, Horizon = Horizon, Normalize = Normalization.Global };
        var fold = BacktestPlan.Folds(series.Length, 3, options)[1];
        var poisoned = series with { Columns = [series.Target.Select((v, i) => i >= fold.TestStart ? 1e6 + i : v).ToArray()] };

        var clean = Backtest.PrepareFold(series, options, fold);
        var dirty = Backtest.PrepareFold(poisoned, options, fold);

        Assert.Equal(clean.Preprocessor.Center, dirty.Preprocessor.Center);
        Assert.Equal(clean.Preprocessor.Scale, dirty.Preprocessor.Scale);
        Assert.Equal(clean.Train.Inputs, dirty.Train.Inputs);
        Assert.Equal(clean.Train.Targets, dirty.Train.Targets);
        Assert.Equal(clean.Validation.Inputs, dirty.Validation.Inputs);
        Assert.Equal(clean.Validation.Targets, dirty.Validation.Targets);
        // ...while the fold's test windows do see the change: the poison reached the data.
        Assert.NotEqual(clean.Test.Targets, dirty.Test.Targets);
        Assert.Equal(fold.TestOrigins(Horizon), clean.Test.Origins);
    }

    [Fact]
    public void A_file_too_short_for_the_folds_is_a_data_error_naming_the_file_and_the_folds_that_fit()
    {
        var path = SineCsv(rows: 24);

        var ex = Assert.Throws<DataException>(() => Backtest.Run(Options(path), folds: 8, retrain: false, ForecastRun.ReferenceEngine));

        Assert.Contains("sine24.csv", ex.Message);
        Assert.Contains("too short for 8 backtest folds", ex.Message);
        Assert.Contains("at most", ex.Message);
    }

    [Fact]
    public void A_fold_count_below_one_is_an_argument_error_before_any_training()
    {
        var engine = new RecordingEngine();

        Assert.Throws<ArgumentException>(() => Backtest.Run(Options(SineCsv()), folds: 0, retrain: false, engine.Engine));
        Assert.Empty(engine.Calls);
    }
}
