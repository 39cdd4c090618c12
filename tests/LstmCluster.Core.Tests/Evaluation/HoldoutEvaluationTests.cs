using LstmCluster.Core.Evaluation;

namespace LstmCluster.Core.Tests.Evaluation;

public sealed class HoldoutEvaluationTests
{
    private const int Digits = 12;

    // Origins 2 and 4, horizon 2: truth is series[3..4] = 3, 5 and series[5..6] = 6, 8.
    private static readonly double[] Series = [1, 2, 4, 3, 5, 6, 8];
    private static readonly int[] Origins = [2, 4];

    private static EvaluationReport EvaluateTwoOrigins(double[][] modelForecasts) =>
        HoldoutEvaluation.Evaluate(Series, Origins, modelForecasts, horizon: 2, season: 2, maseScale: 0.5);

    [Fact]
    public void Metrics_pool_every_origin_and_step_for_the_model_and_each_baseline()
    {
        // model errors: 3-3, 5-4, 6-7, 8-8 = 0, 1, -1, 0
        var report = EvaluateTwoOrigins([[3, 4], [7, 8]]);

        Assert.Equal(4, report.Points);
        Assert.Equal(2, report.Origins);
        Assert.Equal(0.5, report.Model.Mae, Digits);              // (0+1+1+0)/4
        Assert.Equal(Math.Sqrt(0.5), report.Model.Rmse, Digits);   // sqrt((0+1+1+0)/4)
        Assert.Equal(1.0, report.Model.Mase, Digits);              // 0.5/0.5

        var naive = report.Baselines["naive"];
        // origin 2 -> 4, 4: |3-4|, |5-4| = 1, 1; origin 4 -> 5, 5: |6-5|, |8-5| = 1, 3
        Assert.Equal(1.5, naive.Mae, Digits);                      // (1+1+1+3)/4
        Assert.Equal(Math.Sqrt(3), naive.Rmse, Digits);            // pooled sqrt((1+1+1+9)/4) = sqrt(3), not the mean of per-origin RMSEs (1+sqrt(5))/2
        Assert.Equal(3.0, naive.Mase, Digits);                     // 1.5/0.5

        var seasonal = report.Baselines["seasonal_naive"];
        // m = 2. origin 2, history [1,2,4]: k=1 -> idx 1 = 2, k=2 -> idx 2 = 4: |3-2|, |5-4| = 1, 1
        // origin 4, history [1,2,4,3,5]: k=1 -> idx 3 = 3, k=2 -> idx 4 = 5: |6-3|, |8-5| = 3, 3
        Assert.Equal(2.0, seasonal.Mae, Digits);                   // (1+1+3+3)/4

        var drift = report.Baselines["drift"];
        // origin 2: slope (4-1)/2 = 1.5 -> 5.5, 7: |3-5.5|, |5-7| = 2.5, 2
        // origin 4: slope (5-1)/4 = 1 -> 6, 7: |6-6|, |8-7| = 0, 1
        Assert.Equal(1.375, drift.Mae, Digits);                    // (2.5+2+0+1)/4 = 5.5/4

        var mean = report.Baselines["mean"];
        // origin 2: mean 7/3: |3-7/3|, |5-7/3| = 2/3, 8/3; origin 4: mean 15/5 = 3: |6-3|, |8-3| = 3, 5
        Assert.Equal(17.0 / 6.0, mean.Mae, Digits);                // (10/3 + 8)/4 = (34/3)/4 = 17/6
    }

    [Fact]
    public void The_report_has_one_entry_per_baseline_in_the_standard_order()
    {
        var report = EvaluateTwoOrigins([[3, 4], [7, 8]]);

        Assert.Equal(["naive", "seasonal_naive", "drift", "mean"], report.Baselines.Keys);
    }

    [Fact]
    public void The_best_baseline_is_the_one_with_the_lowest_mase()
    {
        var report = EvaluateTwoOrigins([[3, 4], [7, 8]]);

        // MASE: naive 1.5/0.5 = 3, seasonal 2/0.5 = 4, drift 1.375/0.5 = 2.75, mean (17/6)/0.5 = 17/3
        Assert.Equal("drift", report.BestBaseline);
    }

    [Fact]
    public void A_model_beats_a_baseline_only_when_its_mase_is_strictly_lower()
    {
        // model errors: |3-4|, |5-4|, |6-5|, |8-5| = the naive forecast exactly, MAE 1.5, MASE 3
        var report = EvaluateTwoOrigins([[4, 4], [5, 5]]);

        Assert.False(report.Beats("naive"));          // 3 vs 3: a tie is not a win
        Assert.True(report.Beats("seasonal_naive"));  // 3 < 4
        Assert.False(report.Beats("drift"));          // 3 > 2.75
        Assert.True(report.Beats("mean"));            // 3 < 17/3
    }

