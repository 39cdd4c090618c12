using System.Text;
using LstmCluster.Core.Data;

namespace LstmCluster.Core.Tests.Data;

public sealed class CsvSeriesLoaderTests : IDisposable
{
    // xunit makes one instance per test, so each test has its own directory.
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-csv-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(string text, string name = "data.csv")
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteLines(params string[] lines) => Write(string.Join("\n", lines) + "\n");

    private static CsvSeriesOptions Options(string path, string target = "value") => new() { Path = path, Target = target };

    private static TimeSeries Load(CsvSeriesOptions options) => CsvSeriesLoader.Load(options);

    private static DataException Fails(CsvSeriesOptions options) =>
        Assert.Throws<DataException>(() => CsvSeriesLoader.Load(options));

    private static string[] Labels(TimeAxis axis) => Enumerable.Range(0, axis.Length).Select(axis.Label).ToArray();

    // ---- reading columns ----

    [Fact]
    public void Target_and_features_are_read_in_the_order_asked_for()
    {
        var path = WriteLines("a,b,c", "1,10,100", "2,20,200", "3,30,300");
        var s = Load(Options(path, "b") with { Features = ["c", "a"] });

        Assert.Equal(["b", "c", "a"], s.ColumnNames);
        Assert.Equal([10.0, 20, 30], s.Columns[0]);
        Assert.Equal([100.0, 200, 300], s.Columns[1]);
        Assert.Equal([1.0, 2, 3], s.Columns[2]);
        Assert.Equal(TimeAxisKind.Index, s.Time.Kind);
        Assert.Equal(3, s.Time.Length);
        Assert.Equal(0, s.MissingHandled);
        Assert.Equal(path, s.Source);
    }

    [Fact]
    public void Target_repeated_in_features_is_ignored()
    {
        var path = WriteLines("x,y", "1,5", "2,6");
        var s = Load(Options(path, "x") with { Features = ["y", "X", "x", "y"] });

        Assert.Equal(["x", "y"], s.ColumnNames);
        Assert.Equal(2, s.Columns.Length);
    }

    [Fact]
    public void Column_names_match_exactly_first_then_ignoring_case()
    {
        var path = WriteLines("Value,value,Close", "1,4,7", "2,5,8");

        var exact = Load(Options(path, "value"));
        Assert.Equal("value", exact.TargetName);
        Assert.Equal([4.0, 5], exact.Target);

        var loose = Load(Options(path, "CLOSE"));
        Assert.Equal("Close", loose.TargetName);
        Assert.Equal([7.0, 8], loose.Target);

        var ambiguous = Fails(Options(path, "VALUE"));
        Assert.Contains("'Value', 'value'", ambiguous.Message);
        Assert.Contains("exact name", ambiguous.Message);
    }

    [Fact]
    public void Unknown_column_is_rejected_naming_the_available_columns()
    {
        var path = WriteLines("date,Open,Close", "2000-01-03,1,2", "2000-01-04,3,4");

        var target = Fails(Options(path, "Price"));
        Assert.Null(target.Line);
        Assert.Contains("no target column 'Price'", target.Message);
        Assert.Contains("date, Open, Close", target.Message);

        var feature = Fails(Options(path, "Close") with { Features = ["Volume"] });
        Assert.Contains("no feature column 'Volume'", feature.Message);
        Assert.Contains("date, Open, Close", feature.Message);
    }

    [Fact]
    public void Semicolon_separated_file_is_rejected_with_a_hint()
    {
        var path = WriteLines("date;value", "2000-01-03;1", "2000-01-04;2");
        var e = Fails(Options(path));
        Assert.Contains("only comma-separated files", e.Message);
    }

    [Fact]
    public void Quoted_fields_may_hold_commas_quotes_and_line_breaks()
    {
        var path = WriteLines(
            "\"note\",\"the \"\"value\"\"\"",
            "\"a, b\",\"1.5\"",
            "\"two",
            "lines\",2.5",
            "plain,oops");

        var e = Fails(Options(path, "the \"value\""));
        // The multi-line record takes lines 3 and 4, so the bad cell is on line 5.
        Assert.Equal(5, e.Line);
        Assert.Contains("'oops'", e.Message);

        var ok = WriteLines("\"note\",\"the \"\"value\"\"\"", "\"a, b\",\"1.5\"", "\"two\nlines\",2.5");
        var s = Load(Options(ok, "the \"value\""));
        Assert.Equal([1.5, 2.5], s.Target);
    }

