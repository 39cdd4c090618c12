using LstmCluster.Core.Evaluation;

namespace LstmCluster.Core.Tests.Evaluation;

public sealed class MetricsTests
{
    private const int Digits = 12;

    [Fact]
    public void Compute_gives_hand_computed_errors_on_a_four_point_example()
    {
        double[] actual = [2, 4, 5, 10];
        double[] predicted = [3, 3, 5, 8];
        // |e| = |2-3|, |4-3|, |5-5|, |10-8| = 1, 1, 0, 2

        var m = Metrics.Compute(actual, predicted, maseScale: 0.5);

        Assert.Equal(1.0, m.Mae, Digits);                  // (1+1+0+2)/4 = 1
        Assert.Equal(Math.Sqrt(1.5), m.Rmse, Digits);       // sqrt((1+1+0+4)/4) = sqrt(1.5) ≈ 1.224745
        Assert.Equal(23.75, m.Mape, Digits);                // 100*(1/2 + 1/4 + 0/5 + 2/10)/4 = 100*0.95/4 = 23.75
        Assert.Equal(1430.0 / 63.0, m.Smape, Digits);       // (200*1/5 + 200*1/7 + 0 + 200*2/18)/4 = (40 + 200/7 + 200/9)/4 = 1430/63 ≈ 22.698
        Assert.Equal(2.0, m.Mase, Digits);                  // MAE/scale = 1/0.5 = 2
    }

    [Fact]
    public void Mape_skips_points_whose_actual_is_zero()
    {
        double[] actual = [0, 2, 4];
        double[] predicted = [1, 3, 3];

        var m = Metrics.Compute(actual, predicted, maseScale: 1);

        Assert.Equal(37.5, m.Mape, Digits);                 // 100*(1/2 + 1/4)/2 = 37.5 (the a=0 point is left out, so /2 not /3)
        Assert.Equal((200 + 40 + 200.0 / 7) / 3, m.Smape, Digits); // (200*1/1 + 200*1/5 + 200*1/7)/3: sMAPE keeps the a=0 point
    }

    [Fact]
    public void Mape_is_nan_when_every_actual_is_zero()
    {
        var m = Metrics.Compute([0, 0], [1, -1], maseScale: 1);

        Assert.True(double.IsNaN(m.Mape));
        Assert.Equal(200.0, m.Smape, Digits);               // (200*1/1 + 200*1/1)/2 = 200
    }

    [Fact]
    public void A_smape_term_with_actual_and_prediction_both_zero_counts_as_zero()
    {
        var m = Metrics.Compute([0, 2], [0, 3], maseScale: 1);

        Assert.Equal(20.0, m.Smape, Digits);                // (0 + 200*1/5)/2 = 20
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Mase_is_nan_when_the_scale_is_zero_or_not_finite(double scale)
    {
        var m = Metrics.Compute([1, 2], [2, 2], scale);

        Assert.True(double.IsNaN(m.Mase));
        Assert.Equal(0.5, m.Mae, Digits);                   // the other metrics are unaffected: (1+0)/2
    }

    [Fact]
    public void Mase_scale_with_season_one_is_the_mean_absolute_first_difference()
    {
        double[] training = [1, 3, 2, 5, 4];

        // |3-1| + |2-3| + |5-2| + |4-5| = 2+1+3+1 = 7, over 4 differences = 1.75
        Assert.Equal(1.75, Metrics.MaseScale(training, season: 1), Digits);
    }

    [Fact]
    public void Mase_scale_with_season_four_uses_differences_four_steps_apart()
    {
        double[] training = [1, 3, 2, 5, 4, 6, 8];

        // t = 4..6: |4-1| + |6-3| + |8-2| = 3+3+6 = 12, over 3 differences = 4
        Assert.Equal(4.0, Metrics.MaseScale(training, season: 4), Digits);
        // season 1 on the same data: 2+1+3+1+2+2 = 11, over 6 = 11/6
        Assert.Equal(11.0 / 6.0, Metrics.MaseScale(training, season: 1), Digits);
    }

    [Fact]
    public void Mase_scale_falls_back_to_season_one_when_the_series_is_shorter_than_a_season_plus_one()
    {
        double[] training = [1, 3, 2, 5];

        // 4 points < m+1 = 5, so m = 1: (2+1+3)/3 = 2
        Assert.Equal(2.0, Metrics.MaseScale(training, season: 4), Digits);
    }

    [Fact]
    public void Compute_rejects_actual_and_predicted_of_different_lengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => Metrics.Compute([1, 2, 3], [1, 2], 1));
        Assert.Contains("same length", ex.Message);
    }

    [Fact]
    public void Compute_rejects_empty_input()
    {
        var ex = Assert.Throws<ArgumentException>(() => Metrics.Compute([], [], 1));
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void Mase_scale_rejects_a_training_series_shorter_than_two()
    {
        var ex = Assert.Throws<ArgumentException>(() => Metrics.MaseScale([5], 1));
        Assert.Contains("at least 2", ex.Message);
    }

    [Fact]
    public void Mase_scale_rejects_a_season_below_one()
    {
        var ex = Assert.Throws<ArgumentException>(() => Metrics.MaseScale([1, 2, 3], 0));
        Assert.Contains("season", ex.Message);
    }
}
