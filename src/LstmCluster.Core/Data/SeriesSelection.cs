using System.Text.Json.Serialization;

namespace LstmCluster.Core.Data;

/// <summary>A symbol of a long-format file and how many rows it has.</summary>
public readonly record struct SymbolRows(string Symbol, int Rows);

/// <summary>How a job over several series trains them (<c>--strategy</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SeriesStrategy>))]
public enum SeriesStrategy
{
    /// <summary>One model per series, each an ordinary training of that series alone.</summary>
    PerSeries,

    /// <summary>
    /// One model over every series: each series is split, normalized (on its own training split) and windowed alone, the
    /// windows of all are trained on together, and each series is evaluated and forecast by the shared model.
    /// </summary>
    Global,
}

/// <summary>What a global model is told of which series a window comes from (<c>--series-id</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SeriesIdFeature>))]
public enum SeriesIdFeature
{
    /// <summary>Nothing: the model sees only the series' own (normalized) values.</summary>
    None,

    /// <summary>
    /// A one-hot indicator of the series appended to every time step's inputs: the LSTM's input grows by the number of
    /// series, and each series' preprocessing records its index and that number.
    /// </summary>
    OneHot,
}

/// <summary>
/// <c>--symbol all</c> or <c>--symbol A,B,C</c>: several series of one long-format file in one job. A single name (no
/// comma, not <c>all</c>) keeps the one-series behaviour.
/// </summary>
public static class SeriesSelection
{
    public const string All = "all";

    /// <summary>Most series one job may hold: each is a training of its own.</summary>
    public const int MaxSeries = 1000;

    /// <summary>True for <c>all</c> or a comma-separated list: the job trains several series.</summary>
    public static bool IsMany(string? symbol) =>
        symbol is { } s && (s.Trim().Equals(All, StringComparison.OrdinalIgnoreCase) || s.Contains(','));

    public static string Name(SeriesStrategy strategy) => strategy switch
    {
        SeriesStrategy.PerSeries => "per-series",
        SeriesStrategy.Global => "global",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };

    public static string Name(SeriesIdFeature feature) => feature switch
    {
        SeriesIdFeature.None => "none",
        SeriesIdFeature.OneHot => "one-hot",
        _ => throw new ArgumentOutOfRangeException(nameof(feature)),
    };

    /// <summary>The choices of <c>--series-id</c>.</summary>
    public static readonly IReadOnlyList<string> SeriesIdChoices = ["none", "one-hot"];

    /// <summary>Parses <c>--series-id</c>; an unknown name is an <see cref="ArgumentException"/> naming the choices.</summary>
    public static SeriesIdFeature ParseSeriesId(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" => SeriesIdFeature.None,
        "one-hot" or "onehot" => SeriesIdFeature.OneHot,
        _ => throw new ArgumentException($"series-id must be none or one-hot (got '{text}')"),
    };

    /// <summary>
    /// The folder of one series' own run files under a group's (<c>series/SYMBOL</c>, '/' separated): the symbol with
    /// the characters a file name cannot hold replaced.
    /// </summary>
    public static string Folder(string symbol)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        var invalid = Path.GetInvalidFileNameChars();
        string safe = new([.. symbol.Select(c => invalid.Contains(c) || char.IsControl(c) || c == '.' && symbol.All(d => d == '.') ? '_' : c)]);
        return $"series/{safe}";
    }

    /// <summary>The names of a comma-separated list as given (empty entries dropped, a name repeated kept once), without checking them against a file.</summary>
    public static IReadOnlyList<string> Names(string list) =>
        [.. list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Parses <c>--strategy</c>; an unknown name is an <see cref="ArgumentException"/> naming the choices.</summary>
    public static SeriesStrategy ParseStrategy(string text) => text.Trim().ToLowerInvariant() switch
    {
        "per-series" or "perseries" => SeriesStrategy.PerSeries,
        "global" => SeriesStrategy.Global,
        _ => throw new ArgumentException($"strategy must be per-series or global (got '{text}')"),
    };

    /// <summary>
    /// The symbols <paramref name="selection"/> names, in the file's order for <c>all</c> and in the list's order
    /// otherwise (a name repeated is kept once). A name the file does not hold is a <see cref="DataException"/> naming it
    /// and the symbols there are: nothing trains on a list with a typo in it.
    /// </summary>
    public static IReadOnlyList<string> Resolve(string selection, IReadOnlyList<SymbolRows> available, string file)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(available);
        IReadOnlyList<string> chosen;
        if (selection.Trim().Equals(All, StringComparison.OrdinalIgnoreCase))
        {
            chosen = [.. available.Select(a => a.Symbol)];
        }
        else
        {
            var names = selection.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            if (names.Count == 0) throw new DataException(file, null, $"--symbol '{selection}' names no symbol");
            var unknown = names.Where(n => !available.Any(a => a.Symbol.Equals(n, StringComparison.OrdinalIgnoreCase))).ToList();
            if (unknown.Count > 0)
            {
                string shown = string.Join(", ", available.Take(20).Select(a => a.Symbol)) + (available.Count > 20 ? ", ..." : "");
                throw new DataException(file, null,
                    $"unknown symbol{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; symbols are: {shown}");
            }
            // The file's spelling of each name.
            chosen = [.. names.Select(n => available.First(a => a.Symbol.Equals(n, StringComparison.OrdinalIgnoreCase)).Symbol)];
        }
        if (chosen.Count > MaxSeries) throw new DataException(file, null, $"{chosen.Count} symbols, over the limit of {MaxSeries} in one job");
        return chosen;
    }
}
