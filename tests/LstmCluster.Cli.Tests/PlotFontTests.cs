using LstmCluster.Reporting.Rendering;
using SkiaSharp;

namespace LstmCluster.Cli.Tests;

/// <summary>
/// Column names in CJK or with emoji are drawn with an installed font that has them, not as boxes. Needs such fonts
/// installed (Debian's fonts-wqy-microhei and fonts-noto-color-emoji; .ci/run installs them); fails naming them otherwise.
/// </summary>
public sealed class PlotFontTests
{
    [Theory]
    [InlineData("销量 (件)")]
    [InlineData("売上高")]
    [InlineData("매출")]
    [InlineData("🚀")]
    public void Characters_the_embedded_font_lacks_get_an_installed_font_that_has_them(string label)
    {
        string? family = PlotFonts.FallbackFor($"sales.csv: {label}");
        Assert.True(family is not null,
            $"no installed font has the characters of '{label}': install Debian's fonts-wqy-microhei and fonts-noto-color-emoji (as .ci/run does)");
        using var face = SKTypeface.FromFamilyName(family);
        Assert.True(face.ContainsGlyphs(label.Replace(" ", "")), $"{family} was chosen for '{label}' but lacks some of its glyphs");
    }

    [Fact]
    public void Text_the_embedded_font_draws_keeps_it()
    {
        Assert.Null(PlotFonts.FallbackFor("AirPassengers.csv: value (h = 1) — ünïcödé"));
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

    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "LstmCluster.sln"))) d = d.Parent;
        return d!.FullName;
    }
}
