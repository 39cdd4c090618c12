using System.Globalization;
using LstmCluster.Core.Data;
using ScottPlot;

namespace LstmCluster.Reporting.Rendering;

/// <summary>
/// A prediction interval to shade on the forecast plot: its lower and upper values for each forecast step and for each
/// one-step test prediction (same order as the predictions; empty for none).
/// </summary>
public sealed record IntervalBand(string Label, IReadOnlyList<double> ForecastLower, IReadOnlyList<double> ForecastUpper,
    IReadOnlyList<double> TestLower, IReadOnlyList<double> TestUpper);

/// <summary>PNG charts of training, forecasts and backtests (ScottPlot, rendered off-screen by SkiaSharp).</summary>
public static class Plots
{
    private static readonly Color HistoryColor = Color.FromHex("#4C72B0");
    private static readonly Color PredictionColor = Color.FromHex("#F28E2B");
    private static readonly Color ForecastColor = Color.FromHex("#D62728");
    private static readonly Color TrainColor = Color.FromHex("#4E79A7");
    private static readonly Color ValidationColor = Color.FromHex("#F28E2B");
    private static readonly Color BestEpochColor = Color.FromHex("#2CA02C");
    private static readonly Color ValidationShade = Color.FromHex("#2CA02C").WithAlpha(0.10);
    private static readonly Color TestShade = Color.FromHex("#9467BD").WithAlpha(0.10);

    // Tableau 10: distinct on screen and in greyscale print; the model takes the first colour.
    private static readonly Color[] SeriesPalette =
    [
        Color.FromHex("#4E79A7"), Color.FromHex("#F28E2B"), Color.FromHex("#59A14F"), Color.FromHex("#E15759"),
        Color.FromHex("#76B7B2"), Color.FromHex("#EDC948"), Color.FromHex("#B07AA1"), Color.FromHex("#FF9DA7"),
        Color.FromHex("#9C755F"), Color.FromHex("#BAB0AC"),
    ];

    /// <summary>
    /// Train and validation loss per epoch (epochs numbered from 1), a marker at the best epoch (1-based),
    /// and a log y axis when the losses span more than two decades.
    /// </summary>
    public static void WriteLoss(string path, IReadOnlyList<double> trainLoss, IReadOnlyList<double> validationLoss, int bestEpoch, string title)
    {
        ArgumentNullException.ThrowIfNull(trainLoss);
        ArgumentNullException.ThrowIfNull(validationLoss);

        using var plot = NewPlot(title);
        var positive = trainLoss.Concat(validationLoss).Where(v => double.IsFinite(v) && v > 0).ToArray();
        bool log = positive.Length > 0
            && trainLoss.Concat(validationLoss).All(v => !double.IsFinite(v) || v > 0)
            && positive.Max() / positive.Min() > 100;
        Func<double, double> scale = log ? Math.Log10 : v => v;

        AddLossLine(plot, trainLoss, scale, TrainColor, "train");
        AddLossLine(plot, validationLoss, scale, ValidationColor, "validation");

        int epochs = Math.Max(trainLoss.Count, validationLoss.Count);
        if (bestEpoch >= 1 && bestEpoch <= epochs)
        {
            var best = plot.Add.VerticalLine(bestEpoch, 1.5f, BestEpochColor, LinePattern.Dashed);
            best.LegendText = $"best epoch ({bestEpoch.ToString(CultureInfo.InvariantCulture)})";
        }

        if (log)
        {
            // ScottPlot has no log axis: values are plotted as log10 and the ticks are labelled back in data units.
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => FormatAxisNumber(Math.Pow(10, y)),
            };
            plot.Axes.Left.TickGenerator = ticks;
            plot.Grid.MinorLineColor = Colors.Black.WithAlpha(0.05);
            plot.Grid.MinorLineWidth = 1;
        }

