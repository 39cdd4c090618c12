using LstmCluster.Core.Data;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Data;

public sealed class PreprocessingTests
{
    private static TimeSeries Series(double[] target, double[]? feature = null) => new()
    {
        Source = "test.csv",
        ColumnNames = feature is null ? ["y"] : ["y", "x"],
        Columns = feature is null ? [target] : [target, feature],
        Time = TimeAxis.None(target.Length),
    };

    private static double[] Trending(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new double[n];
        double level = 100;
        for (int i = 0; i < n; i++)
        {
            level *= Math.Exp(0.01 + 0.03 * (rng.NextDouble() - 0.5));
            v[i] = level + 5 * Math.Sin(i / 3.0);
        }
        return v;
    }

    public static TheoryData<Normalization, TargetTransform, ScalerKind> Modes => new()
    {
        { Normalization.Window, TargetTransform.None, ScalerKind.Standard },
        { Normalization.WindowScaled, TargetTransform.None, ScalerKind.Standard },
        { Normalization.Global, TargetTransform.None, ScalerKind.Standard },
        { Normalization.Global, TargetTransform.None, ScalerKind.MinMax },
        { Normalization.Window, TargetTransform.LogReturn, ScalerKind.Standard },
        { Normalization.WindowSeasonal, TargetTransform.None, ScalerKind.Standard },
        { Normalization.Global, TargetTransform.LogReturn, ScalerKind.MinMax },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Decoding_the_encoded_targets_gives_back_the_original_values(Normalization normalize, TargetTransform transform, ScalerKind scaler)
    {
        var series = Series(Trending(300, 1), Trending(300, 2));
        var data = PreparedData.Build(series, new PreprocessingOptions
        {
            Lookback = 10, Horizon = 4, Normalize = normalize, Transform = transform, Scaler = scaler, Season = 3,
        });
        foreach (var windows in new[] { data.Train, data.Validation, data.Test })
            for (int w = 0; w < windows.Count; w++)
            {
                var decoded = data.Preprocessor.Decode(series.Columns, windows.Origins[w], windows.Targets.AsSpan(w * 4, 4));
                for (int k = 0; k < 4; k++)
                {
                    double actual = series.Target[windows.Origins[w] + 1 + k];
                    // Targets are stored as float32: exact up to float rounding of the normalized value.
                    Assert.True(Math.Abs(decoded[k] - actual) <= 1e-4 * Math.Abs(actual), $"window {w} step {k}: {decoded[k]} vs {actual}");
                }
            }
    }

    [Fact]
    public void Window_normalization_expresses_each_window_relative_to_its_last_value()
    {
        var series = Series(Trending(200, 3));
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 5, Horizon = 1 });
        var w = data.Test;
        // The last input of every window is its own anchor, so it is exactly zero...
        for (int i = 0; i < w.Count; i++) Assert.Equal(0f, w.Inputs[i * 5 + 4]);
        // ...and a zero output decodes to the last observed value: the naive forecast.
        var naive = data.Preprocessor.Decode(series.Columns, w.Origins[0], new float[1]);
        Assert.Equal(series.Target[w.Origins[0]], naive[0], 9);
    }

    [Fact]
    public void Window_seasonal_measures_each_step_from_the_naive_forecast_that_fitted_training_best()
    {
        // Period 4 with a strong pattern: seasonal naive beats the last value at every step.
        int[] pattern = [0, 10, 3, 7];
        var seasonal = Enumerable.Range(0, 120).Select(i => 50.0 + pattern[i % 4] + 0.01 * i).ToArray();
        var options = new PreprocessingOptions { Lookback = 8, Horizon = 5, Normalize = Normalization.WindowSeasonal, Season = 4 };
        var data = PreparedData.Build(Series(seasonal), options);
        // Step 4 is a whole season ahead: its seasonal-naive value is the last value itself, so
        // nothing is gained by switching (a tie keeps the last value).
        Assert.Equal(new[] { true, true, true, false, true }, data.Preprocessor.SeasonalSteps);
        // A zero output is then the seasonal-naive forecast: y[t + k - 4·ceil(k/4)].
        int origin = data.Test.Origins[0];
        var zero = data.Preprocessor.Decode(Series(seasonal).Columns, origin, new float[5]);
        for (int k = 1; k <= 5; k++)
            Assert.Equal(seasonal[origin + k - 4 * ((k + 3) / 4)], zero[k - 1], 9);

        // A random walk has no season: every step keeps the last value as its anchor.
        var walk = Trending(120, 8);
        Assert.Equal(new bool[5], PreparedData.Build(Series(walk), options).Preprocessor.SeasonalSteps);
    }

    [Fact]
    public void Seasonal_anchor_choice_looks_at_training_rows_only()
    {
        int[] pattern = [0, 10, 3, 7];
        var seasonal = Enumerable.Range(0, 120).Select(i => 50.0 + pattern[i % 4]).ToArray();
        var changed = (double[])seasonal.Clone();
        var split = SplitPoints.Of(120, 0.7, 0.15);
        // After the training split the series becomes a trend: the choice must not change.
        for (int i = split.TrainEnd; i < 120; i++) changed[i] = 60 + i;
        var options = new PreprocessingOptions { Lookback = 8, Horizon = 3, Normalize = Normalization.WindowSeasonal, Season = 4 };
        Assert.Equal(PreparedData.Build(Series(seasonal), options).Preprocessor.SeasonalSteps,
            PreparedData.Build(Series(changed), options).Preprocessor.SeasonalSteps);
    }

    [Fact]
    public void Auto_normalization_is_window_seasonal_only_for_a_seasonal_series_without_log_returns()
    {
        Assert.Equal(Normalization.WindowSeasonal, PreprocessingOptions.Auto(12, TargetTransform.None));
        Assert.Equal(Normalization.Window, PreprocessingOptions.Auto(1, TargetTransform.None));
        Assert.Equal(Normalization.Window, PreprocessingOptions.Auto(12, TargetTransform.LogReturn));
    }

    [Fact]
    public void Scaling_is_fitted_on_the_training_rows_only()
    {
        var target = Trending(200, 4);
        var changed = (double[])target.Clone();
        // Rewrite everything after the training split: the fitted preprocessing must not move.
        var split = SplitPoints.Of(200, 0.7, 0.15);
        for (int i = split.TrainEnd; i < 200; i++) changed[i] = 1e6 + i;
        foreach (var normalize in new[] { Normalization.Global, Normalization.Window })
        {
            var options = new PreprocessingOptions { Lookback = 8, Normalize = normalize };
            var a = PreparedData.Build(Series(target), options).Preprocessor;
            var b = PreparedData.Build(Series(changed), options).Preprocessor;
            Assert.Equal(a.Center, b.Center);
            Assert.Equal(a.Scale, b.Scale);
        }
    }

    [Fact]
    public void Windows_are_assigned_to_the_split_their_targets_fall_in()
    {
        var series = Series(Trending(100, 5));
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 6, Horizon = 3 });
        var s = data.Split;
        Assert.Equal((70, 85), (s.TrainEnd, s.ValidationEnd));
        Assert.All(data.Train.Origins, o => Assert.True(o + 3 < s.TrainEnd && o >= 5));
        Assert.All(data.Validation.Origins, o => Assert.True(o + 1 >= s.TrainEnd && o + 3 < s.ValidationEnd));
        Assert.All(data.Test.Origins, o => Assert.True(o + 1 >= s.ValidationEnd && o + 3 < 100));
        Assert.Equal(Enumerable.Range(5, 62), data.Train.Origins);
        Assert.Equal(Enumerable.Range(84, 13), data.Test.Origins); // origins 84..96: targets 85..99
    }

    [Fact]
    public void A_series_too_short_for_lookback_and_horizon_is_rejected_with_the_rows_it_needs()
    {
        var ex = Assert.Throws<DataException>(() =>
            PreparedData.Build(Series(Trending(40, 6)), new PreprocessingOptions { Lookback = 32, Horizon = 1 }));
        Assert.Contains("too short: 40 rows", ex.Message);
        Assert.Contains("needs at least 47 rows", ex.Message);
    }

    [Fact]
    public void Log_returns_need_a_positive_target()
    {
        var v = Trending(100, 7);
        v[50] = -1;
        var ex = Assert.Throws<DataException>(() =>
            PreparedData.Build(Series(v), new PreprocessingOptions { Lookback = 5, Transform = TargetTransform.LogReturn }));
        Assert.Contains("positive", ex.Message);
    }

    [Fact]
    public void Batch_plan_shards_are_disjoint_cover_every_window_and_each_epoch_is_a_permutation()
    {
        var plan = new BatchPlan(windowCount: 103, shardCount: 4, globalBatchSize: 16, seed: 9);
        var all = Enumerable.Range(0, 4).SelectMany(plan.Shard).ToArray();
        Assert.Equal(Enumerable.Range(0, 103), all.Order());
        for (int shard = 0; shard < 4; shard++)
        {
            var e1 = plan.EpochOrder(shard, 1);
            Assert.Equal(plan.Shard(shard).Order(), e1.Order());
            Assert.NotEqual(e1, plan.EpochOrder(shard, 2));
            Assert.Equal(e1, new BatchPlan(103, 4, 16, 9).EpochOrder(shard, 1));
            var slices = Enumerable.Range(0, plan.StepsPerEpoch).SelectMany(s => plan.Slice(e1, s)).ToArray();
            Assert.Equal(e1, slices);
        }
    }
}
