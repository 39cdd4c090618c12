using System.Globalization;
using System.Text;
using CsvHelper;

namespace LstmCluster.Core.Data;

/// <summary>
/// Reads one series from a comma-separated file with a header row: a target column, optional
/// feature columns, an optional time column, and in long format the rows of one symbol.
/// Every problem with the file is a <see cref="DataException"/> naming the file and, where one
/// line is to blame, that line (the header is line 1; lines inside quoted fields and blank lines
/// count, so the number is the one an editor shows).
/// </summary>
/// <remarks>
/// The file is streamed once and each kept row costs O(columns), so large files load in linear
/// time; only the parsed doubles of the selected columns are held in memory. Missing timestamps
/// are always an error, whatever <see cref="CsvSeriesOptions.Missing"/> says: filling a time would
/// invent an observation time, and dropping it would hide a broken export.
/// </remarks>
public static class CsvSeriesLoader
{
    /// <summary>Larger files are refused before reading: the whole series is held in memory and trained on.</summary>
    public const long MaxFileBytes = 200L * 1024 * 1024;

    /// <summary>Header names that are taken as the time column when none is named.</summary>
    public static IReadOnlyList<string> TimeColumnNames { get; } = ["date", "time", "timestamp", "datetime"];

    // Enough to recognise a choice in an error message without flooding the terminal.
    private const int MaxListedSymbols = 20;
    private const int MaxListedColumns = 30;

    // How much of the file's start is checked to be text before it is parsed as CSV.
    private const int TextCheckBytes = 64 * 1024;

    public static TimeSeries Load(CsvSeriesOptions options) => Load(options, text: null);

    /// <summary>
    /// Reads a series from CSV <paramref name="text"/> held in memory (a request's body) by the same rules as a file;
    /// <see cref="CsvSeriesOptions.Path"/> only names it in messages (e.g. "request body").
    /// </summary>
    public static TimeSeries LoadText(CsvSeriesOptions options, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string name = options.Path;
        if (text.Length == 0) throw new DataException(name, null, "is empty");
        if (text.Length > MaxFileBytes) throw new DataException(name, null, $"is over the {MaxFileBytes / (1024 * 1024)} MB limit");
        if (text.Contains('\0')) throw new DataException(name, null, "is not CSV text (it holds NUL characters)");
        return Load(options, text);
    }

    private static TimeSeries Load(CsvSeriesOptions options, string? text)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Blank text from a command line or config means "not given".
        options = options with
        {
            Symbol = string.IsNullOrWhiteSpace(options.Symbol) ? null : options.Symbol.Trim(),
            DateColumn = string.IsNullOrWhiteSpace(options.DateColumn) ? null : options.DateColumn,
            DateFormat = string.IsNullOrWhiteSpace(options.DateFormat) ? null : options.DateFormat.Trim(),
            Features = [.. options.Features.Where(f => !string.IsNullOrWhiteSpace(f))],
        };
        string file = options.Path;
        // "all" or a list is a job over several series: each of its members loads one symbol.
        if (SeriesSelection.IsMany(options.Symbol))
            throw new DataException(file, null, $"--symbol {options.Symbol} names several series: one series is loaded at a time here (train several with `train --symbol ...`)");
        if (text is null) CheckFile(file);
        if (options.DateFormat is { } format && DateReading.Problem(format) is { } problem) throw new DataException(file, null, problem);

        CsvMalformedRecord? malformed = null;
        var readerOptions = new CsvReaderOptions
        {
            // Only commas: auto-detection could pick ';' for a file whose decimals are commas,
            // and those numbers would not parse in the invariant culture anyway.
            Separator = ',',
            HasHeader = true,
            TrackLineNumbers = true,
            AllowLineBreaksInQuotes = true,
            // Blank lines are handled below: in a one-column file they are missing values.
            SkipEmptyLines = false,
            DetectSeparatorHint = false,
            FormatProvider = CultureInfo.InvariantCulture,
            // Skip + callback rather than Throw: the callback gives the reason and line as data,
            // so the message can be ours instead of the library's wording.
            MalformedData = CsvMalformedDataHandling.Skip,
            OnMalformedRecord = record => malformed ??= record,
        };

