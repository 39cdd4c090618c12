using LstmCluster.Core.Forecasting;

namespace LstmCluster.Core.Tests.Forecasting;

public sealed class GroupSummaryTests
{
    [Fact]
    public void The_summary_takes_medians_over_trained_series_and_counts_those_below_naive()
    {
        var summary = new GroupSummary(
        [
            new SeriesOutcome("A") { ModelMase = 0.8, NaiveMase = 1.0 },
            new SeriesOutcome("B") { ModelMase = 1.2, NaiveMase = 1.0 },
            new SeriesOutcome("C") { ModelMase = 0.5, NaiveMase = 0.4 },
            new SeriesOutcome("D") { ModelMase = 2.0, NaiveMase = 4.0 },
            new SeriesOutcome("E") { Skipped = "too short" },
            new SeriesOutcome("F") { Failed = "cancelled", ModelMase = 0.1, NaiveMase = 1 },
        ]);
        Assert.Equal(["A", "B", "C", "D"], summary.Trained.Select(s => s.Symbol));
        Assert.Equal("E", Assert.Single(summary.Skipped).Symbol);
        Assert.Equal("F", Assert.Single(summary.Failed).Symbol);
        // Model MASE 0.5, 0.8, 1.2, 2.0: median (0.8 + 1.2) / 2; naive 0.4, 1, 1, 4: median 1.
        Assert.Equal(1.0, summary.MedianModelMase, 12);
        Assert.Equal(1.0, summary.MedianNaiveMase, 12);
        // Ratios 0.8, 1.2, 1.25, 0.5: median (0.8 + 1.2) / 2.
        Assert.Equal(1.0, summary.MedianRatioToNaive, 12);
        Assert.Equal(2, summary.BeatNaive);
    }

    [Fact]
    public void A_tie_with_naive_does_not_count_as_beating_it_and_no_trained_series_gives_no_median()
    {
        Assert.False(new SeriesOutcome("A") { ModelMase = 1, NaiveMase = 1 }.BeatsNaive);
        var none = new GroupSummary([new SeriesOutcome("A") { Skipped = "too short" }]);
        Assert.True(double.IsNaN(none.MedianModelMase));
        Assert.Equal(0, none.BeatNaive);
    }
}