        // Epoch ticks are whole numbers: "2.5 epochs" on the axis would be noise.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true, TickDensity = 0.6 };
        plot.XLabel("epoch");
        plot.YLabel(log ? "loss (log scale)" : "loss");
        // Below the chart: inside, it would hide the best-epoch marker whenever training stops at the best epoch.
        plot.ShowLegend(Edge.Bottom);
        if (epochs > 0) plot.Axes.SetLimitsX(0.5, epochs + 0.5);
        plot.Axes.AutoScaleY();
        Save(plot, path, 1000, 500);
    }

    /// <summary>
    /// Two panels: the target's whole history with the validation and test regions shaded, one-step-ahead test
    /// predictions, and the forecast after the last observation joined to the last observed point; below it the same
    /// zoomed on the last <paramref name="zoomPoints"/> observations and the forecast, where a short forecast can be read.
    /// A <paramref name="band"/> (a quantile head's interval) is shaded around the forecast and the test predictions in both.
    /// </summary>
    public static void WriteForecast(string path, string title, string targetName, TimeAxis time, IReadOnlyList<double> history,
        int validationStart, int testStart, IReadOnlyList<int> testPredictionIndices, IReadOnlyList<double> testPredictions,
        IReadOnlyList<double> forecast, int zoomPoints = 0, IntervalBand? band = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(testPredictionIndices);
        ArgumentNullException.ThrowIfNull(testPredictions);
        ArgumentNullException.ThrowIfNull(forecast);
        if (time.Length != history.Count)
            throw new ArgumentException($"The time axis has {time.Length} points but the history has {history.Count}.", nameof(time));
        if (testPredictionIndices.Count != testPredictions.Count)
            throw new ArgumentException("Each test prediction needs exactly one index.", nameof(testPredictions));
        if (band is not null && (band.ForecastLower.Count != forecast.Count || band.ForecastUpper.Count != forecast.Count
            || (band.TestLower.Count > 0 && band.TestLower.Count != testPredictions.Count) || band.TestLower.Count != band.TestUpper.Count))
            throw new ArgumentException("The interval needs one lower and one upper value per forecast step and per test prediction.", nameof(band));

        using var full = NewPlot(title);
        DrawForecast(full, targetName, time, history, validationStart, testStart, testPredictionIndices, testPredictions, forecast, band);
        int n = history.Count;
        if (zoomPoints <= 0 || zoomPoints >= n || forecast.Count == 0)
        {
            Save(full, path, 1200, 500);
            return;
        }

        int from = n - zoomPoints;
        using var zoom = NewPlot($"last {zoomPoints.ToString(CultureInfo.InvariantCulture)} observations and the forecast");
        DrawForecast(zoom, targetName, time, history, validationStart, testStart, testPredictionIndices, testPredictions, forecast, band);
        zoom.HideLegend();
        double left = time.Position(from), right = time.FuturePosition(forecast.Count);
        var visible = history.Skip(from)
            .Concat(testPredictionIndices.Select((index, i) => (index, i)).Where(p => p.index >= from).Select(p => testPredictions[p.i]))
            .Concat(forecast)
            .Concat(band is null ? [] : band.ForecastLower.Concat(band.ForecastUpper)
                .Concat(testPredictionIndices.Select((index, i) => (index, i)).Where(p => p.index >= from && p.i < band.TestLower.Count)
                    .SelectMany(p => new[] { band.TestLower[p.i], band.TestUpper[p.i] })))
            .Where(double.IsFinite).ToArray();
        double pad = (right - left) * 0.02;
        zoom.Axes.SetLimitsX(left - pad, right + pad);
        if (visible.Length > 0)
        {
            double low = visible.Min(), high = visible.Max(), margin = Math.Max(1e-9, (high - low) * 0.08);
            zoom.Axes.SetLimitsY(low - margin, high + margin);
        }

        UseFontFor(full);
        UseFontFor(zoom);
        var multiplot = new Multiplot();
        multiplot.Reset(full);
        multiplot.AddPlot(zoom);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        multiplot.SavePng(path, 1200, 900);
    }

    private static void DrawForecast(Plot plot, string targetName, TimeAxis time, IReadOnlyList<double> history,
        int validationStart, int testStart, IReadOnlyList<int> testPredictionIndices, IReadOnlyList<double> testPredictions,
        IReadOnlyList<double> forecast, IntervalBand? band)
    {
        int n = history.Count;
        // Spans are added first so that every line is drawn over the shading.
        if (n > 0)
        {
            double end = time.Position(n - 1);
            int val = Math.Clamp(validationStart, 0, n);
            int test = Math.Clamp(testStart, val, n);
            if (test > val) AddSplit(plot, time.Position(val), test < n ? time.Position(test) : end, ValidationShade, "validation");
            if (test < n) AddSplit(plot, time.Position(test), end, TestShade, "test");
        }

        if (band is not null && n > 0) AddBand(plot, time, history, testPredictionIndices, forecast, band);

        var xs = Enumerable.Range(0, n).Select(time.Position).ToArray();
        var historyLine = plot.Add.ScatterLine(xs, history.ToArray(), HistoryColor);
        historyLine.LineWidth = 1.5f;
        historyLine.LegendText = "history";

        if (testPredictions.Count > 0)
        {
            var px = testPredictionIndices.Select(i => (uint)i < (uint)n
                ? time.Position(i)
                : throw new ArgumentOutOfRangeException(nameof(testPredictionIndices), i, "A test prediction index is outside the history.")).ToArray();
            var predictions = plot.Add.Scatter(px, testPredictions.ToArray(), PredictionColor);
            predictions.MarkerSize = MarkerSizeFor(px.Length);
            // Without markers the line is all there is of the predictions, so it must carry more weight.
            predictions.LineWidth = predictions.MarkerSize > 0 ? 1 : 1.5f;
            predictions.LineColor = PredictionColor.WithAlpha(0.6);
            predictions.LegendText = "test predictions (1 step ahead)";
        }

        if (forecast.Count > 0 && n > 0)
        {
            var fx = new double[forecast.Count + 1];
            var fy = new double[forecast.Count + 1];
            fx[0] = time.Position(n - 1);
            fy[0] = history[n - 1];
            for (int k = 1; k <= forecast.Count; k++)
            {
                fx[k] = time.FuturePosition(k);
                fy[k] = forecast[k - 1];
            }
            var future = plot.Add.Scatter(fx, fy, ForecastColor);
            future.LineWidth = 2;
            future.MarkerSize = MarkerSizeFor(forecast.Count) + 1;
            future.LegendText = $"forecast ({forecast.Count.ToString(CultureInfo.InvariantCulture)} steps)";
        }

        if (time.Kind == TimeAxisKind.Date)
        {
            var axis = plot.Axes.DateTimeTicksBottom();
            double days = n > 1 ? time.Position(n - 1) - time.Position(0) : 0;
            if (axis.TickGenerator is ScottPlot.TickGenerators.DateTimeAutomatic ticks)
                ticks.LabelFormatter = d => FormatDateTick(d, days);
            plot.XLabel("date");
        }
        else
        {
            plot.XLabel(time.Kind == TimeAxisKind.Number ? "time" : "row");
            // Numeric times are often years: thousands separators ("1,960") would read as a quantity.
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = x => x.ToString("0.####", CultureInfo.InvariantCulture),
                IntegerTicksOnly = time.Kind == TimeAxisKind.Index,
            };
        }
        plot.YLabel(targetName);
        // Outside the data area: a series can sit anywhere, so no inside corner is reliably empty.
        plot.ShowLegend(Edge.Bottom);
        plot.Axes.Margins(horizontal: 0.02, vertical: 0.08);
    }

    /// <summary>
    /// The interval, shaded under the lines: around the one-step test predictions (lighter) and around the forecast, which
    /// starts from the last observation (zero width there) so the band opens out of the history.
    /// </summary>
    private static void AddBand(Plot plot, TimeAxis time, IReadOnlyList<double> history, IReadOnlyList<int> testPredictionIndices,
        IReadOnlyList<double> forecast, IntervalBand band)
    {
        int n = history.Count;
        if (band.TestLower.Count > 1)
        {
            var order = Enumerable.Range(0, band.TestLower.Count).Where(i => (uint)testPredictionIndices[i] < (uint)n)
                .OrderBy(i => testPredictionIndices[i]).ToArray();
            if (order.Length > 1)
            {
                var test = plot.Add.FillY(order.Select(i => time.Position(testPredictionIndices[i])).ToArray(),
                    order.Select(i => band.TestLower[i]).ToArray(), order.Select(i => band.TestUpper[i]).ToArray());
                test.FillColor = PredictionColor.WithAlpha(0.18);
                test.LineWidth = 0;
                test.LegendText = $"test {band.Label}";
            }
        }
        if (forecast.Count > 0)
        {
            var fx = new double[forecast.Count + 1];
            var low = new double[forecast.Count + 1];
            var high = new double[forecast.Count + 1];
            fx[0] = time.Position(n - 1);
            low[0] = high[0] = history[n - 1];
            for (int k = 1; k <= forecast.Count; k++)
            {
                fx[k] = time.FuturePosition(k);
                low[k] = band.ForecastLower[k - 1];
                high[k] = band.ForecastUpper[k - 1];
            }
            var future = plot.Add.FillY(fx, low, high);
            future.FillColor = ForecastColor.WithAlpha(0.22);
            future.LineWidth = 0;
            future.LegendText = $"forecast {band.Label}";
        }
    }

    /// <summary>
    /// MASE per forecast step (1..H) on the test split, the model and each baseline as lines, with the MASE = 1 reference:
    /// where the model's lead over the baselines grows or shrinks with the lead time.
    /// </summary>
    public static void WriteStepErrors(string path, string title, IReadOnlyDictionary<string, IReadOnlyList<double>> maseByStep)
    {
        ArgumentNullException.ThrowIfNull(maseByStep);
        using var plot = NewPlot(title);
        int s = 0, steps = 0;
        foreach (var (name, values) in maseByStep)
        {
            var points = values.Select((v, k) => (Step: k + 1.0, Mase: v)).Where(p => double.IsFinite(p.Mase)).ToArray();
            steps = Math.Max(steps, values.Count);
            var color = SeriesPalette[s++ % SeriesPalette.Length];
            if (points.Length == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => p.Step).ToArray(), points.Select(p => p.Mase).ToArray(), color);
            line.LineWidth = s == 1 ? 3 : 1.5f;
            line.MarkerSize = MarkerSizeFor(points.Length);
            line.LegendText = name;
        }
        var naive = plot.Add.HorizontalLine(1, 1, Colors.Black.WithAlpha(0.5), LinePattern.Dashed);
        naive.LegendText = "MASE = 1";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.XLabel("forecast step");
        plot.YLabel("test MASE");
        plot.ShowLegend(Edge.Bottom);
        if (steps > 0) plot.Axes.SetLimitsX(0.5, steps + 0.5);
        plot.Axes.AutoScaleY();
        Save(plot, path, 1000, 500);
    }

    /// <summary>
    /// Per-fold MASE of the model and each baseline as grouped bars, with the MASE = 1 reference
    /// (the scaling naive forecast's in-sample error). Series keep the dictionary's enumeration order within
    /// each group and take the palette in that order, so the model should be added first.
    /// </summary>
    public static void WriteBacktest(string path, string title, IReadOnlyList<string> foldLabels,
        IReadOnlyDictionary<string, IReadOnlyList<double>> maseBySeries)
    {
        ArgumentNullException.ThrowIfNull(foldLabels);
        ArgumentNullException.ThrowIfNull(maseBySeries);

        using var plot = NewPlot(title);
        var series = maseBySeries.ToArray();
        int groupWidth = series.Length + 1; // one empty slot separates the folds
        var legend = new List<LegendItem>();
        var bars = new List<Bar>();

        for (int s = 0; s < series.Length; s++)
        {
            var color = SeriesPalette[s % SeriesPalette.Length];
            legend.Add(new LegendItem { LabelText = series[s].Key, FillColor = color });
            var values = series[s].Value;
            for (int f = 0; f < Math.Min(foldLabels.Count, values.Count); f++)
            {
                // A missing score is left as a gap rather than drawn as a zero, which would look like a perfect fold.
                if (!double.IsFinite(values[f])) continue;
                bars.Add(new Bar
                {
                    Position = f * groupWidth + s,
                    Value = values[f],
                    FillColor = color,
                    LineWidth = 0,
                    Size = 0.9,
                });
            }
        }
        if (bars.Count > 0) plot.Add.Bars(bars);

        var naive = plot.Add.HorizontalLine(1, 1.5f, Colors.Black.WithAlpha(0.6), LinePattern.Dashed);
        naive.ExcludeFromLegend = true;
        legend.Add(new LegendItem { LabelText = "MASE = 1", LineColor = Colors.Black.WithAlpha(0.6), LineWidth = 1.5f, LinePattern = LinePattern.Dashed });

        // Manual ticks are never thinned by ScottPlot: beyond about a dozen folds only every stride-th is labelled.
        double center = (series.Length - 1) / 2.0;
        int stride = Math.Max(1, (int)Math.Ceiling(foldLabels.Count / 12.0));
        var labelled = Enumerable.Range(0, foldLabels.Count).Where(f => f % stride == 0).ToArray();
        plot.Axes.Bottom.SetTicks(labelled.Select(f => f * groupWidth + center).ToArray(), labelled.Select(f => foldLabels[f]).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Grid.XAxisStyle.IsVisible = false;
        plot.XLabel("fold");
        plot.YLabel("MASE");
        // Manual items: one entry per series, not one per bar.
        plot.Legend.ManualItems.AddRange(legend);
        plot.ShowLegend(Edge.Bottom);

        plot.Axes.Margins(bottom: 0, top: 0.15);
        if (foldLabels.Count > 0) plot.Axes.SetLimitsX(-1, foldLabels.Count * groupWidth - 1);
        double top = bars.Count > 0 ? Math.Max(1, bars.Max(b => b.Value)) : 1;
        plot.Axes.SetLimitsY(0, top * 1.15);
        Save(plot, path, 1000, 500);
    }

    /// <summary>
    /// One small panel per series of a group, in a near-square grid: the series' history (the test span shaded), the
    /// forecast after it, and in the panel's title the symbol with its test MASE against naive's.
    /// </summary>
    public static void WriteGrid(string path, IReadOnlyList<LstmCluster.Core.Forecasting.SeriesOutcome> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("A grid needs at least one series.", nameof(series));
        int columns = (int)Math.Ceiling(Math.Sqrt(series.Count));
        int rows = (int)Math.Ceiling(series.Count / (double)columns);
        var multiplot = new Multiplot();
        var plots = new List<Plot>();
        try
        {
            for (int i = 0; i < series.Count; i++)
            {
                var s = series[i];
                string verdict = s.BeatsNaive ? "beats naive" : s.ModelMase == s.NaiveMase ? "ties naive" : "naive wins";
                var plot = NewPlot(string.Create(CultureInfo.InvariantCulture, $"{s.Symbol}: MASE {s.ModelMase:0.###} vs naive {s.NaiveMase:0.###} ({verdict})"));
                plot.Axes.Title.Label.FontSize = 12;
                int n = s.History.Count;
                if (s.TestStart > 0 && s.TestStart < n) AddSplit(plot, s.TestStart, n - 1, TestShade, "test");
                var history = plot.Add.Scatter(Enumerable.Range(0, n).Select(x => (double)x).ToArray(), s.History.ToArray(), HistoryColor);
                history.MarkerSize = 0;
                history.LineWidth = 1.5f;
                if (s.Forecast.Count > 0 && n > 0)
                {
                    var xs = Enumerable.Range(n - 1, s.Forecast.Count + 1).Select(x => (double)x).ToArray();
                    var ys = new[] { s.History[n - 1] }.Concat(s.Forecast.Select(f => f.Value)).ToArray();
                    var forecast = plot.Add.Scatter(xs, ys, ForecastColor);
                    forecast.LineWidth = 2;
                    forecast.MarkerSize = 4;
                }
                plot.HideLegend();
                UseFontFor(plot);
                plots.Add(plot);
                if (i == 0) multiplot.Reset(plot);
                else multiplot.AddPlot(plot);
            }
            multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            multiplot.SavePng(path, 420 * columns, 300 * rows);
        }
        finally
        {
            foreach (var plot in plots) plot.Dispose();
        }
    }

    private static Plot NewPlot(string title)
    {
        PlotFonts.EnsureInstalled();
        var plot = new Plot();
        plot.Title(title);
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.1);
        plot.Legend.BackgroundColor = Colors.White.WithAlpha(0.85);
        return plot;
    }

    private static void AddLossLine(Plot plot, IReadOnlyList<double> loss, Func<double, double> scale, Color color, string label)
    {
        // A diverged epoch (NaN or infinite loss) is left out rather than allowed to wreck the axis limits.
        var points = loss.Select((v, i) => (Epoch: i + 1.0, Loss: v)).Where(p => double.IsFinite(scale(p.Loss))).ToArray();
        if (points.Length == 0) return;
        var xs = points.Select(p => p.Epoch).ToArray();
        var ys = points.Select(p => scale(p.Loss)).ToArray();
        var line = plot.Add.Scatter(xs, ys, color);
        line.LineWidth = 2;
        line.MarkerSize = MarkerSizeFor(loss.Count);
        line.LegendText = label;
    }

    private static void AddSplit(Plot plot, double from, double to, Color fill, string label)
    {
        // ScottPlot names spans by the axis they extend along: a HorizontalSpan covers an x range.
        var span = plot.Add.HorizontalSpan(from, to, fill);
        span.LineColor = fill.WithAlpha(0.6);
        span.LineWidth = 1;
        span.LegendText = label;
    }

    // Markers help to read short series; on long ones they merge into a thick smear.
    private static float MarkerSizeFor(int points) => points <= 60 ? 5 : points <= 150 ? 3 : 0;

    private static string FormatAxisNumber(double v) =>
        Math.Abs(v) is >= 1e-3 and < 1e5 || v == 0
            ? v.ToString("0.####", CultureInfo.InvariantCulture)
            : v.ToString("0.#E+0", CultureInfo.InvariantCulture);

    // ISO order instead of ScottPlot's culture default (01/04/2023 reads as two different days around the world);
    // month resolution once the axis spans years, since ticks then fall on month starts.
    private static string FormatDateTick(DateTime d, double spanDays) =>
        d.TimeOfDay != TimeSpan.Zero ? d.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)
        : spanDays >= 730 && d.Day == 1 ? d.ToString("yyyy-MM", CultureInfo.InvariantCulture)
        : d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>
    /// Labels the user named (the file, the target column) may hold characters the embedded font lacks (CJK, emoji): such a
    /// label is drawn with an installed font that has all of them, or, when none has (emoji with Latin letters), as an image
    /// drawn run by run with a font for each (<see cref="PlotFonts.DrawRuns"/>). Every other label keeps DejaVu Sans.
    /// </summary>
    private static void UseFontFor(Plot plot)
    {
        foreach (var label in new[] { plot.Axes.Title.Label, plot.Axes.Left.Label, plot.Axes.Bottom.Label })
        {
            if (string.IsNullOrEmpty(label.Text) || PlotFonts.Runs(label.Text).All(r => r.Family == PlotFonts.Family)) continue;
            if (PlotFonts.SingleFontFor(label.Text) is { } family)
            {
                label.FontName = family;
            }
            else
            {
                label.Image = PlotFonts.DrawRuns(label.Text, label.FontSize, label.ForeColor, label.Bold);
                label.Text = "\u200B"; // not blank (a zero-width space): ScottPlot draws no title for blank text, image or not
            }
        }
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        UseFontFor(plot);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        plot.SavePng(path, width, height);
    }
}