    [Fact]
    public void Byte_order_mark_and_windows_line_endings_are_accepted()
    {
        string path = Path.Combine(dir, "bom.csv");
        File.WriteAllText(path, "date,value\r\n2000-01-03,1\r\n2000-01-04,2\r\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        var s = Load(Options(path));
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal(["2000-01-03", "2000-01-04"], Labels(s.Time));
        Assert.Equal([1.0, 2], s.Target);
    }

    [Fact]
    public void Blank_lines_are_skipped_but_still_counted_in_line_numbers()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "", "2000-01-04,2", "  ", "2000-01-05,x");
        var e = Fails(Options(path));
        Assert.Equal(6, e.Line);

        var ok = WriteLines("date,value", "2000-01-03,1", "", "2000-01-04,2", "", "");
        Assert.Equal([1.0, 2], Load(Options(ok)).Target);
    }

    [Fact]
    public void Blank_line_in_a_one_column_file_is_a_missing_value_unless_trailing()
    {
        var path = WriteLines("value", "1", "", "3", "", "");
        var s = Load(Options(path) with { Missing = MissingPolicy.Interpolate });
        Assert.Equal([1.0, 2, 3], s.Target);
        Assert.Equal(1, s.MissingHandled);

        var e = Fails(Options(path) with { Missing = MissingPolicy.Error });
        Assert.Equal(3, e.Line);
    }

    // ---- time axis ----

    [Fact]
    public void Decimal_years_give_a_numeric_time_axis()
    {
        var path = WriteLines("\"time\",\"value\"", "1949,112", "1949.083333,118", "1949.166667,132");
        var s = Load(Options(path));

        Assert.Equal(TimeAxisKind.Number, s.Time.Kind);
        Assert.Equal(1949.083333, s.Time.Position(1), 6);
        Assert.Equal("1949.166667", s.Time.Label(2));
        Assert.Equal([112.0, 118, 132], s.Target);
    }

    [Theory]
    [InlineData("2000-01-03", "2000-01-04", "2000-01-03", "2000-01-04")]
    [InlineData("2000-01-03 09:30:00", "2000-01-03 10:30:00", "2000-01-03 09:30:00", "2000-01-03 10:30:00")]
    [InlineData("2000-01-03T09:30:00", "2000-01-03T10:30:00", "2000-01-03 09:30:00", "2000-01-03 10:30:00")]
    [InlineData("Jan 1 2000", "Feb 1 2000", "2000-01-01", "2000-02-01")]
    [InlineData("\"2000-01-03\"", "\"2000-01-04\"", "2000-01-03", "2000-01-04")]
    public void Date_columns_give_a_date_time_axis(string first, string second, string label1, string label2)
    {
        var path = WriteLines("date,value", $"{first},1", $"{second},2");
        var s = Load(Options(path));

        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal([label1, label2], Labels(s.Time));
    }

    [Theory]
    [InlineData("Date")]
    [InlineData("TIME")]
    [InlineData("timestamp")]
    [InlineData("DateTime")]
    public void Time_column_is_found_by_name_in_any_case(string name)
    {
        var path = WriteLines($"value,{name}", "1,2000-01-03", "2,2000-01-04");
        var s = Load(Options(path));
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal("2000-01-04", s.Time.Label(1));
    }

    [Fact]
    public void Named_date_column_is_used_whatever_its_name()
    {
        var path = WriteLines("day,value,time", "2000-01-03,1,9", "2000-01-04,2,8");
        var s = Load(Options(path) with { DateColumn = "day" });
        Assert.Equal(["2000-01-03", "2000-01-04"], Labels(s.Time));
    }

    [Fact]
    public void Named_date_column_that_does_not_exist_is_rejected()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "2000-01-04,2");
        var e = Fails(Options(path) with { DateColumn = "when" });
        Assert.Contains("no date column 'when'", e.Message);
        Assert.Contains("date, value", e.Message);
    }

    [Fact]
    public void File_without_a_time_column_is_indexed_by_row()
    {
        var path = WriteLines("value", "3", "4", "6");
        var s = Load(Options(path));
        Assert.Equal(TimeAxisKind.Index, s.Time.Kind);
        Assert.Equal(["0", "1", "2"], Labels(s.Time));
    }

    [Fact]
    public void Time_column_asked_for_as_a_value_is_not_also_the_time_axis()
    {
        var path = WriteLines("time,value", "1,5", "2,7");
        var s = Load(Options(path, "time"));
        Assert.Equal(TimeAxisKind.Index, s.Time.Kind);
        Assert.Equal([1.0, 2], s.Target);
    }

    // ---- day-first and month-first dates ----

    private string Monthly(string format, int months, int startYear = 2015) =>
        WriteLines([.. new[] { "date,value" }.Concat(Enumerable.Range(0, months)
            .Select(k => $"{new DateTime(startYear, 1, 1).AddMonths(k).ToString(format, System.Globalization.CultureInfo.InvariantCulture)},{k + 1}"))]);

    [Fact]
    public void Day_first_monthly_dates_that_also_read_month_first_are_refused_naming_the_column_and_both_formats()
    {
        // 01/01/2015, 01/02/2015, ...: read month-first they are 2015-01-01 .. 2024-01-12, all in order.
        var path = Monthly("dd/MM/yyyy", 120);
        var e = Fails(Options(path));
        Assert.Null(e.Line);
        Assert.Contains("column 'date'", e.Message);
        Assert.Contains("dd/MM/yyyy", e.Message);
        Assert.Contains("MM/dd/yyyy", e.Message);
        Assert.Contains("--date-format", e.Message);
    }

    [Fact]
    public void Date_format_option_reads_ambiguous_dates_as_given()
    {
        var path = Monthly("dd/MM/yyyy", 120);
        var s = Load(Options(path) with { DateFormat = "dd/MM/yyyy" });
        Assert.Equal("2015-02-01", s.Time.Label(1));
        Assert.Equal("2024-12-01", s.Time.Label(119));
        Assert.Equal("2025-01-01", s.Time.FutureLabel(1));
        Assert.Equal("dd/MM/yyyy", s.DateFormat);

        var monthFirst = Load(Options(path) with { DateFormat = "MM/dd/yyyy" });
        Assert.Equal("2015-01-02", monthFirst.Time.Label(1));
    }

    [Fact]
    public void Daily_day_first_dates_are_read_day_first_because_only_that_reading_fits_every_value()
    {
        // Until the 13th every value reads both ways; the 13th onwards only day-first.
        var path = WriteLines([.. new[] { "date,value" }.Concat(Enumerable.Range(0, 40)
            .Select(k => $"{new DateTime(2015, 1, 1).AddDays(k):dd/MM/yyyy},{k % 7 + 1}"))]);
        var s = Load(Options(path));
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal("2015-01-02", s.Time.Label(1));
        Assert.Equal("2015-02-09", s.Time.Label(39));
        Assert.Equal("dd/MM/yyyy", s.DateFormat);
    }

    [Fact]
    public void Month_first_dates_with_a_day_over_12_are_read_month_first()
    {
        var path = WriteLines("date,value", "01/05/2015,1", "01/20/2015,2", "02/05/2015,3");
        var s = Load(Options(path));
        Assert.Equal(["2015-01-05", "2015-01-20", "2015-02-05"], Labels(s.Time));
        Assert.Equal("MM/dd/yyyy", s.DateFormat);
    }

    [Fact]
    public void Dates_that_read_the_same_both_ways_are_not_ambiguous()
    {
        var path = WriteLines("date,value", "01/01/2015,1", "02/02/2015,2", "03/03/2015,3");
        Assert.Equal(["2015-01-01", "2015-02-02", "2015-03-03"], Labels(Load(Options(path)).Time));
    }

    [Fact]
    public void A_column_mixing_day_first_and_month_first_dates_is_refused_naming_both_lines()
    {
        var path = WriteLines("date,value", "13/01/2015,1", "14/01/2015,2", "01/15/2015,3");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains("mix day-first and month-first", e.Message);
        Assert.Contains("'01/15/2015'", e.Message);
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Out_of_order_day_first_dates_name_the_line_once_the_reading_is_decided()
    {
        var path = WriteLines("date,value", "13/01/2015,1", "15/01/2015,2", "14/01/2015,3");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains("earlier than '15/01/2015' on line 3", e.Message);
    }

    [Fact]
    public void Value_not_matching_the_date_format_is_rejected_naming_the_line_and_the_format()
    {
        var path = WriteLines("date,value", "01/02/2015,1", "2015-02-03,2");
        var e = Fails(Options(path) with { DateFormat = "dd/MM/yyyy" });
        Assert.Equal(3, e.Line);
        Assert.Contains("does not match --date-format dd/MM/yyyy", e.Message);

        var minutes = Fails(Options(path) with { DateFormat = "dd/mm/yyyy" });
        Assert.Contains("MM is the month, mm the minutes", minutes.Message);
    }

    [Fact]
    public void Date_format_reads_a_numeric_looking_time_column_as_dates()
    {
        var path = WriteLines("date,value", "20150101,1", "20150102,2");
        Assert.Equal(["2015-01-01", "2015-01-02"], Labels(Load(Options(path) with { DateFormat = "yyyyMMdd" }).Time));
    }

    [Fact]
    public void Date_format_without_a_time_column_is_rejected()
    {
        var e = Fails(Options(WriteLines("value", "1", "2")) with { DateFormat = "dd/MM/yyyy" });
        Assert.Contains("no time column", e.Message);
    }

    [Fact]
    public void Duplicate_timestamps_are_rejected_naming_both_lines()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "2000-01-04,2", "2000-01-04,3", "2000-01-05,4");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains("duplicate timestamp '2000-01-04'", e.Message);
        Assert.Contains("line 4", e.Message);
        Assert.Contains("line 3", e.Message);

        var numeric = WriteLines("time,value", "1,1", "1,2");
        var n = Fails(Options(numeric));
        Assert.Equal(3, n.Line);
        Assert.Contains("line 2", n.Message);
    }

    [Fact]
    public void Unsorted_timestamps_are_rejected_naming_the_line()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "2000-01-05,2", "2000-01-04,3");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains("earlier than '2000-01-05' on line 3", e.Message);
        Assert.Contains("chronological", e.Message);
    }

    [Fact]
    public void Unreadable_date_is_rejected_naming_the_line()
    {
        var path = WriteLines("date,value", "2000-01-03,1", "someday,2");
        var e = Fails(Options(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("'someday'", e.Message);
        Assert.Contains("time column 'date'", e.Message);
    }

    [Fact]
    public void Time_column_mixing_numbers_and_dates_is_rejected()
    {
        var path = WriteLines("time,value", "1949,1", "1949.5,2", "2000-01-01,3");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains("'2000-01-01'", e.Message);
        Assert.Contains("not a number", e.Message);
    }

    [Theory]
    [InlineData(MissingPolicy.Ffill)]
    [InlineData(MissingPolicy.Drop)]
    public void Missing_timestamp_is_rejected_whatever_the_policy(MissingPolicy policy)
    {
        var path = WriteLines("date,value", "2000-01-03,1", "NA,2", "2000-01-05,3");
        var e = Fails(Options(path) with { Missing = policy });
        Assert.Equal(3, e.Line);
        Assert.Contains("missing timestamp", e.Message);
    }

    // ---- bad cells ----

    [Fact]
    public void Non_numeric_cell_is_rejected_quoting_the_cell_and_column()
    {
        var path = WriteLines("date,value,other", "2000-01-03,1,x", "2000-01-04,12abc,y");
        var e = Fails(Options(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("'12abc'", e.Message);
        Assert.Contains("column 'value'", e.Message);
        Assert.StartsWith($"{path}:3: ", e.Message);
    }

    [Fact]
    public void A_huge_bad_cell_is_quoted_as_a_bounded_excerpt_with_its_length()
    {
        string huge = new string('1', 2_000_000) + "x";
        var path = WriteLines("time,value", "1,1", $"2,{huge}", "3,4");
        var e = Fails(Options(path));
        Assert.Equal(3, e.Line);
        Assert.True(e.Message.Length < 200, e.Message);
        Assert.Contains("'" + new string('1', DataException.ExcerptLength) + "...'", e.Message);
        Assert.Contains("(2,000,001 bytes)", e.Message);
    }

    [Fact]
    public void A_bad_date_quotes_only_its_own_cell_bounded()
    {
        // An unterminated quote in the time column swallows the rest of the file into one cell.
        string rest = string.Join("\n", Enumerable.Range(0, 1000).Select(k => $"2000-02-{k % 28 + 1:00},secret{k}"));
        var path = Write("date,value\n2000-01-01,1\n\"2000-01-02,2\n" + rest + "\n");
        var e = Fails(Options(path));
        Assert.DoesNotContain("secret", e.Message);
        Assert.True(e.Message.Length < 300, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_gzip_file_is_refused_as_not_a_text_csv()
    {
        string path = Path.Combine(dir, "data.csv.gz");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(path), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write(Encoding.UTF8.GetBytes("date,value\n" + string.Join("\n", Enumerable.Range(1, 500).Select(k => $"{k},{k * 3 % 17}"))));
        var e = Fails(Options(path));
        Assert.Null(e.Line);
        Assert.Contains("not a UTF-8 text CSV file (gzip-compressed data)", e.Message);
        Assert.True(e.Message.Length < path.Length + 80, e.Message);
    }

    [Fact]
    public void Invalid_utf8_is_refused_as_not_a_text_csv()
    {
        string path = Path.Combine(dir, "latin1.csv");
        File.WriteAllBytes(path, [.. Encoding.ASCII.GetBytes("caf"), 0xe9, .. Encoding.ASCII.GetBytes(",value\n1,2\n3,4\n")]);
        Assert.Contains("not a UTF-8 text CSV file (not valid UTF-8)", Fails(Options(path, "value")).Message);
    }

    [Fact]
    public void A_huge_header_name_is_listed_bounded()
    {
        string name = new string('h', 100_000);
        var path = WriteLines($"{name},other", "1,2", "3,4");
        var e = Fails(Options(path));
        Assert.Contains("no target column 'value'", e.Message);
        Assert.True(e.Message.Length < 300, e.Message);
        Assert.Contains("(100,000 characters)", e.Message);
    }

    [Fact]
    public void Cells_of_unselected_columns_are_not_checked()
    {
        var path = WriteLines("value,comment", "1,hello", "2,NaN");
        Assert.Equal([1.0, 2], Load(Options(path)).Target);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("nan")]
    [InlineData("Inf")]
    [InlineData("-Inf")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    public void Non_finite_literals_are_rejected_rather_than_treated_as_missing(string literal)
    {
        var path = WriteLines("value", "1", "2", literal, "4");
        var e = Fails(Options(path) with { Missing = MissingPolicy.Ffill });
        Assert.Equal(4, e.Line);
        Assert.Contains("non-finite", e.Message);
        Assert.Contains($"'{literal}'", e.Message);
    }

    [Theory]
    [InlineData("1,2,3", 3)]
    [InlineData("1", 1)]
    public void Ragged_row_is_rejected_naming_the_line(string row, int fields)
    {
        var path = WriteLines("a,value", "1,2", "3,4", row, "5,6");
        var e = Fails(Options(path));
        Assert.Equal(4, e.Line);
        Assert.Contains($"row has {fields} field", e.Message);
        Assert.Contains("header has 2", e.Message);
    }

    [Fact]
    public void Stray_quote_is_rejected_naming_the_line()
    {
        var path = WriteLines("a,value", "1,2", "3,\"4\"x", "5,6");
        var e = Fails(Options(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("quot", e.Message);
    }

    [Fact]
    public void Unterminated_quote_is_rejected_naming_the_line_it_opens_on()
    {
        var path = WriteLines("a,value", "1,2", "3,\"4", "5,6", "7,8");
        var e = Fails(Options(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("never closed", e.Message);
    }

    // ---- whole-file problems ----

    [Fact]
    public void Missing_file_is_rejected()
    {
        string path = Path.Combine(dir, "nope.csv");
        var e = Fails(Options(path));
        Assert.Null(e.Line);
        Assert.Equal(path, e.File);
        Assert.Contains("file not found", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    public void Empty_file_is_rejected(string text)
    {
        var e = Fails(Options(Write(text)));
        Assert.Contains("file is empty", e.Message);
    }

    [Fact]
    public void Header_without_data_rows_is_rejected()
    {
        var e = Fails(Options(WriteLines("date,value")));
        Assert.Contains("no data rows", e.Message);
    }

    [Theory]
    [InlineData("1949,112")]
    [InlineData("\"2000-09-27\",63.4375,63.5625")]
    public void First_line_that_looks_like_data_is_rejected_as_a_missing_header(string firstLine)
    {
        var path = WriteLines(firstLine, "1950,118", "1951,120");
        var e = Fails(Options(path));
        Assert.Equal(1, e.Line);
        Assert.Contains("no header row: first line looks like data", e.Message);
    }

    [Fact]
    public void Single_data_row_is_rejected()
    {
        var e = Fails(Options(WriteLines("value", "5")));
        Assert.Contains("only 1 data row", e.Message);
        Assert.Contains("at least 2", e.Message);
    }

    [Fact]
    public void Constant_target_is_rejected()
    {
        var path = WriteLines("x,y", "5,1", "5,2", "5,3");
        var e = Fails(Options(path, "x"));
        Assert.Contains("target column 'x' is constant (value 5): nothing to forecast", e.Message);
    }

    [Fact]
    public void File_over_the_size_limit_is_refused_before_reading()
    {
        string path = Path.Combine(dir, "huge.csv");
        // A sparse file: the size is checked, the content never read.
        using (var stream = File.Create(path)) stream.SetLength(CsvSeriesLoader.MaxFileBytes + 1);
        var e = Fails(Options(path));
        Assert.Null(e.Line);
        Assert.Contains("200 MB limit", e.Message);
    }

    // ---- missing cells ----

    [Theory]
    [InlineData("")]
    [InlineData("NA")]
    [InlineData("na")]
    [InlineData(" N/A ")]
    [InlineData("null")]
    [InlineData("NULL")]
    [InlineData("\"\"")]
    public void Missing_cell_markers_are_recognised(string marker)
    {
        var path = WriteLines("value", "1", marker, "3");
        var s = Load(Options(path) with { Missing = MissingPolicy.Ffill });
        Assert.Equal([1.0, 1, 3], s.Target);
        Assert.Equal(1, s.MissingHandled);
    }

    [Fact]
    public void Ffill_carries_the_last_value_forward_and_a_leading_gap_takes_the_first_value()
    {
        var path = WriteLines("value,f", "NA,1", "2,NA", "NA,3", "NA,4", "5,5");
        var s = Load(Options(path) with { Features = ["f"], Missing = MissingPolicy.Ffill });

        Assert.Equal([2.0, 2, 2, 2, 5], s.Columns[0]);
        Assert.Equal([1.0, 1, 3, 4, 5], s.Columns[1]);
        Assert.Equal(4, s.MissingHandled);
        Assert.Equal(MissingPolicy.Ffill, s.Missing);
    }

    [Fact]
    public void Interpolate_is_linear_between_neighbours_and_takes_the_nearest_value_at_the_edges()
    {
        var path = WriteLines("value", "NA", "2", "NA", "NA", "5", "NA");
        var s = Load(Options(path) with { Missing = MissingPolicy.Interpolate });

        Assert.Equal([2.0, 2, 3, 4, 5, 5], s.Target);
        Assert.Equal(4, s.MissingHandled);
    }

    [Fact]
    public void Drop_removes_rows_missing_a_selected_cell_along_with_their_times()
    {
        var path = WriteLines(
            "date,value,f,unused",
            "2000-01-03,1,10,",
            "2000-01-04,NA,20,x",
            "2000-01-05,3,,x",
            "2000-01-06,4,40,",
            "2000-01-07,5,50,");
        var s = Load(Options(path) with { Features = ["f"], Missing = MissingPolicy.Drop });

        Assert.Equal([1.0, 4, 5], s.Columns[0]);
        Assert.Equal([10.0, 40, 50], s.Columns[1]);
        Assert.Equal(["2000-01-03", "2000-01-06", "2000-01-07"], Labels(s.Time));
        Assert.Equal(2, s.MissingHandled);
    }

    [Fact]
    public void Drop_that_leaves_fewer_than_two_rows_is_rejected()
    {
        var path = WriteLines("value,f", "1,NA", "2,3", "NA,4");
        var e = Fails(Options(path) with { Features = ["f"], Missing = MissingPolicy.Drop });
        Assert.Contains("only 1 data row left after dropping 2", e.Message);
    }

    [Fact]
    public void Error_policy_names_the_file_line_and_column_of_the_first_missing_cell()
    {
        var path = WriteLines("value,f", "1,1", "2,2", "3,NA", "NA,4");
        var e = Fails(Options(path) with { Features = ["f"], Missing = MissingPolicy.Error });
        Assert.Equal(path, e.File);
        Assert.Equal(4, e.Line);
        Assert.Contains("missing value in column 'f'", e.Message);
    }

    [Theory]
    [InlineData("value")]
    [InlineData("f")]
    public void Column_with_every_cell_missing_is_rejected(string emptyColumn)
    {
        var path = emptyColumn == "value"
            ? WriteLines("value,f", "NA,1", ",2", "NA,3")
            : WriteLines("value,f", "1,NA", "2,", "3,NA");
        var e = Fails(Options(path) with { Features = ["f"], Missing = MissingPolicy.Interpolate });
        Assert.Contains($"column '{emptyColumn}' has no values", e.Message);
    }

    // ---- long format ----

    private string LongFile() => WriteLines(
        "symbol,date,price",
        "MSFT,Jan 1 2000,39.81",
        "MSFT,Feb 1 2000,36.35",
        "MSFT,Mar 1 2000,43.22",
        "AMZN,Jan 1 2000,64.56",
        "AMZN,Feb 1 2000,68.87",
        "IBM,Jan 1 2000,100.52",
        "IBM,Feb 1 2000,92.11",
        "IBM,Mar 1 2000,106.11");

    [Fact]
    public void Long_format_keeps_only_the_rows_of_the_chosen_symbol_ignoring_case()
    {
        var s = Load(Options(LongFile(), "price") with { Symbol = "ibm" });

        Assert.Equal([100.52, 92.11, 106.11], s.Target);
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal(["2000-01-01", "2000-02-01", "2000-03-01"], Labels(s.Time));
    }

    [Fact]
    public void Long_format_without_a_symbol_is_rejected_listing_the_symbols()
    {
        var e = Fails(Options(LongFile(), "price"));
        Assert.Contains("file has 3 symbols (AMZN, IBM, MSFT", e.Message);
        Assert.Contains("choose one with --symbol", e.Message);
    }

    [Fact]
    public void Unknown_symbol_is_rejected_listing_the_available_symbols()
    {
        var e = Fails(Options(LongFile(), "price") with { Symbol = "GOOG" });
        Assert.Contains("no rows with symbol 'GOOG'", e.Message);
        Assert.Contains("AMZN, IBM, MSFT", e.Message);
    }

    [Fact]
    public void Symbol_list_in_messages_is_cut_after_twenty()
    {
        var lines = new List<string> { "symbol,value" };
        for (int i = 0; i < 30; i++) lines.Add($"S{i:00},{i}");
        var e = Fails(Options(WriteLines([.. lines])));
        Assert.Contains("file has 30 symbols (S00, S01,", e.Message);
        Assert.Contains("S19, ...", e.Message);
        Assert.DoesNotContain("S20", e.Message);
    }

    [Fact]
    public void Symbol_without_a_symbol_column_is_rejected()
    {
        var path = WriteLines("date,price", "2000-01-03,1", "2000-01-04,2");
        var e = Fails(Options(path, "price") with { Symbol = "MSFT" });
        Assert.Contains("no symbol column 'symbol'", e.Message);
        Assert.Contains("date, price", e.Message);
    }

    [Fact]
    public void Blank_symbol_date_column_and_features_count_as_not_given()
    {
        var path = WriteLines("symbol,date,value", "A,2000-01-03,1", "A,2000-01-04,2");
        var s = Load(Options(path) with { Symbol = " ", DateColumn = "", Features = ["", " "] });
        Assert.Equal(["value"], s.ColumnNames);
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
    }

    [Fact]
    public void Symbol_column_can_be_renamed()
    {
        var path = WriteLines("Ticker,value", "A,1", "B,5", "A,2", "B,6");
        var s = Load(Options(path) with { Symbol = "B", SymbolColumn = "ticker" });
        Assert.Equal([5.0, 6], s.Target);
    }

    [Fact]
    public void File_with_a_single_symbol_loads_without_naming_it()
    {
        var path = WriteLines("symbol,value", "A,1", "A,2", "A,4");
        Assert.Equal([1.0, 2, 4], Load(Options(path)).Target);
    }

    [Fact]
    public void Symbol_with_a_single_row_is_rejected()
    {
        var path = WriteLines("symbol,value", "A,1", "B,2", "B,3");
        var e = Fails(Options(path) with { Symbol = "A" });
        Assert.Contains("only 1 row for symbol 'A'", e.Message);
    }

    [Fact]
    public void Timestamps_are_checked_within_the_chosen_symbol_only()
    {
        var path = WriteLines("symbol,date,value", "A,2000-01-03,1", "B,2000-01-03,9", "A,2000-01-04,2", "A,2000-01-04,3");
        var e = Fails(Options(path) with { Symbol = "A" });
        Assert.Equal(5, e.Line);
        Assert.Contains("line 4", e.Message);
    }

    // ---- a larger file ----

    [Fact]
    public void Large_file_loads_every_row()
    {
        const int rows = 200_000;
        var text = new StringBuilder("time,value,f\n");
        for (int i = 0; i < rows; i++)
        {
            text.Append(i).Append(',').Append(i % 7 == 3 ? "NA" : (i * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(',').Append(i % 11).Append('\n');
        }
        var s = Load(Options(Write(text.ToString())) with { Features = ["f"], Missing = MissingPolicy.Interpolate });

        Assert.Equal(rows, s.Length);
        Assert.Equal(rows / 7 + (rows % 7 > 3 ? 1 : 0), s.MissingHandled);
        // Interpolating a straight line gives the line back.
        Assert.Equal(3 * 0.5, s.Target[3]);
        Assert.Equal((rows - 1) * 0.5, s.Target[^1]);
        Assert.Equal(TimeAxisKind.Number, s.Time.Kind);
    }

    // ---- shipped samples ----

    [Fact]
    public void Msft_sample_loads_as_daily_prices()
    {
        var s = Load(new CsvSeriesOptions
        {
            Path = RepoPaths.Sample("MSFT.csv"),
            Target = "Close",
            Features = ["Open", "High", "Low", "Volume"],
        });

        Assert.Equal(249, s.Length);
        Assert.Equal(["Close", "Open", "High", "Low", "Volume"], s.ColumnNames);
        Assert.Equal(TimeAxisKind.Date, s.Time.Kind);
        Assert.Equal("2000-09-27", s.Time.Label(0));
        Assert.Equal("2001-09-27", s.Time.Label(248));
        Assert.Equal(60.625, s.Target[0]);
        Assert.Equal(49.96, s.Target[^1]);
        Assert.Equal(53077800, s.Columns[4][0]);
        Assert.Equal(0, s.MissingHandled);
    }

    [Fact]
    public void Air_passengers_sample_loads_as_monthly_decimal_years()
    {
        var s = Load(new CsvSeriesOptions { Path = RepoPaths.Sample("AirPassengers.csv"), Target = "value" });

        Assert.Equal(144, s.Length);
        Assert.Equal(TimeAxisKind.Number, s.Time.Kind);
        Assert.Equal("1949", s.Time.Label(0));
        Assert.Equal("1960.916667", s.Time.Label(143));
        Assert.Equal("1961", s.Time.FutureLabel(1));
        Assert.Equal(112, s.Target[0]);
        Assert.Equal(432, s.Target[^1]);
        Assert.Equal(622, s.Target.Max());
    }
}
