using System.Globalization;
using LstmCluster.Cli.Rendering;
using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using LstmCluster.Reporting;
using Spectre.Console;

namespace LstmCluster.Cli.Output;

/// <summary>What the commands print for a person: summaries, tables, warnings.</summary>
public static class Report
{
    public static void DataSummary(PreparedData data, RunOptions o)
    {
        var s = data.Series;
        var missing = s.MissingHandled > 0
            ? s.Missing == MissingPolicy.Drop ? $", {s.MissingHandled} rows with missing values dropped" : $", {s.MissingHandled} missing values filled ({s.Missing.ToString().ToLowerInvariant()})"
            : "";
        if (s.RowsReordered > 0 || s.DuplicatesResolved > 0)
            missing += (s.RowsReordered > 0 ? $", {s.RowsReordered} rows moved by --sort" : "")
                + (s.DuplicatesResolved > 0 ? $", {s.DuplicatesResolved} duplicate-time rows merged (--on-duplicate {CsvSeriesLoader.PolicyName(s.OnDuplicate)})" : "");
        Console.WriteLine(Invariant($"data: {s.Source}: {s.Length} rows, target {s.TargetName}" +
            (s.ColumnNames.Count > 1 ? $", inputs {string.Join(", ", s.ColumnNames)}" : "") +
            (s.Time.Kind != TimeAxisKind.Index ? $", {s.Time.Label(0)} .. {s.Time.Label(s.Length - 1)}" : "") + missing));
        Console.WriteLine(Invariant($"split: train {data.Split.TrainRows} / validation {data.Split.ValidationRows} / test {data.Split.TestRows} rows; " +
            $"windows {data.Train.Count} / {data.Validation.Count} / {data.Test.Count} (lookback {o.Preprocessing.Lookback}, horizon {o.Preprocessing.Horizon}, " +
            $"{NormalizationText(o, data)}{(o.Preprocessing.Transform == TargetTransform.LogReturn ? ", log returns" : "")})"));
        Console.WriteLine(Invariant($"model: LSTM {o.Layers}×{o.Hidden}, {o.Spec(s.Columns.Length).ParameterCount:N0} parameters; {o.Training.Optimizer} lr {o.Training.LearningRate}, batch {o.Training.BatchSize}, up to {o.Training.Epochs} epochs, seed {o.Training.Seed}"));
    }

    public static void TrainingSummary(TrainingResult t, TrainingOptions options)
    {
        Console.WriteLine(Invariant($"trained: {t.Epochs.Count} epochs ({StopText(t.Stop)}), best epoch {t.BestEpoch} (validation loss {t.BestValidationLoss:0.00000}), " +
            $"{t.Samples:N0} samples in {t.Elapsed.TotalSeconds:0.0} s ({t.SamplesPerSecond:N0} samples/s)"));
        if (t.StillImproving && !options.AutoEpochs)
            Console.WriteLine(Invariant($"warning: --epochs {options.Epochs} ended while the validation loss was still improving (best at epoch {t.BestEpoch}): " +
                "more epochs, or --epochs auto, would probably give a better model"));
        else if (t.Stop == StopReason.EpochLimit && options.AutoEpochs)
            Console.WriteLine(Invariant($"warning: --epochs auto reached --max-epochs {options.Epochs} before the validation loss stopped improving"));
        else if (t.Stop == StopReason.TimeBudget)
            Console.WriteLine(Invariant($"note: --max-time {options.MaxTime} ran out before the validation loss stopped improving"));
        if (t.BestEpoch == 0)
            Console.WriteLine("note: no epoch beat the untrained model on validation, so the untrained model is kept: with window " +
                "normalizations that is a naive forecast (last value, or seasonal naive on window-seasonal steps), the honest answer for a random walk");
    }

    public static void EngineSummary(LstmCluster.Actors.Embedded.EngineStats s)
    {
        Console.WriteLine(Invariant($"engine: {s.Rounds} rounds, {s.Samples:N0} samples, {s.Dropped} dropped gradients, parameter server busy {s.ServerTime.TotalSeconds:0.00} s of {s.Elapsed.TotalSeconds:0.0} s"));
        if (s.RoundTimes is { } t)
            Console.WriteLine(Invariant($"  a round: {t.Round.TotalMilliseconds:0.00} ms, of which the slowest worker's compute {t.Compute.TotalMilliseconds:0.00} ms and hand-overs {t.HandOver.TotalMilliseconds:0.00} ms; then the server's step {t.ServerStep.TotalMilliseconds:0.00} ms (medians of the last {t.Measured} rounds)"));
        foreach (var w in s.Workers)
            Console.WriteLine(Invariant($"  worker {w.Worker}: {w.Rounds} rounds, {w.Samples:N0} samples, {w.Dropped} dropped"));
    }

