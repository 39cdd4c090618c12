using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Core.Tests.Forecasting;

public sealed class BacktestPlanTests
{
    public static TheoryData<int, int, int, int, TargetTransform> Shapes => new()
    {
        // length, folds, lookback, horizon, transform
        { 144, 4, 24, 1, TargetTransform.None },
        { 144, 5, 12, 3, TargetTransform.None },
        { 144, 1, 24, 1, TargetTransform.None },
        { 1000, 10, 32, 7, TargetTransform.LogReturn },
        { 251, 7, 32, 1, TargetTransform.LogReturn },
        { 60, 12, 5, 2, TargetTransform.None }, // 30 % is too few rows for 12 blocks of 2: blocks grow to the horizon
        { 97, 3, 20, 4, TargetTransform.None },
    };

    private static PreprocessingOptions Options(int lookback, int horizon, TargetTransform transform = TargetTransform.None) =>
        new() { Lookback = lookback, Horizon = horizon, Transform = transform };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void No_fold_trains_fits_or_validates_on_a_row_of_its_own_test_block(int length, int folds, int lookback, int horizon, TargetTransform transform)
    {
        var plan = BacktestPlan.Folds(length, folds, Options(lookback, horizon, transform));

        foreach (var f in plan)
        {
            Assert.True(f.ValidationStart < f.TrainEnd, $"fold {f.Number}: no validation rows");
            Assert.True(f.TrainEnd <= f.TestStart, $"fold {f.Number}: training range [0, {f.TrainEnd}) reaches its test block at {f.TestStart}");
            // Every window the fold is scored on predicts rows of its block only, from an origin the model may see.
            foreach (var origin in f.TestOrigins(horizon))
            {
                Assert.InRange(origin, f.TrainEnd - 1, int.MaxValue);
                Assert.InRange(origin + horizon, f.TestStart, f.TestEnd - 1);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Test_blocks_are_ordered_disjoint_equal_and_cover_the_tail_up_to_the_last_row(int length, int folds, int lookback, int horizon, TargetTransform transform)
    {
        var plan = BacktestPlan.Folds(length, folds, Options(lookback, horizon, transform));

        Assert.Equal(folds, plan.Count);
        Assert.Equal(Enumerable.Range(1, folds), plan.Select(f => f.Number));
        Assert.Equal(length, plan[^1].TestEnd);
        for (int i = 1; i < plan.Count; i++)
        {
            Assert.Equal(plan[i - 1].TestEnd, plan[i].TestStart);
            Assert.Equal(plan[0].TestPoints, plan[i].TestPoints);
            // Expanding window: each fold trains on everything before its block, so on the previous fold's block too.
            Assert.Equal(plan[i].TestStart, plan[i].TrainEnd);
            Assert.True(plan[i].ValidationStart >= plan[i - 1].ValidationStart);
        }
        Assert.All(plan, f => Assert.True(f.TestPoints >= horizon, $"fold {f.Number} has {f.TestPoints} test points, fewer than the horizon {horizon}"));
        Assert.All(plan, f => Assert.NotEmpty(f.TestOrigins(horizon)));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_fold_has_a_training_window_and_a_validation_tail_of_at_least_one_horizon(int length, int folds, int lookback, int horizon, TargetTransform transform)
    {
        var plan = BacktestPlan.Folds(length, folds, Options(lookback, horizon, transform));
        int offset = transform == TargetTransform.LogReturn ? 1 : 0;

        foreach (var f in plan)
        {
            Assert.True(f.ValidationStart >= lookback + horizon + offset, $"fold {f.Number} fits on {f.ValidationStart} rows only");
            Assert.True(f.ValidationRows >= horizon);
        }
    }

    [Fact]
    public void The_last_thirty_percent_of_air_passengers_makes_four_blocks_of_ten_months_and_the_remainder_trains()
    {
        var plan = BacktestPlan.Folds(144, 4, Options(24, 1));

        // round(0.3 × 144) = 43 → blocks of 10; the 3 left over go to the first fold's training range.
        Assert.Equal([104, 114, 124, 134], plan.Select(f => f.TestStart));
        Assert.All(plan, f => Assert.Equal(10, f.TestPoints));
        // 15 % of 104 = 15.6 → the last 16 training rows watch for early stopping.
        Assert.Equal(88, plan[0].ValidationStart);
    }

    [Fact]
    public void A_series_too_short_for_the_folds_is_rejected_saying_how_many_folds_fit()
    {
        // 60 rows, lookback 24, horizon 4: ten blocks of 4 leave 20 rows to train on, fewer than one window needs.
        var ex = Assert.Throws<ArgumentException>(() => BacktestPlan.Folds(60, 10, Options(24, 4)));

        Assert.Contains("too short for 10 backtest folds", ex.Message);
        Assert.Contains("60 rows", ex.Message);
        var fits = System.Text.RegularExpressions.Regex.Match(ex.Message, @"at most (\d+) folds? fit");
        Assert.True(fits.Success, ex.Message);
        int k = int.Parse(fits.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(k, BacktestPlan.Folds(60, k, Options(24, 4)).Count);
        Assert.Throws<ArgumentException>(() => BacktestPlan.Folds(60, k + 1, Options(24, 4)));
        var needed = System.Text.RegularExpressions.Regex.Match(ex.Message, @"needs at least (\d+) rows");
        Assert.True(needed.Success, ex.Message);
        int n = int.Parse(needed.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(10, BacktestPlan.Folds(n, 10, Options(24, 4)).Count);
        Assert.Throws<ArgumentException>(() => BacktestPlan.Folds(n - 1, 10, Options(24, 4)));
    }

    [Fact]
    public void A_series_too_short_for_even_one_fold_says_so()
    {
        var ex = Assert.Throws<ArgumentException>(() => BacktestPlan.Folds(30, 2, Options(24, 1)));

        Assert.Contains("not even 1 fold fits", ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(BacktestPlan.MaxFolds + 1)]
    public void A_fold_count_out_of_range_is_rejected(int folds)
    {
        var ex = Assert.Throws<ArgumentException>(() => BacktestPlan.Folds(144, folds, Options(12, 1)));

        Assert.Contains("folds must be between 1", ex.Message);
    }
}
