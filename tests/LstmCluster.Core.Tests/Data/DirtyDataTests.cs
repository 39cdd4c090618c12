using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;

namespace LstmCluster.Core.Tests.Data;

/// <summary>Real exports: a stray weekend row in trading days, rows out of order, the same time twice.</summary>
public sealed class DirtyDataTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-dirty-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string WriteLines(params string[] lines)
    {
        string path = Path.Combine(dir, "data.csv");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private static CsvSeriesOptions Options(string path) => new() { Path = path, Target = "value" };

    private static string[] Labels(TimeAxis axis) => Enumerable.Range(0, axis.Length).Select(axis.Label).ToArray();

    /// <summary>Weekdays from Monday 2024-01-01 on, with an extra Saturday row after the first week.</summary>
    private static List<DateTime> TradingDaysWithOneSaturday(int weeks)
    {
        var dates = new List<DateTime>();
        for (var d = new DateTime(2024, 1, 1); dates.Count < weeks * 5 + 1; d = d.AddDays(1))
            if (d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday) || d == new DateTime(2024, 1, 6)) dates.Add(d);
        return dates;
    }

    [Fact]
    public void Trading_days_with_a_stray_weekend_row_still_forecast_on_weekdays()
    {
        var dates = TradingDaysWithOneSaturday(weeks: 6);
        // The last row is a Friday: the next three steps are Monday, Tuesday, Wednesday.
        while (dates[^1].DayOfWeek != DayOfWeek.Friday) dates.RemoveAt(dates.Count - 1);
        var axis = TimeAxis.FromDates(dates);
        Assert.Equal(DayOfWeek.Monday, DateTime.Parse(axis.FutureLabel(1)).DayOfWeek);
        Assert.Equal(DayOfWeek.Wednesday, DateTime.Parse(axis.FutureLabel(3)).DayOfWeek);
    }

    [Fact]
    public void Calendar_days_are_not_trading_days()
    {
        var days = Enumerable.Range(0, 30).Select(i => new DateTime(2024, 1, 1).AddDays(i)).ToArray();
        Assert.False(TimeAxis.IsTradingDays(days));
        Assert.Equal("2024-01-31", TimeAxis.FromDates(days).FutureLabel(1));
        Assert.True(TimeAxis.IsTradingDays(TradingDaysWithOneSaturday(weeks: 4)));
    }

    [Fact]
    public void Sort_orders_the_rows_by_time_and_counts_the_rows_it_moved()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "2000-01-05,3", "2000-01-04,2", "2000-01-06,4");
        var refused = Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(path)));
        Assert.Contains("--sort", refused.Message);
        var s = CsvSeriesLoader.Load(Options(path) with { Sort = true });
        Assert.Equal(["2000-01-03", "2000-01-04", "2000-01-05", "2000-01-06"], Labels(s.Time));
        Assert.Equal([1.0, 2, 3, 4], s.Target);
        Assert.Equal(2, s.RowsReordered);
        Assert.Equal(0, s.DuplicatesResolved);
    }

    [Fact]
    public void Duplicates_stay_an_error_by_default_and_keep_last_or_mean_resolve_them_with_a_count()
    {
        var path = WriteLines("time,value,x", "1,1,10", "2,2,20", "2,4,", "2,6,60", "3,3,30");
        var e = Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(path)));
        Assert.Contains("duplicate timestamp '2'", e.Message);
        Assert.Contains("--on-duplicate", e.Message);

        var last = CsvSeriesLoader.Load(Options(path) with { OnDuplicate = DuplicatePolicy.KeepLast, Features = ["x"] });
        Assert.Equal([1.0, 6, 3], last.Target);
        Assert.Equal([10.0, 60, 30], last.Columns[1]);
        Assert.Equal(2, last.DuplicatesResolved);

        var mean = CsvSeriesLoader.Load(Options(path) with { OnDuplicate = DuplicatePolicy.Mean, Features = ["x"] });
        Assert.Equal([1.0, 4, 3], mean.Target);
        // The missing cell is left out of the mean, not counted as zero.
        Assert.Equal([10.0, 40, 30], mean.Columns[1]);
        Assert.Equal(["1", "2", "3"], Labels(mean.Time));
    }

    [Fact]
    public void Sort_and_keep_last_together_keep_the_row_that_came_last_in_the_file()
    {
        var path = WriteLines("date,value", "2000-01-04,2", "2000-01-03,1", "2000-01-04,5");
        var s = CsvSeriesLoader.Load(Options(path) with { Sort = true, OnDuplicate = DuplicatePolicy.KeepLast });
        Assert.Equal([1.0, 5], s.Target);
        Assert.Equal(1, s.DuplicatesResolved);
        // With --sort alone the duplicate is still refused.
        Assert.Contains("duplicate timestamp", Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(path) with { Sort = true })).Message);
    }

    [Fact]
    public void On_duplicate_or_sort_without_a_time_column_is_refused_with_a_reason()
    {
        var path = WriteLines("value", "1", "2", "3");
        var e = Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(path) with { OnDuplicate = DuplicatePolicy.Mean }));
        Assert.Contains("--on-duplicate mean needs a time column", e.Message);
        var sort = Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(path) with { Sort = true }));
        Assert.Contains("--sort needs a time column", sort.Message);
    }

    [Fact]
    public void The_options_bind_by_name_as_the_job_form_sends_them()
    {
        var values = new RunOptionValues { Data = "x.csv", Target = "value" }.With("on_duplicate", "keep-last").With("sort", "");
        var run = values.ToRunOptions();
        Assert.Equal(DuplicatePolicy.KeepLast, run.Data.OnDuplicate);
        Assert.True(run.Data.Sort);
        Assert.Throws<ArgumentException>(() => values.With("on-duplicate", "first"));
        Assert.Throws<ArgumentException>(() => values.With("sort", "maybe"));
    }
}
