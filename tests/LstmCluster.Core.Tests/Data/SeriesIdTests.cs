using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;

namespace LstmCluster.Core.Tests.Data;

/// <summary><c>--series-id one-hot</c>: a global model's windows carry their series' one-hot indicator after the data columns.</summary>
public sealed class SeriesIdTests
{
    private static TimeSeries Series(int n, double slope) => new()
    {
        Source = "test.csv",
        ColumnNames = ["y", "x"],
        Columns = [[.. Enumerable.Range(0, n).Select(i => 100 + slope * i + Math.Sin(i))], [.. Enumerable.Range(0, n).Select(i => Math.Cos(i / 2.0))]],
        Time = TimeAxis.None(n),
    };

    [Fact]
    public void Every_window_keeps_its_data_values_and_gains_its_series_indicator_at_every_step()
    {
        var plain = PreparedData.Build(Series(80, 0.5), new PreprocessingOptions { Lookback = 6, Horizon = 2 });
        var withId = plain.WithSeriesId(index: 1, count: 3);
        Assert.Equal((2, 5), (withId.Preprocessor.Features, withId.Preprocessor.InputSize));
        foreach (var (a, b) in new[] { (plain.Train, withId.Train), (plain.Validation, withId.Validation), (plain.Test, withId.Test) })
        {
            Assert.Equal(a.Origins, b.Origins);
            Assert.Equal(a.Targets, b.Targets);
            Assert.Equal(5, b.Features);
            for (int w = 0; w < a.Count; w++)
                for (int t = 0; t < 6; t++)
                {
                    int from = (w * 6 + t) * 2, to = (w * 6 + t) * 5;
                    Assert.Equal(a.Inputs.AsSpan(from, 2).ToArray(), b.Inputs.AsSpan(to, 2).ToArray());
                    Assert.Equal(new[] { 0f, 1f, 0f }, b.Inputs.AsSpan(to + 2, 3).ToArray());
                }
        }
        // The forecast window (what `forecast --model` builds from the preprocessing alone) carries it too.
        var forecast = withId.ForecastWindow();
        Assert.Equal(new[] { 0f, 1f, 0f }, forecast.Inputs.AsSpan(5 * 5 + 2, 3).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => plain.WithSeriesId(3, 3));
    }

    [Fact]
    public void A_model_directory_whose_series_id_does_not_fit_its_spec_is_refused_naming_it()
    {
        var pre = PreparedData.Build(Series(80, 0.5), new PreprocessingOptions { Lookback = 6 }).WithSeriesId(0, 4).Preprocessor;
        Assert.Null(ModelStore.Mismatch(new ModelSpec(6, 8, 1, 1), pre, "spec.json", "preprocessing.json"));
        Assert.Contains("2 features + 4 series ids", ModelStore.Mismatch(new ModelSpec(2, 8, 1, 1), pre, "spec.json", "preprocessing.json"));
        Assert.Contains("series_index 4 is not one of series_count 4", ModelStore.Mismatch(new ModelSpec(6, 8, 1, 1), pre with { SeriesIndex = 4 }, "spec.json", "preprocessing.json"));
    }
}
