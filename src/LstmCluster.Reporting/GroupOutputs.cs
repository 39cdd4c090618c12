using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmCluster.Core.Forecasting;
using LstmCluster.Reporting.Rendering;

namespace LstmCluster.Reporting;

/// <summary>
/// What a job over several series leaves beside its members' own run folders: <c>series.csv</c> and <c>summary.json</c>
/// (every series' test figures, or why it was skipped; the medians and how many beat naive), one <c>forecast.csv</c> with
/// a <c>symbol</c> column, and <c>grid.png</c> (a small panel per trained series).
/// </summary>
public static class GroupOutputs
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The folder (under the group's) of one series' own run files: its symbol, with characters a path cannot hold replaced.</summary>
    public static string SeriesFolder(string symbol) => Core.Data.SeriesSelection.Folder(symbol).Replace('/', Path.DirectorySeparatorChar);

    /// <summary>Writes the group's files into <paramref name="directory"/> (each through a temporary name); returns their names.</summary>
    public static IReadOnlyList<string> Write(string directory, GroupSummary summary, string strategy)
    {
        ArgumentNullException.ThrowIfNull(summary);
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        OutputPaths.WriteFile(Path.Combine(directory, "series.csv"), temp => File.WriteAllText(temp, SeriesCsv(summary)));
        written.Add("series.csv");
        OutputPaths.WriteFile(Path.Combine(directory, "summary.json"), temp => File.WriteAllText(temp, SummaryJson(summary, strategy).ToJsonString(Indented)));
        written.Add("summary.json");
        OutputPaths.WriteFile(Path.Combine(directory, "forecast.csv"), temp => File.WriteAllText(temp, ForecastCsv(summary)));
        written.Add("forecast.csv");
        if (summary.Trained.Count > 0)
        {
            OutputPaths.WriteFile(Path.Combine(directory, "grid.png"), temp => Plots.WriteGrid(temp, summary.Trained));
            written.Add("grid.png");
        }
        return written;
    }

    /// <summary>One row per series: symbol, status (trained, skipped, failed), rows, test MASE of the model and of naive, ...</summary>
    public static string SeriesCsv(GroupSummary summary)
    {
        var sb = new StringBuilder("symbol,status,rows,model_mase,naive_mase,ratio_to_naive,beats_naive,best_baseline,best_baseline_mase,reason\n");
        foreach (var s in summary.Series)
        {
            string status = Status(s);
            sb.Append(CultureInfo.InvariantCulture,
                $"{Cell(s.Symbol)},{status},{s.Rows},{Num(s.ModelMase)},{Num(s.NaiveMase)},{Num(s.ModelMase / s.NaiveMase)},{(s.Trained ? s.BeatsNaive ? "true" : "false" : "")},{Cell(s.BestBaseline ?? "")},{Num(s.BestBaselineMase)},{Cell(s.Skipped ?? s.Failed ?? "")}\n");
        }
        return sb.ToString();
    }

    public static JsonObject SummaryJson(GroupSummary summary, string strategy)
    {
        var series = new JsonArray();
        foreach (var s in summary.Series)
        {
            series.Add(new JsonObject
            {
                ["symbol"] = s.Symbol,
                ["status"] = Status(s),
                ["rows"] = s.Rows,
                ["model_mase"] = Json(s.ModelMase),
                ["naive_mase"] = Json(s.NaiveMase),
                ["beats_naive"] = s.Trained ? s.BeatsNaive : null,
                ["best_baseline"] = s.BestBaseline,
                ["best_baseline_mase"] = Json(s.BestBaselineMase),
                ["reason"] = s.Skipped ?? s.Failed,
                ["folder"] = s.Trained ? SeriesFolder(s.Symbol).Replace('\\', '/') : null,
            });
        }
        return new JsonObject
        {
            ["strategy"] = strategy,
            ["series"] = summary.Series.Count,
            ["trained"] = summary.Trained.Count,
            ["skipped"] = new JsonArray([.. summary.Skipped.Select(s => (JsonNode)new JsonObject { ["symbol"] = s.Symbol, ["reason"] = s.Skipped })]),
            ["failed"] = new JsonArray([.. summary.Failed.Select(s => (JsonNode)new JsonObject { ["symbol"] = s.Symbol, ["reason"] = s.Failed })]),
            ["median_model_mase"] = Json(summary.MedianModelMase),
            ["median_naive_mase"] = Json(summary.MedianNaiveMase),
            ["median_ratio_to_naive"] = Json(summary.MedianRatioToNaive),
            ["beat_naive"] = summary.BeatNaive,
            ["per_series"] = series,
        };
    }

    /// <summary>Every trained series' forecast, one row per series and step: <c>symbol,step,time,forecast</c>.</summary>
    public static string ForecastCsv(GroupSummary summary)
    {
        var sb = new StringBuilder("symbol,step,time,forecast\n");
        foreach (var s in summary.Trained)
            foreach (var f in s.Forecast)
                sb.Append(CultureInfo.InvariantCulture, $"{Cell(s.Symbol)},{f.Step},{f.Time},{f.Value:R}\n");
        return sb.ToString();
    }

    private static string Status(SeriesOutcome s) => s.Skipped is not null ? "skipped" : s.Failed is not null ? "failed" : "trained";

    private static string Num(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    private static JsonNode? Json(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    /// <summary>A CSV cell: quoted when it holds a comma, a quote or a line break.</summary>
    private static string Cell(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : text;
}