        Table table;
        try
        {
            using var reader = text is null ? CsvReader.FromFile(file, readerOptions) : CsvReader.FromText(text, readerOptions);
            table = Read(reader, options, () => malformed);
        }
        catch (CsvFormatException e)
        {
            // The library's message may quote the record: only its first line, bounded.
            string reason = e.Message.Split('\n')[0].Trim();
            if (reason.Length > 120) reason = reason[..120] + "...";
            throw new DataException(file, e.LineNumber > 0 ? (int)e.LineNumber : null, $"cannot read the file as CSV: {reason}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException(file, null, $"cannot read the file: {e.Message}");
        }

        return Finish(table, options);
    }

    /// <summary>
    /// The symbols of a long-format file in the order they first appear, each with its row count (rows whose symbol cell
    /// is blank are not counted). The file is checked as <see cref="Load(CsvSeriesOptions)"/> checks it; a file without the
    /// symbol column <see cref="CsvSeriesOptions.SymbolColumn"/> is refused naming its columns.
    /// </summary>
    public static IReadOnlyList<SymbolRows> Symbols(CsvSeriesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string file = options.Path;
        CheckFile(file);
        var readerOptions = new CsvReaderOptions
        {
            Separator = ',',
            HasHeader = true,
            TrackLineNumbers = true,
            AllowLineBreaksInQuotes = true,
            SkipEmptyLines = true,
            DetectSeparatorHint = false,
            FormatProvider = CultureInfo.InvariantCulture,
            MalformedData = CsvMalformedDataHandling.Skip,
        };
        var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var order = new List<string>();
        try
        {
            using var reader = CsvReader.FromFile(file, readerOptions);
            var header = reader.Headers.Select(h => h.Trim()).ToArray();
            int column = Find(header, options.SymbolColumn, file);
            if (column < 0)
                throw new DataException(file, null, $"no symbol column '{options.SymbolColumn}' (needed for several symbols); columns are: {ListColumns(header)}");
            while (reader.Read())
            {
                if (reader.FieldCount <= column) continue;
                string symbol = reader.GetString(column).Trim();
                if (symbol.Length == 0) continue;
                if (counts.TryGetValue(symbol, out int n)) counts[symbol] = n + 1;
                else
                {
                    counts[symbol] = 1;
                    order.Add(symbol);
                }
            }
        }
        catch (CsvFormatException e)
        {
            throw new DataException(file, e.LineNumber > 0 ? (int)e.LineNumber : null, $"cannot read the file as CSV: {e.Message.Split('\n')[0].Trim()}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException(file, null, $"cannot read the file: {e.Message}");
        }
        if (order.Count == 0) throw new DataException(file, null, $"no symbols in column '{options.SymbolColumn}'");
        return [.. order.Select(s => new SymbolRows(s, counts[s]))];
    }

    private static void CheckFile(string file)
    {
        if (string.IsNullOrWhiteSpace(file)) throw new DataException("(none)", null, "no input file given");
        if (Directory.Exists(file)) throw new DataException(file, null, "is a directory, not a CSV file");
        var info = new FileInfo(file);
        if (!info.Exists) throw new DataException(file, null, "file not found");
        if (info.Length == 0) throw new DataException(file, null, "file is empty");
        if (info.Length > MaxFileBytes)
        {
            throw new DataException(file, null, string.Create(CultureInfo.InvariantCulture,
                $"file is {info.Length / (1024.0 * 1024.0):0.#} MB, over the {MaxFileBytes / (1024 * 1024)} MB limit: keep only the rows and columns you need"));
        }
        CheckText(file);
    }

    /// <summary>
    /// Refuses a binary file (compressed, a spreadsheet, ...) before it is parsed: parsed as CSV its bytes would
    /// come back as a garbage header or a quoting error. The start of the file must be UTF-8 text without NUL bytes.
    /// </summary>
    private static void CheckText(string file)
    {
        var buffer = new byte[TextCheckBytes];
        int read;
        try
        {
            using var stream = File.OpenRead(file);
            read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException(file, null, $"cannot read the file: {e.Message}");
        }
        var start = buffer.AsSpan(0, read);
        string? kind = start switch
        {
            [0x1f, 0x8b, ..] => "gzip-compressed data",
            [(byte)'P', (byte)'K', 3, 4, ..] => "a zip archive (an .xlsx spreadsheet is one)",
            [0xd0, 0xcf, 0x11, 0xe0, ..] => "an old Office document (.xls)",
            [(byte)'B', (byte)'Z', (byte)'h', ..] => "bzip2-compressed data",
            [0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', ..] => "xz-compressed data",
            [0xff, 0xfe, ..] or [0xfe, 0xff, ..] => "UTF-16 text",
            _ => null,
        };
        if (kind is null && start.Contains((byte)0)) kind = "binary data (NUL bytes)";
        // A multi-byte character cut by the end of the sample is not an error.
        if (kind is null && System.Text.Unicode.Utf8.ToUtf16(start, new char[read], out int consumed, out _, replaceInvalidSequences: false,
                isFinalBlock: read < buffer.Length) != System.Buffers.OperationStatus.Done && !(read == buffer.Length && read - consumed < 4))
            kind = "not valid UTF-8";
        if (kind is not null) throw new DataException(file, null, $"not a UTF-8 text CSV file ({kind})");
    }

    /// <summary>Where the wanted columns are in the header.</summary>
    private sealed record Layout(string[] Names, int[] Values, int Time, string? TimeName, int Symbol, string? SymbolName);

    /// <summary>The kept rows, before missing cells are handled.</summary>
    private sealed record Table(string File, Layout Layout, List<double>[] Values, int[] Missing, TimeColumn? Time, int Rows);

    private static Table Read(CsvReader reader, CsvSeriesOptions options, Func<CsvMalformedRecord?> malformed)
    {
        string file = options.Path;
        var header = reader.Headers.Select(h => h.Trim()).ToArray();
        ThrowIfMalformed(file, malformed(), 2);
        if (header.All(h => h.Length == 0))
        {
            while (reader.Read())
            {
                if (!IsBlank(reader.RawRecord)) throw new DataException(file, 1, "no header row: the first line is blank");
            }
            throw new DataException(file, null, "file is empty");
        }
        if (LooksLikeData(header))
        {
            throw new DataException(file, 1,
                $"no header row: first line looks like data ({Preview(header)}); add a line of column names");
        }

        var layout = Resolve(header, options);
        if (options.DateFormat is { } dateFormat && layout.Time < 0)
        {
            throw new DataException(file, null,
                $"--date-format {dateFormat} is given but the file has no time column (columns are: {ListColumns(header)}); name it with --date-column");
        }
        if (layout.Time < 0 && (options.Sort || options.OnDuplicate != DuplicatePolicy.Error))
        {
            string flag = options.OnDuplicate != DuplicatePolicy.Error ? $"--on-duplicate {PolicyName(options.OnDuplicate)}" : "--sort";
            throw new DataException(file, null,
                $"{flag} needs a time column to order the rows by, but the file has none (columns are: {ListColumns(header)}); name it with --date-column");
        }
        int width = header.Length;
        var values = layout.Values.Select(_ => new List<double>()).ToArray();
        var missing = new int[layout.Values.Length];
        var time = layout.Time >= 0 ? new TimeColumn(file, layout.TimeName!, options.DateFormat, Tolerant(options)) : null;
        var symbols = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        bool severalSymbols = false;
        int dataRows = 0, rows = 0;
        var blankLines = new List<int>();

        while (reader.Read())
        {
            int line = (int)reader.LineNumber;
            ThrowIfMalformed(file, malformed(), line);
            if (IsBlank(reader.RawRecord))
            {
                // A blank line is no row in a file of several columns, but in a one-column file
                // it is how pandas and others write a missing value: keep it until a later row
                // shows it is not just trailing space at the end of the file.
                if (width == 1 && layout.Symbol < 0) blankLines.Add(line);
                continue;
            }
            foreach (int blankLine in blankLines)
            {
                if (options.Missing == MissingPolicy.Error) throw MissingValue(file, blankLine, layout.Names[0]);
                values[0].Add(double.NaN);
                missing[0]++;
                time?.Add("", blankLine);
                dataRows++;
                rows++;
            }
            blankLines.Clear();
            dataRows++;
            if (reader.FieldCount != width)
            {
                throw new DataException(file, line,
                    $"row has {reader.FieldCount} field{(reader.FieldCount == 1 ? "" : "s")} but the header has {width}");
            }

            if (layout.Symbol >= 0)
            {
                string symbol = reader.GetString(layout.Symbol).Trim();
                if (symbol.Length > 0) symbols.Add(symbol);
                if (options.Symbol is { } wanted)
                {
                    if (!symbol.Equals(wanted, StringComparison.OrdinalIgnoreCase)) continue;
                }
                else if (severalSymbols || symbols.Count > 1)
                {
                    // The file is going to be refused; keep reading only to count the symbols.
                    severalSymbols = true;
                    continue;
                }
            }

            for (int k = 0; k < layout.Values.Length; k++)
            {
                double v = ParseValue(reader.GetSpan(layout.Values[k]), file, line, layout.Names[k]);
                if (double.IsNaN(v))
                {
                    if (options.Missing == MissingPolicy.Error) throw MissingValue(file, line, layout.Names[k]);
                    missing[k]++;
                }
                values[k].Add(v);
            }
            time?.Add(reader.GetString(layout.Time), line);
            rows++;
        }
        ThrowIfMalformed(file, malformed(), int.MaxValue);

        if (dataRows == 0) throw new DataException(file, null, "no data rows: the file has only a header");
        if (options.Symbol is { } symbolWanted && rows == 0)
        {
            throw new DataException(file, null,
                $"no rows with symbol '{symbolWanted}' in column '{layout.SymbolName}'; symbols are: {ListSymbols(symbols)}");
        }
        if (severalSymbols)
        {
            throw new DataException(file, null,
                $"file has {symbols.Count} symbols ({ListSymbols(symbols)}) in column '{layout.SymbolName}': choose one with --symbol");
        }
        return new Table(file, layout, values, missing, time, rows);
    }

    private static TimeSeries Finish(Table table, CsvSeriesOptions options)
    {
        string file = table.File;
        var names = table.Layout.Names;
        string Rows(int n) => options.Symbol is { } symbol
            ? $"{n} row{(n == 1 ? "" : "s")} for symbol '{symbol}'"
            : $"{n} data row{(n == 1 ? "" : "s")}";
        if (table.Rows < 2)
        {
            throw new DataException(file, null, $"only {Rows(table.Rows)}: a series needs at least 2");
        }
        for (int k = 0; k < names.Length; k++)
        {
            if (table.Missing[k] == table.Rows)
            {
                throw new DataException(file, null, $"column '{names[k]}' has no values: every cell is missing");
            }
        }

        var columns = table.Values.Select(v => v.ToArray()).ToArray();
        var time = table.Time?.ToAxis() ?? TimeAxis.None(table.Rows);
        int reordered = 0, merged = 0;
        if (table.Time is { } timeColumn && Tolerant(options))
            (columns, time, reordered, merged) = Order(file, columns, time, timeColumn.Lines, options);
        int handled = 0;
        switch (options.Missing)
        {
            case MissingPolicy.Ffill:
                foreach (var column in columns) handled += ForwardFill(column);
                break;
            case MissingPolicy.Interpolate:
                foreach (var column in columns) handled += Interpolate(column);
                break;
            case MissingPolicy.Drop:
                var kept = Enumerable.Range(0, table.Rows).Where(r => columns.All(c => !double.IsNaN(c[r]))).ToArray();
                handled = table.Rows - kept.Length;
                if (handled > 0)
                {
                    columns = columns.Select(c => kept.Select(r => c[r]).ToArray()).ToArray();
                    time = time.Select(kept);
                }
                if (kept.Length < 2)
                {
                    throw new DataException(file, null,
                        $"only {Rows(kept.Length)} left after dropping {handled} with missing values: a series needs at least 2");
                }
                break;
        }

        var target = columns[0];
        double first = target[0];
        if (target.All(v => v == first))
        {
            throw new DataException(file, null,
                $"target column '{names[0]}' is constant (value {first.ToString(CultureInfo.InvariantCulture)}): nothing to forecast");
        }

        return new TimeSeries
        {
            Source = file,
            ColumnNames = names,
            Columns = columns,
            Time = time,
            MissingHandled = handled,
            Missing = options.Missing,
            RowsReordered = reordered,
            DuplicatesResolved = merged,
            OnDuplicate = options.OnDuplicate,
            DateFormat = table.Time?.DateFormat,
        };
    }

    /// <summary>Whether rows out of order or sharing a time are dealt with after reading rather than refused as they stream.</summary>
    private static bool Tolerant(CsvSeriesOptions options) => options.Sort || options.OnDuplicate != DuplicatePolicy.Error;

    public static string PolicyName(DuplicatePolicy policy) => policy switch
    {
        DuplicatePolicy.KeepLast => "keep-last",
        DuplicatePolicy.Mean => "mean",
        _ => "error",
    };

    /// <summary>
    /// <c>--sort</c> and <c>--on-duplicate</c>: sorts the rows by time (stable, so duplicates keep their file order) when asked,
    /// else refuses the first row out of order; then resolves each run of rows with one time as asked, else refuses the
    /// first. Returns the rows moved by the sort and the rows merged away.
    /// </summary>
    private static (double[][] Columns, TimeAxis Time, int Reordered, int Merged) Order(string file, double[][] columns, TimeAxis time,
        IReadOnlyList<int> lines, CsvSeriesOptions options)
    {
        int n = time.Length;
        var key = Enumerable.Range(0, n).Select(time.Position).ToArray();
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = 1; i < n && !options.Sort; i++)
        {
            if (key[i] < key[i - 1])
                throw new DataException(file, lines[i],
                    $"timestamp {DataException.Quote(time.Label(i))} is earlier than {DataException.Quote(time.Label(i - 1))} on line {lines[i - 1]}: " +
                    "rows must be in chronological order (--sort sorts them)");
        }
        if (options.Sort) order = [.. order.OrderBy(i => key[i])];
        int reordered = order.Where((row, position) => row != position).Count();

        var groups = new List<List<int>>();
        foreach (int row in order)
        {
            if (groups.Count > 0 && key[groups[^1][0]] == key[row]) groups[^1].Add(row);
            else groups.Add([row]);
        }
        if (options.OnDuplicate == DuplicatePolicy.Error && groups.FirstOrDefault(g => g.Count > 1) is { } duplicate)
        {
            throw new DataException(file, lines[duplicate[1]],
                $"duplicate timestamp {DataException.Quote(time.Label(duplicate[1]))}: line {lines[duplicate[1]]} has the same time as line {lines[duplicate[0]]} " +
                "(--on-duplicate keep-last or mean resolves duplicates)");
        }
        int merged = n - groups.Count;
        if (merged == 0 && reordered == 0) return (columns, time, 0, 0);
        var result = columns.Select(column => groups.Select(g => options.OnDuplicate == DuplicatePolicy.Mean ? Mean(column, g) : column[g[^1]]).ToArray()).ToArray();
        return (result, time.Select([.. groups.Select(g => g[^1])]), reordered, merged);
    }

    private static double Mean(double[] column, List<int> rows)
    {
        var present = rows.Select(r => column[r]).Where(v => !double.IsNaN(v)).ToArray();
        return present.Length == 0 ? double.NaN : present.Average();
    }

    private static DataException MissingValue(string file, int line, string column) =>
        new(file, line, $"missing value in column '{column}' (the missing-value policy is 'error')");

    private static bool IsBlank(ReadOnlySpan<byte> rawRecord) => rawRecord[Ascii.Trim(rawRecord)].IsEmpty;

    private static void ThrowIfMalformed(string file, CsvMalformedRecord? record, int currentLine)
    {
        // The reader may find a bad record while scanning ahead: report it only once the rows
        // before it have been checked, so the first problem in the file is the one reported.
        if (record is not { } r || r.LineNumber >= currentLine) return;
        string problem = r.Reason switch
        {
            CsvMalformedReason.StrayQuote => "a quote inside an unquoted field",
            CsvMalformedReason.TextAfterClosingQuote => "text after the closing quote of a quoted field",
            CsvMalformedReason.UnterminatedQuote => "a quoted field that is never closed",
            _ => $"malformed record ({r.Reason})",
        };
        throw new DataException(file, r.LineNumber > 0 ? (int)r.LineNumber : null, $"bad CSV quoting: {problem}");
    }

    private static Layout Resolve(string[] header, CsvSeriesOptions options)
    {
        string file = options.Path;
        if (string.IsNullOrWhiteSpace(options.Target)) throw new DataException(file, null, "no target column given");

        int target = Require(header, options.Target, "target", file);
        var valueColumns = new List<int> { target };
        foreach (var feature in options.Features)
        {
            int index = Require(header, feature, "feature", file);
            // The target is always the first input, and a column asked for twice is one input.
            if (!valueColumns.Contains(index)) valueColumns.Add(index);
        }

        int time;
        if (options.DateColumn is { } named)
        {
            time = Require(header, named, "date", file);
        }
        else
        {
            // A column asked for as a value is not also taken as the time.
            time = Enumerable.Range(0, header.Length)
                .Where(i => !valueColumns.Contains(i) && TimeColumnNames.Contains(header[i], StringComparer.OrdinalIgnoreCase))
                .DefaultIfEmpty(-1).First();
        }

        int symbol = Find(header, options.SymbolColumn, file);
        if (options.Symbol is { } wanted && symbol < 0)
        {
            throw new DataException(file, null,
                $"no symbol column '{options.SymbolColumn}' (needed to pick symbol '{wanted}'); columns are: {ListColumns(header)}");
        }

        return new Layout(
            [.. valueColumns.Select(i => header[i])], [.. valueColumns],
            time, time >= 0 ? header[time] : null,
            symbol, symbol >= 0 ? header[symbol] : null);
    }

    private static int Require(string[] header, string name, string role, string file)
    {
        int index = Find(header, name, file);
        if (index >= 0) return index;
        string hint = header.Length == 1 && (header[0].Contains(';') || header[0].Contains('\t'))
            ? " (the header is one column: only comma-separated files are read)"
            : "";
        throw new DataException(file, null, $"no {role} column '{name}'; columns are: {ListColumns(header)}{hint}");
    }

    /// <summary>Exact name first, then ignoring case; -1 when absent; an ambiguous name is an error.</summary>
    private static int Find(string[] header, string name, string file)
    {
        name = name.Trim();
        var exact = Enumerable.Range(0, header.Length).Where(i => header[i] == name).ToArray();
        if (exact.Length == 1) return exact[0];
        if (exact.Length > 1)
        {
            throw new DataException(file, 1,
                $"column '{name}' appears {exact.Length} times in the header (columns {string.Join(", ", exact.Select(i => i + 1))})");
        }
        var loose = Enumerable.Range(0, header.Length)
            .Where(i => string.Equals(header[i], name, StringComparison.OrdinalIgnoreCase)).ToArray();
        if (loose.Length == 1) return loose[0];
        if (loose.Length > 1)
        {
            throw new DataException(file, 1,
                $"column '{name}' matches {string.Join(", ", loose.Select(i => $"'{header[i]}'"))} ignoring case: give the exact name");
        }
        return -1;
    }

    private static bool LooksLikeData(string[] header)
    {
        bool anyNumber = false;
        foreach (var cell in header)
        {
            if (cell.Length == 0) continue;
            if (TryParseNumber(cell, out _)) anyNumber = true;
            else if (!DateTime.TryParseExact(cell, DateReading.IsoFormats, CultureInfo.InvariantCulture, DateReading.Styles, out _)) return false;
        }
        return anyNumber;
    }

    private static bool IsMissing(ReadOnlySpan<byte> cell) =>
        cell.IsEmpty
        || Ascii.EqualsIgnoreCase(cell, "NA"u8)
        || Ascii.EqualsIgnoreCase(cell, "N/A"u8)
        || Ascii.EqualsIgnoreCase(cell, "NULL"u8);

    private static bool IsMissing(string cell) =>
        cell.Length == 0
        || cell.Equals("NA", StringComparison.OrdinalIgnoreCase)
        || cell.Equals("N/A", StringComparison.OrdinalIgnoreCase)
        || cell.Equals("NULL", StringComparison.OrdinalIgnoreCase);

    // Words that mean a non-finite number but that double.TryParse does not know.
    private static bool IsNonFiniteWord(ReadOnlySpan<byte> cell) =>
        Ascii.EqualsIgnoreCase(cell, "inf"u8) || Ascii.EqualsIgnoreCase(cell, "+inf"u8) || Ascii.EqualsIgnoreCase(cell, "-inf"u8)
        || Ascii.EqualsIgnoreCase(cell, "+nan"u8) || Ascii.EqualsIgnoreCase(cell, "-nan"u8);

    /// <summary>The value of a cell, or NaN for a missing cell (a real NaN in the file is rejected, so NaN is free to mean missing).</summary>
    private static double ParseValue(ReadOnlySpan<byte> raw, string file, int line, string column)
    {
        var cell = raw[Ascii.Trim(raw)];
        if (IsMissing(cell)) return double.NaN;
        bool parsed = double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value);
        if (parsed && double.IsFinite(value)) return value;
        string quoted = Quote(cell);
        if (parsed || IsNonFiniteWord(cell))
        {
            throw new DataException(file, line,
                $"non-finite value {quoted} in column '{column}': NaN and infinities are not allowed (leave the cell empty or NA if it is missing)");
        }
        throw new DataException(file, line, $"{quoted} in column '{column}' is not a number");
    }

