using System.Globalization;

namespace LstmCluster.Core.Data;

public enum TimeAxisKind
{
    /// <summary>No time column: rows are numbered 0..N-1.</summary>
    Index,
    /// <summary>Calendar dates (a date column).</summary>
    Date,
    /// <summary>A numeric time column such as R's decimal years (1949.083333).</summary>
    Number,
}

/// <summary>
/// The time of each observation, and the times of the steps after the last one (for forecasts).
/// Future steps use the median spacing of the observed times; daily data with no weekend dates
/// (trading days: at least 90 % weekdays) continues on weekdays only.
/// </summary>
public sealed class TimeAxis
{
    private readonly DateTime[]? dates;
    private readonly double[]? numbers;
    private readonly int length;

    private TimeAxis(TimeAxisKind kind, int length, DateTime[]? dates, double[]? numbers)
    {
        Kind = kind;
        this.length = length;
        this.dates = dates;
        this.numbers = numbers;
    }

    public TimeAxisKind Kind { get; }
    public int Length => length;

    public static TimeAxis None(int length) => new(TimeAxisKind.Index, length, null, null);
    public static TimeAxis FromDates(IReadOnlyList<DateTime> dates) => new(TimeAxisKind.Date, dates.Count, [.. dates], null);
    public static TimeAxis FromNumbers(IReadOnlyList<double> numbers) => new(TimeAxisKind.Number, numbers.Count, null, [.. numbers]);

    /// <summary>Keeps the rows whose indices are given (in order), e.g. after dropping rows.</summary>
    public TimeAxis Select(IReadOnlyList<int> rows) => Kind switch
    {
        TimeAxisKind.Date => FromDates(rows.Select(r => dates![r]).ToArray()),
        TimeAxisKind.Number => FromNumbers(rows.Select(r => numbers![r]).ToArray()),
        _ => None(rows.Count),
    };

    /// <summary>Drops the first <paramref name="count"/> rows (a differencing transform consumes one).</summary>
    public TimeAxis Skip(int count) => Select(Enumerable.Range(count, length - count).ToArray());

    public string Label(int i) => Kind switch
    {
        TimeAxisKind.Date => FormatDate(dates![i]),
        TimeAxisKind.Number => numbers![i].ToString("0.######", CultureInfo.InvariantCulture),
        _ => i.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Label of the k-th step (k ≥ 1) after the last observation.</summary>
    public string FutureLabel(int k) => Kind switch
    {
        TimeAxisKind.Date => FormatDate(FutureDate(k)),
        TimeAxisKind.Number => FutureNumber(k).ToString("0.######", CultureInfo.InvariantCulture),
        _ => (length - 1 + k).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>x coordinate for plots: OLE automation date, the number itself, or the row index.</summary>
    public double Position(int i) => Kind switch
    {
        TimeAxisKind.Date => dates![i].ToOADate(),
        TimeAxisKind.Number => numbers![i],
        _ => i,
    };

    public double FuturePosition(int k) => Kind switch
    {
        TimeAxisKind.Date => FutureDate(k).ToOADate(),
        TimeAxisKind.Number => FutureNumber(k),
        _ => length - 1 + k,
    };

    private static string FormatDate(DateTime d) =>
        d.TimeOfDay == TimeSpan.Zero
            ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
            : d.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private double FutureNumber(int k) => numbers![length - 1] + k * MedianStep(numbers);

    private DateTime FutureDate(int k)
    {
        var last = dates![length - 1];
        // One observation gives no spacing to continue: assume daily.
        var step = length < 2 ? TimeSpan.FromDays(1) : TimeSpan.FromTicks((long)MedianStep(dates.Select(d => (double)d.Ticks).ToArray()));
        bool tradingDays = step == TimeSpan.FromDays(1) && length >= 10 && IsTradingDays(dates);
        if (!tradingDays) return last + k * step;
        var next = last;
        for (int i = 0; i < k; i++)
        {
            do next = next.AddDays(1);
            while (next.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday);
        }
        return next;
    }

    /// <summary>
    /// Trading days: at least 90 % of the dates fall on weekdays. A calendar-daily series has 5 in 7 (71 %), so the line
    /// is far from both; a stray weekend row (a data error, a special session) does not turn a stock series into a
    /// calendar one whose forecasts land on weekends.
    /// </summary>
    public static bool IsTradingDays(IReadOnlyCollection<DateTime> dates) =>
        dates.Count > 0 && dates.Count(d => d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday)) >= 0.9 * dates.Count;

    private static double MedianStep(double[] values)
    {
        if (values.Length < 2) return 1;
        var diffs = new double[values.Length - 1];
        for (int i = 1; i < values.Length; i++) diffs[i - 1] = values[i] - values[i - 1];
        Array.Sort(diffs);
        return diffs[diffs.Length / 2];
    }
}
