namespace LstmCluster.Core.Data;

/// <summary>How missing cells (empty, NA, N/A, null) are handled when a series is loaded.</summary>
public enum MissingPolicy
{
    /// <summary>Carry the last observed value forward (a leading gap takes the first observed value).</summary>
    Ffill,
    /// <summary>Linear interpolation between the neighbours (edges take the nearest observed value).</summary>
    Interpolate,
    /// <summary>Drop every row that has a missing cell in a selected column.</summary>
    Drop,
    /// <summary>Reject the file, naming the first missing cell.</summary>
    Error,
}

/// <summary>What to do with rows that share a timestamp.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<DuplicatePolicy>))]
public enum DuplicatePolicy
{
    /// <summary>Reject the file, naming both lines.</summary>
    Error,
    /// <summary>Keep the row that comes last in the file (a later correction wins).</summary>
    KeepLast,
    /// <summary>One row with the mean of each column over the duplicates (missing cells left out).</summary>
    Mean,
}

/// <summary>What to read from a CSV file.</summary>
public sealed record CsvSeriesOptions
{
    public required string Path { get; init; }
    /// <summary>Target column (the value forecast).</summary>
    public required string Target { get; init; }
    /// <summary>Extra input columns; the target is always the first input and need not be listed.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];
    /// <summary>Long format: keep only rows whose <see cref="SymbolColumn"/> equals this.</summary>
    public string? Symbol { get; init; }
    public string SymbolColumn { get; init; } = "symbol";
    /// <summary>Date/time column; null auto-detects a column named date, time, timestamp or datetime (any case).</summary>
    public string? DateColumn { get; init; }
    public MissingPolicy Missing { get; init; } = MissingPolicy.Ffill;
    /// <summary>
    /// How the time column's dates are written, as a .NET format (<c>dd/MM/yyyy</c>, <c>MM/dd/yyyy HH:mm</c>); null detects it
    /// from every value and refuses a column that reads both day-first and month-first.
    /// </summary>
    public string? DateFormat { get; init; }
    /// <summary>Rows with the same timestamp: an error (the default), or resolved. Needs a time column.</summary>
    public DuplicatePolicy OnDuplicate { get; init; } = DuplicatePolicy.Error;
    /// <summary>Sort the rows by time (stable) instead of refusing rows out of order. Needs a time column.</summary>
    public bool Sort { get; init; }
}

/// <summary>
/// A loaded, validated series: finite values, chronological, at least two distinct target values.
/// <see cref="Columns"/>[0] is the target, then the features in the order asked for.
/// </summary>
public sealed record TimeSeries
{
    public required string Source { get; init; }
    public required IReadOnlyList<string> ColumnNames { get; init; }
    public required double[][] Columns { get; init; }
    public required TimeAxis Time { get; init; }
    /// <summary>Missing cells filled (ffill/interpolate) or rows dropped (drop), for the report.</summary>
    public int MissingHandled { get; init; }
    public MissingPolicy Missing { get; init; }
    /// <summary>The format the dates were read with when it was given or had to be decided (day-first or month-first); null for ISO and other unambiguous dates.</summary>
    public string? DateFormat { get; init; }
    /// <summary>Rows that <see cref="CsvSeriesOptions.Sort"/> moved, for the report.</summary>
    public int RowsReordered { get; init; }
    /// <summary>Rows that <see cref="CsvSeriesOptions.OnDuplicate"/> merged away (dropped, or folded into a mean), for the report.</summary>
    public int DuplicatesResolved { get; init; }
    public DuplicatePolicy OnDuplicate { get; init; }

    public int Length => Columns[0].Length;
    public string TargetName => ColumnNames[0];
    public double[] Target => Columns[0];
}
