using LstmCluster.Core.Evaluation;

namespace LstmCluster.Core.Tests.Evaluation;

public sealed class BaselinesTests
{
    private const int Digits = 12;

    // T = 3 (origin value 8), y_0 = 2.
    private static readonly double[] History = [2, 5, 4, 8];

    [Fact]
    public void All_lists_every_kind_in_declaration_order_with_snake_case_names()
    {
        Assert.Equal([BaselineKind.Naive, BaselineKind.SeasonalNaive, BaselineKind.Drift, BaselineKind.Mean], Baselines.All);
        Assert.Equal(["naive", "seasonal_naive", "drift", "mean"], Baselines.All.Select(Baselines.Name));
    }

    [Fact]
    public void Naive_repeats_the_origin_value()
    {
        Assert.Equal([8.0, 8.0, 8.0], Baselines.Forecast(BaselineKind.Naive, History, horizon: 3, season: 1));
    }

    [Fact]
    public void Seasonal_naive_cycles_through_the_last_season_for_steps_beyond_one_season()
    {
        double[] history = [10, 20, 30, 40, 50];
        // T = 4, m = 2, index T + k - 2*ceil(k/2):
        // k=1: 4+1-2 = 3 -> 40; k=2: 4+2-2 = 4 -> 50; k=3: 4+3-4 = 3 -> 40; k=4: 4+4-4 = 4 -> 50; k=5: 4+5-6 = 3 -> 40
        Assert.Equal([40.0, 50.0, 40.0, 50.0, 40.0],
            Baselines.Forecast(BaselineKind.SeasonalNaive, history, horizon: 5, season: 2));
    }

    [Fact]
    public void Seasonal_naive_with_season_three_reuses_the_phase_of_each_step()
    {
        double[] history = [1, 2, 3, 4, 5, 6, 7];
        // T = 6, m = 3: k=1: 6+1-3 = 4 -> 5; k=2: 5 -> 6; k=3: 6 -> 7; k=4: 6+4-6 = 4 -> 5
        Assert.Equal([5.0, 6.0, 7.0, 5.0],
            Baselines.Forecast(BaselineKind.SeasonalNaive, history, horizon: 4, season: 3));
    }

    [Fact]
    public void Seasonal_naive_with_exactly_one_season_of_history_uses_it()
    {
        // n = m = 3, T = 2: k=1: 2+1-3 = 0 -> 4; k=2: 1 -> 9; k=3: 2 -> 6
        Assert.Equal([4.0, 9.0, 6.0], Baselines.Forecast(BaselineKind.SeasonalNaive, [4, 9, 6], horizon: 3, season: 3));
    }

    [Fact]
    public void Seasonal_naive_falls_back_to_naive_when_history_is_shorter_than_a_season()
    {
        Assert.Equal([7.0, 7.0, 7.0], Baselines.Forecast(BaselineKind.SeasonalNaive, [5, 7], horizon: 3, season: 3));
    }

    [Fact]
    public void Drift_extends_the_line_from_the_first_to_the_origin_value()
    {
        var forecast = Baselines.Forecast(BaselineKind.Drift, History, horizon: 3, season: 1);

        // slope = (8 - 2)/3 = 2: 8+2 = 10, 8+4 = 12, 8+6 = 14
        Assert.Equal(10.0, forecast[0], Digits);
        Assert.Equal(12.0, forecast[1], Digits);
        Assert.Equal(14.0, forecast[2], Digits);
    }

    [Fact]
    public void Drift_on_a_single_observation_is_naive()
    {
        Assert.Equal([3.0, 3.0], Baselines.Forecast(BaselineKind.Drift, [3], horizon: 2, season: 1));
    }

    [Fact]
    public void Mean_forecasts_the_mean_of_the_whole_history()
    {
        var forecast = Baselines.Forecast(BaselineKind.Mean, History, horizon: 2, season: 1);

        // (2+5+4+8)/4 = 19/4 = 4.75
        Assert.Equal(4.75, forecast[0], Digits);
        Assert.Equal(4.75, forecast[1], Digits);
    }

    [Fact]
    public void Forecast_rejects_a_horizon_below_one()
    {
        var ex = Assert.Throws<ArgumentException>(() => Baselines.Forecast(BaselineKind.Naive, History, 0, 1));
        Assert.Contains("horizon", ex.Message);
    }

    [Fact]
    public void Forecast_rejects_a_season_below_one()
    {
        var ex = Assert.Throws<ArgumentException>(() => Baselines.Forecast(BaselineKind.SeasonalNaive, History, 2, 0));
        Assert.Contains("season", ex.Message);
    }

    [Fact]
    public void Forecast_rejects_an_empty_history()
    {
        var ex = Assert.Throws<ArgumentException>(() => Baselines.Forecast(BaselineKind.Mean, [], 2, 1));
        Assert.Contains("history", ex.Message);
    }

    [Fact]
    public void An_undefined_kind_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => Baselines.Name((BaselineKind)99));
        Assert.Throws<ArgumentException>(() => Baselines.Forecast((BaselineKind)99, History, 1, 1));
    }
}