    /// <summary>A cell as <see cref="DataException.Quote(string)"/> quotes it, decoding only as much of a long cell as is shown.</summary>
    private static string Quote(ReadOnlySpan<byte> cell)
    {
        // Four bytes per character at most: this prefix holds every character an excerpt shows.
        int prefix = 4 * DataException.ExcerptLength + 4;
        if (cell.Length <= prefix) return DataException.Quote(Encoding.UTF8.GetString(cell));
        string start = Encoding.UTF8.GetString(cell[..prefix]);
        string quoted = DataException.Quote(start[..DataException.ExcerptLength]);
        return string.Create(CultureInfo.InvariantCulture, $"{quoted[..^1]}...' ({cell.Length:N0} bytes)");
    }

    private static bool TryParseNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static int ForwardFill(double[] column)
    {
        int firstObserved = Array.FindIndex(column, v => !double.IsNaN(v));
        int filled = 0;
        double last = column[firstObserved];
        for (int i = 0; i < column.Length; i++)
        {
            if (double.IsNaN(column[i]))
            {
                column[i] = last;
                filled++;
            }
            else
            {
                last = column[i];
            }
        }
        return filled;
    }

    private static int Interpolate(double[] column)
    {
        int filled = 0;
        int previous = -1;
        for (int i = 0; i <= column.Length; i++)
        {
            if (i < column.Length && double.IsNaN(column[i])) continue;
            // Cells previous+1 .. i-1 are a gap between two observations (or an edge).
            for (int j = previous + 1; j < i; j++)
            {
                column[j] = previous < 0 ? column[i]
                    : i == column.Length ? column[previous]
                    : column[previous] + (column[i] - column[previous]) * (j - previous) / (i - previous);
                filled++;
            }
            previous = i;
        }
        return filled;
    }