    [Fact]
    public void A_perfect_model_has_zero_errors_and_beats_every_baseline()
    {
        var scale = Metrics.MaseScale(Series.AsSpan(0, 3), season: 1); // (|2-1| + |4-2|)/2 = 1.5

        var report = HoldoutEvaluation.Evaluate(Series, Origins, [[3, 5], [6, 8]], horizon: 2, season: 2, scale);

        Assert.Equal(new ErrorMetrics(0, 0, 0, 0, 0), report.Model);
        Assert.All(Baselines.All, kind => Assert.True(report.Beats(Baselines.Name(kind)), Baselines.Name(kind)));
    }

    [Fact]
    public void Beats_needs_a_defined_mase()
    {
        var report = HoldoutEvaluation.Evaluate(Series, Origins, [[3, 5], [6, 8]], horizon: 2, season: 2, maseScale: 0);

        Assert.True(double.IsNaN(report.Model.Mase));
        Assert.False(report.Beats("naive"));
        // With no MASE the ranking falls back to MAE, which orders the same way.
        Assert.Equal("drift", report.BestBaseline);
    }

    [Fact]
    public void Beats_rejects_an_unknown_baseline_name()
    {
        var report = EvaluateTwoOrigins([[3, 4], [7, 8]]);

        var ex = Assert.Throws<ArgumentException>(() => report.Beats("arima"));
        Assert.Contains("arima", ex.Message);
        Assert.Contains("seasonal_naive", ex.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)] // 5 + 2 = 7 is past the last index 6
    public void Evaluate_rejects_an_origin_whose_window_leaves_the_series(int origin)
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, [origin], [[1, 1]], horizon: 2, season: 1, maseScale: 1));
        Assert.Contains($"index {origin}", ex.Message);
    }

    [Fact]
    public void Evaluate_accepts_the_last_origin_whose_window_fits()
    {
        // origin 4 + horizon 2 = 6 = last index
        var report = HoldoutEvaluation.Evaluate(Series, [4], [[6, 8]], horizon: 2, season: 1, maseScale: 1);

        Assert.Equal(0.0, report.Model.Mae);
    }

    [Fact]
    public void Evaluate_rejects_a_different_number_of_forecasts_and_origins()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, Origins, [[3, 4]], horizon: 2, season: 1, maseScale: 1));
        Assert.Contains("one forecast per origin", ex.Message);
    }

    [Fact]
    public void Evaluate_rejects_a_forecast_whose_length_is_not_the_horizon()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, Origins, [[3, 4], [7, 8, 9]], horizon: 2, season: 1, maseScale: 1));
        Assert.Contains("model forecast 1 has 3", ex.Message);
    }

    [Fact]
    public void Evaluate_rejects_a_horizon_below_one()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, Origins, [[], []], horizon: 0, season: 1, maseScale: 1));
        Assert.Contains("horizon", ex.Message);
    }

    [Fact]
    public void Evaluate_rejects_a_season_below_one()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, Origins, [[3, 4], [7, 8]], horizon: 2, season: 0, maseScale: 1));
        Assert.Contains("season", ex.Message);
    }

    [Fact]
    public void Evaluate_rejects_an_empty_list_of_origins()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            HoldoutEvaluation.Evaluate(Series, [], [], horizon: 2, season: 1, maseScale: 1));
        Assert.Contains("no origins", ex.Message);
    }

    [Fact]
    public void By_step_scores_each_lead_time_on_its_own_and_they_average_to_the_pooled_figures()
    {
        double[][] forecasts = [[3, 4], [7, 8]];
        var steps = HoldoutEvaluation.EvaluateByStep(Series, Origins, forecasts, horizon: 2, season: 2, maseScale: 0.5);
        Assert.Equal(2, steps.Count);
        // Step 1: errors 0 and 1; step 2: 1 and 0.
        Assert.Equal(0.5, steps[0].Model.Mae, Digits);
        Assert.Equal(0.5, steps[1].Model.Mae, Digits);
        // Naive: step 1 errors 1, 1; step 2 errors 1, 3.
        Assert.Equal(1.0, steps[0].Baselines["naive"].Mae, Digits);
        Assert.Equal(2.0, steps[1].Baselines["naive"].Mae, Digits);
        var pooled = EvaluateTwoOrigins(forecasts);
        foreach (var name in pooled.Baselines.Keys)
            Assert.Equal(pooled.Baselines[name].Mae, steps.Average(s => s.Baselines[name].Mae), Digits);
    }
}