    public static Table MetricsTable(string title, EvaluationReport r)
    {
        var rows = new List<(string, double, double, double, double, double)> { ("LSTM model", r.Model.Mae, r.Model.Rmse, r.Model.Mape, r.Model.Smape, r.Model.Mase) };
        rows.AddRange(r.Baselines.Select(b => (b.Key, b.Value.Mae, b.Value.Rmse, b.Value.Mape, b.Value.Smape, b.Value.Mase)));
        return Tables.Metrics(title, rows);
    }

    /// <summary>A job over several series: each series' test MASE against naive (or why it was skipped), then the medians and the count beating naive.</summary>
    public static Table GroupTable(GroupSummary g)
    {
        var table = new Table().Title(Invariant($"Per series, test split: {g.BeatNaive} of {g.Trained.Count} trained series beat naive"));
        table.AddColumn("series");
        table.AddColumn(new TableColumn("model MASE").RightAligned());
        table.AddColumn(new TableColumn("naive MASE").RightAligned());
        table.AddColumn(new TableColumn("model / naive").RightAligned());
        table.AddColumn("best baseline");
        foreach (var s in g.Series)
        {
            if (!s.Trained)
            {
                table.AddRow(Markup.Escape(s.Symbol), "", "", "", Markup.Escape($"{(s.Skipped is null ? "failed" : "skipped")}: {s.Skipped ?? s.Failed}"));
                continue;
            }
            string ratio = Invariant($"{s.ModelMase / s.NaiveMase:0.###}");
            table.AddRow(Markup.Escape(s.Symbol), Invariant($"{s.ModelMase:0.###}"), Invariant($"{s.NaiveMase:0.###}"),
                s.BeatsNaive ? $"[green]{ratio}[/]" : ratio, Markup.Escape(Invariant($"{s.BestBaseline} {s.BestBaselineMase:0.###}")));
        }
        table.AddRow("[bold]median[/]", Invariant($"{g.MedianModelMase:0.###}"), Invariant($"{g.MedianNaiveMase:0.###}"), Invariant($"{g.MedianRatioToNaive:0.###}"), "");
        return table;
    }

    public static string StopText(StopReason reason) => reason switch
    {
        StopReason.EarlyStop => "early stop",
        StopReason.EpochLimit => "epoch limit",
        _ => "time budget",
    };

    /// <summary>Prints whether the model beats naive (validation and test); returns the validation verdict.</summary>
    public static bool Verdict(RunResult r)
    {
        bool validation = r.Validation.Beats("naive"), test = r.Test.Beats("naive");
        string Line(string split, EvaluationReport e) => Invariant($"{split}: model MASE {e.Model.Mase:0.###}, naive {e.Baselines["naive"].Mase:0.###}, best baseline {e.BestBaseline} {e.Baselines[e.BestBaseline].Mase:0.###}");
        Console.WriteLine(Line("validation", r.Validation));
        Console.WriteLine(Line("test", r.Test));
        if (!validation || !test)
            Console.WriteLine($"warning: the model does not beat the naive forecast (last value) on {(validation ? "test" : test ? "validation" : "validation or test")}: " +
                "a naive forecast would do as well; treat these forecasts with care");
        return validation;
    }

    public static void Forecast(IReadOnlyList<ForecastPoint> forecast, string target) => AnsiConsole.Write(ForecastTable(forecast, target));

    /// <summary>The forecast per step, with a quantile head's levels as further columns (q0.1, q0.5, ...).</summary>
    public static Table ForecastTable(IReadOnlyList<ForecastPoint> forecast, string target)
    {
        var table = new Table().Title($"Forecast of {Markup.Escape(target)}").AddColumn("step").AddColumn("time").AddColumn(new TableColumn("forecast").RightAligned());
        var levels = forecast.Count > 0 ? forecast[0].Quantiles.Select(q => q.Level).ToArray() : [];
        foreach (var level in levels) table.AddColumn(new TableColumn(QuantileLevels.ColumnName(level)).RightAligned());
        foreach (var f in forecast)
            table.AddRow([f.Step.ToString(CultureInfo.InvariantCulture), Markup.Escape(f.Time), f.Value.ToString("G6", CultureInfo.InvariantCulture),
                .. f.Quantiles.Select(q => q.Value.ToString("G6", CultureInfo.InvariantCulture))]);
        return table;
    }