    private static string ListColumns(string[] header)
    {
        var shown = header.Take(MaxListedColumns).Select(h => h.Length == 0 ? "\"\"" : Name(h));
        string more = header.Length > MaxListedColumns ? $", ... ({header.Length - MaxListedColumns} more)" : "";
        return string.Join(", ", shown) + more;
    }

    private static string ListSymbols(HashSet<string> symbols)
    {
        var sorted = symbols.Order(StringComparer.OrdinalIgnoreCase).ToList();
        string more = sorted.Count > MaxListedSymbols ? ", ..." : "";
        return sorted.Count == 0 ? "none" : string.Join(", ", sorted.Take(MaxListedSymbols).Select(Name)) + more;
    }

    private static string Preview(string[] cells) =>
        string.Join(",", cells.Take(6).Select(Name)) + (cells.Length > 6 ? ",..." : "");

    /// <summary>A header name or symbol as a list shows it: unquoted, but bounded like any cell.</summary>
    private static string Name(string text) => text.Length <= DataException.ExcerptLength && !text.Any(char.IsControl)
        ? text
        : DataException.Quote(text);

    /// <summary>
    /// The time column, parsed as it streams: numbers if the first value is a number (and no date format is
    /// given), dates otherwise, and checked to be strictly increasing. Dates are read by every candidate
    /// <see cref="DateReading"/> at once and the one that fits every value is kept.
    /// </summary>
    private sealed class TimeColumn(string file, string name, string? dateFormat, bool tolerant)
    {
        private readonly List<double> numbers = [];

