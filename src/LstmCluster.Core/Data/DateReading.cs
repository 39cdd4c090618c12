using System.Globalization;
using System.Text.RegularExpressions;

namespace LstmCluster.Core.Data;

/// <summary>
/// One way of reading a time column's text as dates. A column is read by every candidate at once and a
/// candidate drops out at the first value it cannot read, so the reading is decided by the whole column,
/// never by its first rows: <c>01/02/2015 .. 12/02/2015</c> fits both day-first and month-first, and only a
/// later <c>13/02/2015</c> shows which it is.
/// </summary>
/// <remarks>
/// Numeric dates with the year last (<c>01/02/2015</c>, <c>1.2.15</c>, <c>01-02-2015 10:30</c>) are only read
/// day-first or month-first, never by the general parser, whose invariant culture would silently take them
/// month-first. Everything else (ISO dates, <c>Jan 1 2000</c>, offsets) goes through the general reading.
/// </remarks>
internal sealed partial class DateReading
{
    // Times without a zone are taken as they are written; times with an offset are moved to UTC
    // so that a file mixing offsets still sorts by the real instant.
    internal const DateTimeStyles Styles =
        DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;

    // ISO forms are tried exactly first: they are the common case and are never ambiguous.
    internal static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm",
        "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ss.FFFFFFF",
    ];

    private delegate bool Parser(string text, out DateTime date);

    private readonly Parser parse;
    private readonly string file;
    private readonly string column;
    private string? previousText;
    private int previousLine;

    private DateReading(string format, string description, Parser parse, string file, string column)
    {
        Format = format;
        Description = description;
        this.parse = parse;
        this.file = file;
        this.column = column;
    }

    /// <summary>What to pass as <c>--date-format</c> for this reading (the general reading's is only descriptive).</summary>
    public string Format { get; private set; }

    /// <summary>How the reading is named in messages: "day-first", "month-first", ...</summary>
    public string Description { get; }

    /// <summary>True until a value does not read.</summary>
    public bool Viable { get; private set; } = true;

    /// <summary>Set by the first value this reading could not read.</summary>
    public (int Line, string Text)? Failure { get; private set; }

    /// <summary>The first value out of chronological order under this reading.</summary>
    public DataException? Disorder { get; private set; }

    public List<DateTime> Dates { get; private set; } = [];

    /// <summary>
    /// The readings a column is tried with: exactly <paramref name="format"/> when given, otherwise the general
    /// reading, day-first and month-first.
    /// </summary>
    public static DateReading[] For(string? format, string file, string column)
    {
        if (format is not null)
        {
            string[] formats = Lenient(format) is var lenient && lenient != format ? [format, lenient] : [format];
            return [new DateReading(format, $"--date-format {format}", (string t, out DateTime d) => Exact(t, formats, out d), file, column)];
        }
        return
        [
            new DateReading("yyyy-MM-dd", "ISO (yyyy-MM-dd)", General, file, column),
            new DateReading("dd/MM/yyyy", "day-first", (string t, out DateTime d) => Numeric(t, dayFirst: true, out d), file, column),
            new DateReading("MM/dd/yyyy", "month-first", (string t, out DateTime d) => Numeric(t, dayFirst: false, out d), file, column),
        ];
    }

    /// <summary>Reads one value; a value out of order is recorded in <see cref="Disorder"/>, the first unreadable one ends the reading.</summary>
    public void Add(string text, int line)
    {
        if (!Viable) return;
        if (!parse(text, out var date))
        {
            Viable = false;
            Failure = (line, text);
            Dates = [];
            return;
        }
        if (Dates.Count == 0 && Description is "day-first" or "month-first") Format = NumericFormat(text, Description == "day-first");
        date = DateTime.SpecifyKind(date, DateTimeKind.Unspecified);
        if (Dates.Count > 0 && Disorder is null)
        {
            int order = date.CompareTo(Dates[^1]);
            if (order == 0)
            {
                Disorder = new DataException(file, line,
                    $"duplicate timestamp {DataException.Quote(text)}: line {line} has the same time as line {previousLine} (--on-duplicate keep-last or mean resolves duplicates)");
            }
            else if (order < 0)
            {
                Disorder = new DataException(file, line,
                    $"timestamp {DataException.Quote(text)} is earlier than {DataException.Quote(previousText!)} on line {previousLine}: rows must be in chronological order (--sort sorts them)");
            }
        }
        Dates.Add(date);
        previousLine = line;
        previousText = text;
    }

    /// <summary>
    /// The reading every value fits, once the column is read; an error naming the column and the candidate formats when
    /// more than one fits and they give different dates.
    /// </summary>
    public static DateReading Choose(DateReading[] readings, string file, string column)
    {
        var viable = readings.Where(r => r.Viable).ToArray();
        if (viable.Length == 1) return viable[0];
        // Only day-first and month-first can both fit: the general reading takes no value they take.
        var (a, b) = (viable[0], viable[1]);
        if (a.Dates.SequenceEqual(b.Dates)) return a;
        int i = Enumerable.Range(0, a.Dates.Count).First(k => a.Dates[k] != b.Dates[k]);
        throw new DataException(file, null,
            $"the dates in column '{column}' read both {a.Description} ({a.Format}) and {b.Description} ({b.Format}), e.g. "
            + $"{a.Dates[i]:yyyy-MM-dd} or {b.Dates[i]:yyyy-MM-dd} for the same value: give --date-format {a.Format} or --date-format {b.Format}");
    }

    /// <summary>The error for a value that no remaining reading takes (every reading has now failed).</summary>
    public static DataException Unreadable(DateReading[] readings, string text, int line, string file, string column, string? format)
    {
        string value = DataException.Quote(text);
        if (format is not null)
        {
            string hint = format.Contains("mm", StringComparison.Ordinal) && !format.Contains('M', StringComparison.Ordinal)
                ? " (MM is the month, mm the minutes)" : "";
            return new DataException(file, line, $"{value} in time column '{column}' does not match --date-format {format}{hint}");
        }
        var lostHere = readings.Where(r => r.Failure?.Line == line).ToArray();
        if (lostHere.Contains(readings[0]) || lostHere.Length == 0)
            return new DataException(file, line, $"{value} in time column '{column}' is neither a number nor a date (expected e.g. 2000-01-31 or 2000-01-31 12:00:00)");
        // The column's earlier values were numeric dates (day-first, month-first or both).
        if (lostHere.Length == 1 && NumericShape().IsMatch(text)
            && readings.Skip(1).Single(r => r != lostHere[0]) is { Failure: { } earlier } other && NumericShape().IsMatch(earlier.Text))
        {
            return new DataException(file, line,
                $"the dates in column '{column}' mix day-first and month-first: {value} is not a {lostHere[0].Description} date "
                + $"but {DataException.Quote(earlier.Text)} on line {earlier.Line} is not a {other.Description} one; give --date-format");
        }
        string formats = string.Join(" or ", lostHere.Select(r => r.Format));
        return new DataException(file, line, $"{value} in time column '{column}' is not a date like the column's others ({formats})");
    }

    private static bool General(string text, out DateTime date)
    {
        date = default;
        if (NumericShape().IsMatch(text)) return false;
        if (DateTime.TryParseExact(text, IsoFormats, CultureInfo.InvariantCulture, Styles, out date)) return true;
        return DateTime.TryParse(text, CultureInfo.InvariantCulture, Styles, out date);
    }

    private static bool Exact(string text, string[] formats, out DateTime date)
    {
        try
        {
            return DateTime.TryParseExact(text, formats, CultureInfo.InvariantCulture, Styles, out date);
        }
        catch (FormatException)
        {
            date = default;
            return false;
        }
    }

    private static bool Numeric(string text, bool dayFirst, out DateTime date)
    {
        date = default;
        var m = NumericShape().Match(text);
        if (!m.Success) return false;
        int first = int.Parse(m.Groups["a"].ValueSpan, CultureInfo.InvariantCulture);
        int second = int.Parse(m.Groups["b"].ValueSpan, CultureInfo.InvariantCulture);
        var y = m.Groups["y"];
        int year = int.Parse(y.ValueSpan, CultureInfo.InvariantCulture);
        if (y.Length == 2) year = CultureInfo.InvariantCulture.Calendar.ToFourDigitYear(year);
        var (day, month) = dayFirst ? (first, second) : (second, first);
        if (month is < 1 or > 12 || year is < 1 or > 9999 || day < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        var time = TimeSpan.Zero;
        if (m.Groups["time"].Success)
        {
            if (!TimeSpan.TryParse(m.Groups["time"].Value, CultureInfo.InvariantCulture, out time) || time < TimeSpan.Zero || time.TotalHours >= 24)
                return false;
        }
        date = new DateTime(year, month, day) + time;
        return true;
    }

    /// <summary>The format of a numeric date as it is written (separator, year digits, time), to name in messages and pass back.</summary>
    private static string NumericFormat(string text, bool dayFirst)
    {
        var m = NumericShape().Match(text);
        string sep = m.Groups["sep"].Value == "/" ? "/" : m.Groups["sep"].Value;
        string date = (dayFirst ? $"dd{sep}MM" : $"MM{sep}dd") + sep + (m.Groups["y"].Length == 2 ? "yy" : "yyyy");
        if (!m.Groups["time"].Success) return date;
        string time = m.Groups["time"].Value.Count(c => c == ':') == 2 ? "HH:mm:ss" : "HH:mm";
        return date + (m.Groups["t"].Value == "T" ? "'T'" : " ") + time;
    }

    /// <summary>A format as written, with two-digit fields also taking one digit (<c>dd/MM/yyyy</c> reads <c>1/2/2015</c>).</summary>
    private static string Lenient(string format) =>
        TwoDigitField().Replace(format, m => m.Value[..1]);

    [GeneratedRegex(@"(?<![dMHhms])(dd|MM|HH|hh|mm|ss)(?![dMHhms])", RegexOptions.CultureInvariant)]
    private static partial Regex TwoDigitField();

    /// <summary>Checks that <paramref name="format"/> is a usable .NET date format; the reason when it is not.</summary>
    public static string? Problem(string format)
    {
        try
        {
            _ = new DateTime(2000, 1, 31, 12, 0, 0).ToString(format, CultureInfo.InvariantCulture);
        }
        catch (FormatException)
        {
            return $"date-format '{format}' is not a date format (use .NET's notation: dd/MM/yyyy, MM/dd/yyyy HH:mm, ...)";
        }
        return null;
    }

    [GeneratedRegex(@"^(?<a>\d{1,2})(?<sep>[./-])(?<b>\d{1,2})\k<sep>(?<y>\d{4}|\d{2})(?:(?<t>[ T])(?<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?))?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumericShape();
}