    /// <summary>
    /// A quantile head on the test split: each central interval's empirical coverage next to its nominal one, and each
    /// level's pinball loss with the share of actual values at or below it (which should be near the level).
    /// </summary>
    public static Table QuantilesTable(string title, QuantileReport q)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title))
            .AddColumn("quantiles").AddColumn(new TableColumn("nominal").RightAligned()).AddColumn(new TableColumn("coverage (test)").RightAligned())
            .AddColumn(new TableColumn("mean width").RightAligned()).AddColumn(new TableColumn("pinball loss").RightAligned());
        foreach (var i in q.Intervals)
            table.AddRow($"{QuantileLevels.ColumnName(i.Lower)}–{QuantileLevels.ColumnName(i.Upper)}", Percent(i.Nominal), Percent(i.Coverage),
                Tables.FormatNumber(i.MeanWidth), "");
        foreach (var l in q.Levels)
            table.AddRow(QuantileLevels.ColumnName(l.Level), Percent(l.Level), $"{Percent(l.BelowFraction)} below", "", Tables.FormatNumber(l.Pinball));
        return table.Caption(Markup.Escape($"mean pinball loss {Tables.FormatNumber(q.MeanPinball)} over {q.Points} points; coverage: share of actual values inside the interval (bounds included)"));
    }

    private static string Percent(double v) => double.IsFinite(v) ? (v * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %" : "—";

    public static void Written(IEnumerable<string> paths)
    {
        Console.WriteLine("wrote:");
        foreach (var p in paths) Console.WriteLine($"  {p}");
    }

    private static string NormalizationText(RunOptions o, PreparedData data) => o.AutoNormalize
        ? $"normalization auto: {string.Join(", ", ForecastRun.NormalizationCandidates(o.Preprocessing).Select(NormalizationNames.Name))} and their {Ensemble.Name} (mean), the lowest validation error kept"
        : $"{NormalizationNames.Name(o.Preprocessing.Normalize)} normalization{SeasonalSteps(data.Preprocessor)}";

    /// <summary>
    /// <c>--normalize auto</c>'s candidates: validation and test MASE of each, and its training; the one kept is marked. The
    /// choice is made on validation alone: the test column is there to judge it.
    /// </summary>
    public static Table CandidatesTable(IReadOnlyList<NormalizationCandidate> candidates, IReadOnlyList<LeftOutCandidate>? leftOut = null)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Normalization candidates (chosen on validation)")
            .AddColumn("normalization").AddColumn(new TableColumn("validation MASE").RightAligned())
            .AddColumn(new TableColumn("test MASE").RightAligned()).AddColumn(new TableColumn("best naive, test").RightAligned())
            .AddColumn(new TableColumn("best epoch").RightAligned()).AddColumn("stopped");
        foreach (var c in candidates)
        {
            string best = c.Test.Baselines.Count > 0 ? $"{c.Test.BestBaseline} {Tables.FormatNumber(c.Test.Baselines[c.Test.BestBaseline].Mase)}" : "—";
            // The ensemble trained nothing of its own: the mean of the rows above.
            string[] cells = [(c.Chosen ? "★ " : "  ") + (c.IsEnsemble ? $"{Ensemble.Name}: mean of {string.Join(", ", c.Members.Select(NormalizationNames.Name))}" : NormalizationNames.Name(c.Normalize)), Tables.FormatNumber(c.Validation.Model.Mase),
                Tables.FormatNumber(c.Test.Model.Mase), best, c.IsEnsemble ? "—" : $"{c.BestEpoch} of {c.EpochsRun}", c.IsEnsemble ? "—" : StopText(c.Stop)];
            table.AddRow(cells.Select(t => (Spectre.Console.Rendering.IRenderable)new Markup(c.Chosen ? $"[bold green]{Markup.Escape(t)}[/]" : Markup.Escape(t))));
        }
        return table.Caption(CandidatesCaption((leftOut ?? []).Select(l => (NormalizationNames.Name(l.Normalize), NormalizationNames.Name(l.SameAs)))));
    }

    /// <summary>
    /// The caption under a candidates table (this one, and <c>status</c>'s from metrics.json): the mark of the one kept, and
    /// each candidate left out as the twin of another, which trained nothing and so has no row.
    /// </summary>
    internal static string CandidatesCaption(IEnumerable<(string Normalize, string SameAs)> leftOut) =>
        $"[dim]★ lowest validation MAE{Markup.Escape(string.Concat(leftOut.Select(l => $"; {l.Normalize} not trained: same as {l.SameAs}")))}[/]";

    /// <summary>Which forecast steps window-seasonal measures from the seasonal-naive value.</summary>
    private static string SeasonalSteps(Preprocessor p)
    {
        if (p.Normalize != Normalization.WindowSeasonal) return "";
        var steps = p.SeasonalSteps.Select((seasonal, k) => (seasonal, k)).Where(s => s.seasonal).Select(s => s.k + 1).ToArray();
        return steps.Length == 0
            ? ": every step from the last value, which fitted training better"
            : $": step{(steps.Length > 1 ? "s" : "")} {string.Join(",", steps)} from the seasonal-naive value";
    }

    // CliApp fixes the invariant culture for the whole process; this marks the lines that rely on it.
    private static string Invariant(string s) => s;
}
