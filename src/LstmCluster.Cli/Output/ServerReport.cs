using System.Globalization;
using System.Text.Json;
using LstmCluster.Cli.Rendering;
using LstmCluster.Contracts;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using Spectre.Console;

namespace LstmCluster.Cli.Output;

/// <summary>What the client commands print about jobs on a server.</summary>
public static class ServerReport
{
    // Bound to whatever Console.Out is now (AnsiConsole keeps the writer it first saw), so redirected output gets the tables too.
    // Redirected output has no width; 80 columns would fold the job table.
    internal static IAnsiConsole Out
    {
        get
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
            if (Console.IsOutputRedirected) console.Profile.Width = 160;
            return console;
        }
    }

    /// <summary>
    /// Polls until the job ends: a live bar over its epochs on a terminal, one line per new epoch when
    /// redirected (as <see cref="TrainingProgress"/> does for a local run).
    /// </summary>
    public static async Task<JobView> Follow(string id, Func<CancellationToken, Task<JobView>> poll, TimeSpan interval, CancellationToken ct)
    {
        var status = await poll(ct);
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            string? last = null;
            while (true)
            {
                string line = Line(status);
                if (line != last) Console.WriteLine(line);
                last = line;
                if (status.Ended) return status;
                await Task.Delay(interval, ct);
                status = await poll(ct);
            }
        }
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(Line(status)), maxValue: Math.Max(1, status.Epochs));
                while (true)
                {
                    task.MaxValue = Math.Max(1, status.Epochs);
                    task.Value = status.Epoch;
                    task.Description = Markup.Escape(Line(status));
                    if (status.Ended) break;
                    await Task.Delay(interval, ct);
                    status = await poll(ct);
                }
                if (status.State == Vocabulary.JobStates.Succeeded) task.Value = task.MaxValue;
            });
        return status;
    }

    public static string Line(JobView s) => s.State switch
    {
        // A queued job's reason: why it waits (its token at --max-running-per-owner) or why it was queued again.
        Vocabulary.JobStates.Queued => $"{s.Id}: queued{(s.Ahead is { } ahead ? $", {Place(ahead)}" : "")}{(s.Reason is { } why ? $" ({why})" : "")}",
        Vocabulary.JobStates.Running when s.Epoch == 0 => $"{s.Id}: running on {s.Workers} worker(s), first epoch",
        Vocabulary.JobStates.Running => string.Create(CultureInfo.InvariantCulture,
            $"{s.Id}: epoch {s.Epoch,3}/{s.Epochs}  train {Num(s.TrainLoss)}  val {Num(s.ValidationLoss)}  round {s.Round}  {s.SamplesPerSecond ?? 0:0} samples/s  {s.Workers} worker(s)"),
        _ => $"{s.Id}: {s.State}{(s.Reason is { } r ? $" ({r})" : "")}",
    };

    /// <summary>A queued job's place (<see cref="JobView.Ahead"/>) in words.</summary>
    private static string Place(int ahead) => ahead switch { 0 => "next to start", 1 => "1 job ahead", _ => $"{ahead} jobs ahead" };

    public static void Jobs(IReadOnlyList<JobView> jobs)
    {
        if (jobs.Count == 0)
        {
            Console.WriteLine("no jobs");
            return;
        }
        var table = new Table().AddColumn("job").AddColumn("state").AddColumn("data").AddColumn("target")
            .AddColumn(new TableColumn("epoch").RightAligned()).AddColumn(new TableColumn("train").RightAligned())
            .AddColumn(new TableColumn("val").RightAligned()).AddColumn(new TableColumn("test MASE").RightAligned()).AddColumn("submitted");
        foreach (var j in jobs)
            table.AddRow(Markup.Escape(j.Id), j.Ahead is { } ahead ? $"{j.State} ({Place(ahead)})" : j.State, Markup.Escape(j.Data ?? ""), Markup.Escape(j.Target ?? ""),
                $"{j.Epoch}/{j.Epochs}", Num(j.TrainLoss), Num(j.ValidationLoss), Num(j.TestMase, "0.###"), Time(j.Submitted));
        Out.Write(table);
    }

    public static string GroupLine(GroupView g) => string.Create(CultureInfo.InvariantCulture,
        $"{g.Id}: {g.State.ToLowerInvariant()}, {g.Series} {(g.Sweep is null ? "series" : "member jobs")}: {g.Succeeded} succeeded, {g.Running} running, {g.Queued} queued, {g.Failed} failed or skipped, {g.Cancelled} cancelled ({g.Progress:P0})");

    /// <summary>
    /// A job group: its line, then a row per member (series, or a sweep's round and trial; job, state, epoch, test MASE,
    /// reason); for a sweep also its leaderboard so far.
    /// </summary>
    public static void Group(GroupView g)
    {
        Console.WriteLine(GroupLine(g));
        if (g.Reason is { } reason) Console.WriteLine($"reason: {reason}");
        var table = new Table().AddColumn(g.Sweep is null ? "series" : "member").AddColumn("job").AddColumn("state")
            .AddColumn(new TableColumn("epoch").RightAligned()).AddColumn(new TableColumn("test MASE").RightAligned()).AddColumn("reason");
        foreach (var m in g.Members)
            table.AddRow(Markup.Escape(m.Symbol), Markup.Escape(m.Job ?? ""), m.State, m.Job is null ? "" : $"{m.Epoch}/{m.Epochs}",
                Num(m.TestMase, "0.###"), Markup.Escape(m.Reason ?? ""));
        Out.Write(table);
        if (g.Sweep is { } sweep) Sweep(sweep);
    }

    /// <summary>A sweep's rounds and its leaderboard (the trials scored so far, ranked by validation MASE).</summary>
    private static void Sweep(SweepView s)
    {
        Console.WriteLine($"sweep: {s.Trials} trial(s), round {s.Round} of {s.Rounds.Count} ({string.Join(", ", s.Rounds.Select(r => $"{r.Trials} × {r.Epochs} epochs"))}), keep the best 1/{s.Eta} each round");
        if (s.Leaderboard.Count == 0) return;
        var table = new Table().Title("Leaderboard by validation MASE (test MASE shown, never used to rank)")
            .AddColumn(new TableColumn("rank").RightAligned()).AddColumn(new TableColumn("trial").RightAligned());
        foreach (var p in s.Parameters) table.AddColumn(new TableColumn(Markup.Escape(p.Name)).RightAligned());
        foreach (var c in new[] { "round", "epochs", "val MASE", "test MASE" }) table.AddColumn(new TableColumn(c).RightAligned());
        table.AddColumn("job").AddColumn("status");
        foreach (var e in s.Leaderboard)
        {
            var cells = new List<string> { e.Rank.ToString(CultureInfo.InvariantCulture), e.Trial.ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(s.Parameters.Select(p => Markup.Escape(e.Parameters.TryGetValue(p.Name, out var v) ? v : "")));
            cells.Add($"{e.Round}/{s.Rounds.Count}");
            cells.Add(e.EpochsRun.ToString(CultureInfo.InvariantCulture));
            cells.Add(Num(e.ValidationMase, "0.####"));
            cells.Add(Num(e.TestMase, "0.####"));
            cells.Add(Markup.Escape(e.Job ?? ""));
            cells.Add(Markup.Escape(e.Status));
            table.AddRow([.. cells]);
        }
        Out.Write(table);
        if (s.Best is { } best) Console.WriteLine($"best: {best} (its model is the group's)");
    }

    /// <summary>Every job group, one row each (nothing when there is none).</summary>
    public static void Groups(IReadOnlyList<GroupView> groups)
    {
        if (groups.Count == 0) return;
        var table = new Table().Title("Job groups").AddColumn("group").AddColumn("kind").AddColumn("state").AddColumn(new TableColumn("members").RightAligned())
            .AddColumn(new TableColumn("done").RightAligned()).AddColumn("data").AddColumn("target").AddColumn("submitted");
        foreach (var g in groups)
            table.AddRow(Markup.Escape(g.Id), Markup.Escape(g.Strategy), g.State, g.Series.ToString(CultureInfo.InvariantCulture),
                string.Create(CultureInfo.InvariantCulture, $"{g.Progress:P0}"), Markup.Escape(g.Data ?? ""), Markup.Escape(g.Target ?? ""), Time(g.Submitted));
        Out.Write(table);
    }

    /// <summary>A finished group's summary.json: the medians and how many series beat naive.</summary>
    public static void GroupSummary(JsonElement summary)
    {
        double? Get(string name) => summary.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"summary: {summary.GetProperty("beat_naive").GetInt32()} of {summary.GetProperty("trained").GetInt32()} trained series beat naive; median test MASE {Num(Get("median_model_mase"), "0.###")} (naive {Num(Get("median_naive_mase"), "0.###")}, median ratio {Num(Get("median_ratio_to_naive"), "0.###")})"));
    }

    public static void Detail(JobView s)
    {
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value)) grid.AddRow(name, Markup.Escape(value));
        }
        Row("job", s.Id);
        Row("state", s.Ahead is { } ahead ? $"{s.State} ({Place(ahead)})" : s.State);
        Row("reason", s.Reason);
        Row("data", s.Data is null ? null : $"{s.Data}, target {s.Target}");
        Row("epoch", $"{s.Epoch}/{s.Epochs} (round {s.Round})");
        Row("loss", $"train {Num(s.TrainLoss)}, validation {Num(s.ValidationLoss)}");
        if (s.SamplesPerSecond is > 0) Row("speed", string.Create(CultureInfo.InvariantCulture, $"{s.SamplesPerSecond:0} samples/s"));
        if (s.Workers > 0) Row("workers", s.Workers.ToString(CultureInfo.InvariantCulture));
        if (s.TestMase is { } mase)
            Row("test MASE", $"{Num(mase, "0.###")}{(s.BestBaseline is { } b ? $" (best baseline {b} {Num(s.BestBaselineMase, "0.###")})" : "")}");
        Row("normalization", s.Normalization);
        Row("submitted", Time(s.Submitted));
        Row("started", Time(s.Started));
        Row("finished", Time(s.Finished));
        Out.Write(grid);
    }

    /// <summary>The test-split table from a job's metrics.json (the table train prints).</summary>
    public static void Metrics(JsonElement metrics, JobView s)
    {
        static double Get(JsonElement m, string key) =>
            m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
        static (string, double, double, double, double, double) Row(string name, JsonElement m) =>
            (name, Get(m, "mae"), Get(m, "rmse"), Get(m, "mape"), Get(m, "smape"), Get(m, "mase"));
        if (!metrics.TryGetProperty("model", out var model) || !metrics.TryGetProperty("baselines", out var baselines)) return;
        var rows = new List<(string, double, double, double, double, double)> { Row("LSTM model", model) };
        rows.AddRange(baselines.EnumerateObject().Select(b => Row(b.Name, b.Value)));
        Out.Write(Tables.Metrics($"{s.Id}: test split (original units)", rows));
        if (metrics.TryGetProperty("normalization", out var n) && n.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
            Out.Write(CandidatesTable(s.Id, candidates, n.TryGetProperty("left_out", out var leftOut) && leftOut.ValueKind == JsonValueKind.Array ? leftOut : null));
        if (metrics.TryGetProperty("quantiles", out var q) && q.ValueKind == JsonValueKind.Object)
            Out.Write(Report.QuantilesTable($"{s.Id}: prediction intervals, test split", ReadQuantiles(q)));
        // What a round was made of, as train prints it (Report.EngineSummary): across processes the hand-overs are what distributing costs.
        if (metrics.TryGetProperty("engine", out var engine) && engine.ValueKind == JsonValueKind.Object &&
            engine.TryGetProperty("round", out var round) && round.ValueKind == JsonValueKind.Object)
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{s.Id}: a round {Get(round, "median_ms"):0.00} ms, of which the slowest worker's compute {Get(round, "slowest_compute_ms"):0.00} ms and " +
                $"hand-overs {Get(round, "hand_over_ms"):0.00} ms; then the server's step {Get(round, "server_step_ms"):0.00} ms (medians of the last {Get(round, "measured_rounds"):0} rounds)"));
    }

    /// <summary>metrics.json's <c>normalization.candidates</c>: auto's candidates as <c>train</c> prints them, the one kept marked.</summary>
    private static Table CandidatesTable(string job, JsonElement candidates, JsonElement? leftOut)
    {
        static double Mase(JsonElement c, string split) =>
            c.TryGetProperty(split, out var m) && m.TryGetProperty("mase", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
        var table = new Table().Border(TableBorder.Rounded).Title($"{Markup.Escape(job)}: normalization candidates (chosen on validation)")
            .AddColumn("normalization").AddColumn(new TableColumn("validation MASE").RightAligned())
            .AddColumn(new TableColumn("test MASE").RightAligned()).AddColumn(new TableColumn("best epoch").RightAligned());
        foreach (var c in candidates.EnumerateArray())
        {
            bool chosen = c.TryGetProperty("chosen", out var ch) && ch.ValueKind == JsonValueKind.True;
            string name = c.TryGetProperty("normalize", out var nm) ? nm.GetString() ?? "?" : "?";
            string epochs = c.TryGetProperty("best_epoch", out var b) && c.TryGetProperty("epochs_run", out var r) ? $"{b} of {r}" : "";
            table.AddRow(Markup.Escape((chosen ? "★ " : "  ") + name), Tables.FormatNumber(Mase(c, "validation")), Tables.FormatNumber(Mase(c, "test")), epochs);
        }
        static string Text(JsonElement e, string key) => e.TryGetProperty(key, out var v) ? v.GetString() ?? "?" : "?";
        return table.Caption(Report.CandidatesCaption((leftOut?.EnumerateArray() ?? []).Select(l => (Text(l, "normalize"), Text(l, "same_as")))));
    }

    /// <summary>metrics.json's <c>quantiles</c> node back as a report, for the table train prints.</summary>
    private static QuantileReport ReadQuantiles(JsonElement q)
    {
        static double Get(JsonElement m, string key) =>
            m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
        static IEnumerable<JsonElement> Items(JsonElement m, string key) =>
            m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];
        var levels = Items(q, "levels").Select(l => new QuantileScore(Get(l, "level"), Get(l, "pinball_loss"), Get(l, "fraction_below"))).ToArray();
        var intervals = Items(q, "intervals").Select(i => new IntervalCoverage(Get(i, "lower"), Get(i, "upper"), Get(i, "nominal_coverage"),
            Get(i, "coverage"), Get(i, "mean_width"))).ToArray();
        return new QuantileReport(levels, intervals, Get(q, "mean_pinball_loss"), q.TryGetProperty("points", out var p) && p.TryGetInt32(out int n) ? n : 0);
    }

    public static void Forecast(ForecastView f) =>
        Out.Write(Report.ForecastTable([.. f.Points.Select(p => new ForecastPoint(p.Step, p.Time, p.Step, p.Value ?? double.NaN))], f.Target ?? "target"));

    private static string Num(double? v, string format = "0.00000") =>
        v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "";
}
