using LstmCluster.Reporting.Rendering;
using SkiaSharp;

namespace LstmCluster.Cli.Tests;

/// <summary>
/// Column names in CJK or with emoji are drawn with installed fonts that have them, not as boxes: one font for the label
/// when one has every character, else run by run. Needs such fonts
/// installed (Debian's fonts-wqy-microhei and fonts-noto-color-emoji; .ci/run installs them); skipped naming them otherwise, failing in CI.
/// </summary>
public sealed class PlotFontTests
{
    [SkippableTheory]
    [InlineData("销量 (件)")]
    [InlineData("売上高")]
    [InlineData("매출")]
    public void Cjk_labels_get_one_installed_font_that_has_all_their_characters(string label)
    {
        RequireFonts();
        string text = $"sales.csv: {label}";
        string? family = PlotFonts.SingleFontFor(text);
        Assert.True(family is not null,
            $"no installed font has the characters of '{text}': install Debian's fonts-wqy-microhei (as .ci/run does)");
        using var face = SKTypeface.FromFamilyName(family);
        Assert.True(face.ContainsGlyphs(text.Replace(" ", "")), $"{family} was chosen for '{text}' but lacks some of its glyphs");
    }

    [SkippableTheory]
    [InlineData("sales.csv: 🚀", 2)]
    [InlineData("📈 sales", 2)]
    [InlineData("销量🚀 (件)", 5)] // 销量 | 🚀 | ( | 件 | ): DejaVu keeps whatever it has, so Latin text looks the same in every label
    public void A_label_no_single_font_draws_is_cut_into_runs_each_drawn_by_a_font_that_has_it(string label, int runs)
    {
        RequireFonts();
        Assert.Null(PlotFonts.SingleFontFor(label));
        var cut = PlotFonts.Runs(label);
        Assert.Equal(label, string.Concat(cut.Select(r => r.Text)));
        Assert.True(cut.Count == runs, $"runs of '{label}': {string.Join(" | ", cut.Select(r => $"{r.Text} ({r.Family})"))}");
        Assert.True(cut.Select(r => r.Family).Distinct().Count() > 1,
            $"'{label}' needs more than one font: install Debian's fonts-wqy-microhei and fonts-noto-color-emoji (as .ci/run does)");
        foreach (var (text, family) in cut)
        {
            using var face = family == PlotFonts.Family ? null : SKTypeface.FromFamilyName(family);
            var glyphs = text.Replace(" ", "");
            Assert.True(face is null ? PlotFonts.Runs(glyphs).All(r => r.Family == PlotFonts.Family) : face.ContainsGlyphs(glyphs),
                $"{family} draws '{text}' of '{label}' but lacks some of its glyphs");
        }

        using var image = PlotFonts.DrawRuns(label, 16, ScottPlot.Colors.Black, bold: true);
        Assert.True(image.Width > 16 * cut.Count && image.Height >= 16, $"{image.Width}x{image.Height}");
    }

    [Fact]
    public void Text_the_embedded_font_draws_keeps_it()
    {
        const string text = "AirPassengers.csv: value (h = 1) — ünïcödé";
        Assert.Null(PlotFonts.SingleFontFor(text));
        Assert.Equal([(text, PlotFonts.Family)], PlotFonts.Runs(text));
    }

    [Fact]
    public void A_train_run_on_a_cjk_target_writes_its_plots()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "销量.csv");
        var rows = File.ReadAllLines(Path.Combine(RepoRoot(), "samples", "AirPassengers.csv"));
        File.WriteAllLines(csv, [rows[0].Replace("value", "销量🚀"), .. rows.Skip(1)]);
        var run = CliRunner.Run("train", "--data", csv, "--target", "销量🚀", "--epochs", "1", "--hidden", "8", "--layers", "1",
            "--lookback", "12", "--out", Path.Combine(dir, "run"));
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.True(new FileInfo(Path.Combine(dir, "run", "forecast.png")).Length > 0);
    }

    /// <summary>The CJK and emoji fonts these tests draw with (Debian's fonts-wqy-microhei, fonts-noto-color-emoji).</summary>
    private static void RequireFonts()
    {
        var missing = new List<string>();
        if (PlotFonts.Runs("销").All(r => r.Family == PlotFonts.Family)) missing.Add("a CJK font (Debian: fonts-wqy-microhei)");
        if (PlotFonts.Runs("🚀").All(r => r.Family == PlotFonts.Family)) missing.Add("an emoji font (Debian: fonts-noto-color-emoji)");
        LstmCluster.Tests.Shared.Prerequisite.Require(missing.Count == 0 ? null : $"the plot-font tests need {string.Join(" and ", missing)} installed");
    }

    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "LstmCluster.sln"))) d = d.Parent;
        return d!.FullName;
    }
}
