using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// A finished group's summary, built off the coordinator from its members' stored files: each succeeded member's
/// metrics.json (test MASE of the model and of naive), forecast.csv and history (its series read again), every other
/// member with why it did not train; then the group's files through the <see cref="GroupWriter"/>.
/// </summary>
internal static class GroupReport
{
    public sealed record Member(string Symbol, string? Skipped, JobRecord? Job, RunOptions? Options);

    public sealed record Outcome(JobState State, string? Reason);

    public static Outcome Write(GroupRecord group, IReadOnlyList<Member> members, JobStore store, GroupWriter? writer)
    {
        var outcomes = members.Select(m => OutcomeOf(m, store)).ToList();
        var summary = new GroupSummary(outcomes);
        if (group.CancelRequested) return Save(JobState.Cancelled, "cancelled on request");
        if (summary.Trained.Count == 0)
        {
            string why = string.Join("; ", outcomes.Select(o => $"{o.Symbol}: {o.Skipped ?? o.Failed}"));
            return new Outcome(JobState.Failed, $"none of the {outcomes.Count} series trained: {why}");
        }
        return Save(JobState.Succeeded, null);

        Outcome Save(JobState state, string? reason)
        {
            if (writer is not null && summary.Trained.Count > 0) store.SaveFiles(group.Id, writer(summary, group.Strategy));
            return new Outcome(state, reason);
        }
    }

    private static SeriesOutcome OutcomeOf(Member m, JobStore store)
    {
        if (m.Skipped is { } skipped) return new SeriesOutcome(m.Symbol) { Skipped = skipped };
        if (m.Job is not { } job) return new SeriesOutcome(m.Symbol) { Failed = "its job is gone" };
        if (job.State != JobState.Succeeded)
            return new SeriesOutcome(m.Symbol) { Failed = job.State == JobState.Cancelled ? "cancelled" : job.Reason ?? job.State.ToString().ToLowerInvariant() };
        // A global model's job holds every series of its group: their files under series/SYMBOL/, their figures by symbol.
        var series = GlobalGroups.FiguresOf(job, m.Symbol);
        string folder = job.Series is null ? "" : $"{SeriesSelection.Folder(m.Symbol)}/";
        if (job.Series is not null && series is null) return new SeriesOutcome(m.Symbol) { Failed = "its global model has no result for it" };
        try
        {
            var files = store.ReadFiles(job.Id);
            var history = m.Options is { } options ? CsvSeriesLoader.Load(options.Data with { Symbol = m.Symbol }).Target : [];
            if (!files.ContainsKey(folder + "metrics.json"))
            {
                // A coordinator without an artifact writer keeps no files: the job's record has the model's MASE and forecast
                // (naive's is not known there for a job of one series, so such a series never counts as beating naive).
                var times = series?.ForecastTimes ?? job.ForecastTimes ?? [];
                return new SeriesOutcome(m.Symbol)
                {
                    Rows = history.Length,
                    ModelMase = series?.TestMase ?? job.TestMase,
                    NaiveMase = series?.NaiveMase ?? double.NaN,
                    BestBaseline = series is null ? job.BestBaseline : series.BestBaseline,
                    BestBaselineMase = series?.BestBaselineMase ?? job.BestBaselineMase,
                    Forecast = [.. (series?.Forecast ?? job.Forecast ?? []).Select((v, i) => new ForecastPoint(i + 1, i < times.Length ? times[i] : $"{i + 1}", i + 1, v))],
                    History = history,
                };
            }
            var metrics = JsonNode.Parse(files[folder + "metrics.json"])!;
            var test = metrics["test"]!;
            var split = metrics["data"]!["split_rows"]!;
            return new SeriesOutcome(m.Symbol)
            {
                Rows = (int)metrics["data"]!["rows"]!,
                ModelMase = Number(test["model"]!["mase"]),
                ModelMae = Number(test["model"]!["mae"]),
                NaiveMase = Number(test["baselines"]!["naive"]!["mase"]),
                NaiveMae = Number(test["baselines"]!["naive"]!["mae"]),
                BestBaseline = series is null ? job.BestBaseline : series.BestBaseline,
                BestBaselineMase = series?.BestBaselineMase ?? job.BestBaselineMase,
                Forecast = ReadForecast(files[folder + "forecast.csv"]),
                History = history,
                TestStart = (int)split["train"]! + (int)split["validation"]!,
            };
        }
        catch (Exception e) when (e is IOException or KeyNotFoundException or NullReferenceException or FormatException
            or InvalidOperationException or System.Text.Json.JsonException or DataException)
        {
            return new SeriesOutcome(m.Symbol) { Failed = $"its files cannot be read: {e.Message}" };
        }
    }

    private static double Number(JsonNode? node) => node is null ? double.NaN : (double)node;

    /// <summary>forecast.csv's step, time and forecast columns (the first three).</summary>
    private static ForecastPoint[] ReadForecast(byte[] csv)
    {
        var lines = Encoding.UTF8.GetString(csv).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return [.. lines.Skip(1).Select(line =>
        {
            var cells = line.Split(',');
            int step = int.Parse(cells[0], CultureInfo.InvariantCulture);
            return new ForecastPoint(step, cells[1], step, double.Parse(cells[2], CultureInfo.InvariantCulture));
        })];
    }
}