        /// <summary>Each row's line in the file, for messages about rows out of order or sharing a time.</summary>
        public List<int> Lines { get; } = [];
        private DateReading[]? readings;
        private bool? numeric;
        private int previousLine;
        private string previousText = "";

        /// <summary>The format the dates were read with when it had to be decided (day-first or month-first, or as given); null otherwise.</summary>
        public string? DateFormat { get; private set; }

        public void Add(string raw, int line)
        {
            string text = raw.Trim();
            if (IsMissing(text)) throw new DataException(file, line, $"missing timestamp in column '{name}'");
            Lines.Add(line);

            // A column is numeric (e.g. R's decimal years) only if every value is a number; a
            // number does not parse as a date, so a column of both fails at the first odd one.
            numeric ??= dateFormat is null && TryParseNumber(text, out _);
            if (!numeric.Value)
            {
                AddDate(text, line);
                return;
            }
            if (!TryParseNumber(text, out double x))
            {
                throw new DataException(file, line,
                    $"{DataException.Quote(text)} in time column '{name}' is not a number, but the first row's time is (mixed numbers and dates?)");
            }
            int order = numbers.Count == 0 || tolerant ? 1 : x.CompareTo(numbers[^1]);
            numbers.Add(x);
            if (order == 0)
            {
                throw new DataException(file, line,
                    $"duplicate timestamp {DataException.Quote(text)}: line {line} has the same time as line {previousLine} (--on-duplicate keep-last or mean resolves duplicates)");
            }
            if (order < 0)
            {
                throw new DataException(file, line,
                    $"timestamp {DataException.Quote(text)} is earlier than {DataException.Quote(previousText)} on line {previousLine}: rows must be in chronological order (--sort sorts them)");
            }
            previousLine = line;
            previousText = text;
        }

        private void AddDate(string text, int line)
        {
            readings ??= DateReading.For(dateFormat, file, name);
            DateReading? last = null;
            int viable = 0;
            foreach (var reading in readings)
            {
                reading.Add(text, line);
                if (reading.Viable)
                {
                    viable++;
                    last = reading;
                }
            }
            if (viable == 0) throw DateReading.Unreadable(readings, text, line, file, name, dateFormat);
            // Once one reading is left its first disorder is the file's first problem: report it at once.
            if (viable == 1 && !tolerant && last!.Disorder is { } disorder) throw disorder;
        }

        public TimeAxis ToAxis()
        {
            if (numeric == true || readings is null) return TimeAxis.FromNumbers(numbers);
            var chosen = DateReading.Choose(readings, file, name);
            if (!tolerant && chosen.Disorder is { } disorder) throw disorder;
            DateFormat = dateFormat ?? (chosen == readings[0] ? null : chosen.Format);
            return TimeAxis.FromDates(chosen.Dates);
        }
    }
}
