using System.Globalization;
using System.Text.Json;

namespace LstmCluster.Cli.Tests;

/// <summary><c>train --symbol all|A,B --strategy per-series</c> on a long-format file.</summary>
[Collection(CliCollection.Name)]
public sealed class GroupTrainTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Two shipped stocks (123 monthly rows each) and a symbol with 6 rows, too few for the windows.</summary>
    private string SmallLongFile()
    {
        var lines = File.ReadAllLines(CliRunner.Sample("vega_stocks.csv"));
        var keep = lines.Skip(1).Where(l => l.StartsWith("MSFT,", StringComparison.Ordinal) || l.StartsWith("IBM,", StringComparison.Ordinal));
        var tiny = Enumerable.Range(1, 6).Select(i => string.Create(CultureInfo.InvariantCulture, $"TINY,Jan {i} 2000,{10 + i}"));
        string path = Path.Combine(dir, "long.csv");
        File.WriteAllLines(path, [lines[0], .. keep, .. tiny]);
        return path;
    }

    private static string[] Train(string data, string outDir, string symbol, params string[] more) =>
        ["train", "--data", data, "--target", "price", "--symbol", symbol, "--lookback", "12", "--epochs", "2", "--hidden", "8",
            "--normalize", "window", "--workers", "1", "--out", outDir, .. more];

    [Fact]
    public void Train_symbol_all_per_series_trains_each_series_skips_the_short_one_and_writes_the_group_files()
    {
        var outDir = Path.Combine(dir, "all");
        var r = CliRunner.Run(Train(SmallLongFile(), outDir, "all", "--strategy", "per-series"));
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Contains("warning: series 'TINY' skipped", r.Error);
        Assert.Contains("too short", r.Error);

        // One run folder per trained series, as train writes for one.
        foreach (var symbol in new[] { "MSFT", "IBM" })
            Assert.True(File.Exists(Path.Combine(outDir, "series", symbol, "model", "weights.bin")), symbol);
        Assert.False(Directory.Exists(Path.Combine(outDir, "series", "TINY")));

        var forecast = File.ReadAllLines(Path.Combine(outDir, "forecast.csv"));
        Assert.Equal("symbol,step,time,forecast", forecast[0]);
        Assert.Equal(["MSFT", "IBM"], forecast.Skip(1).Select(l => l.Split(',')[0]));
        Assert.All(forecast.Skip(1), l => Assert.Equal("2010-04-01", l.Split(',')[2]));

        var series = File.ReadAllLines(Path.Combine(outDir, "series.csv"));
        Assert.StartsWith("symbol,status,rows,model_mase,naive_mase", series[0]);
        Assert.Equal(["MSFT,trained", "IBM,trained", "TINY,skipped"], series.Skip(1).Select(l => string.Join(',', l.Split(',').Take(2))));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        var root = summary.RootElement;
        Assert.Equal(("per-series", 3, 2), (root.GetProperty("strategy").GetString(), root.GetProperty("series").GetInt32(), root.GetProperty("trained").GetInt32()));
        Assert.Equal("TINY", root.GetProperty("skipped")[0].GetProperty("symbol").GetString());
        // The medians are those of the two members' own metrics.json.
        var mase = new[] { "MSFT", "IBM" }.Select(s =>
        {
            using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "series", s, "metrics.json")));
            return m.RootElement.GetProperty("test").GetProperty("model").GetProperty("mase").GetDouble();
        }).ToArray();
        Assert.Equal(mase.Average(), root.GetProperty("median_model_mase").GetDouble(), 12);
        Assert.True(new FileInfo(Path.Combine(outDir, "grid.png")).Length > 1000);
    }

    [Fact]
    public void Train_symbol_all_global_trains_one_model_over_the_usable_series_and_writes_the_same_group_files()
    {
        var outDir = Path.Combine(dir, "global");
        var r = CliRunner.Run(Train(SmallLongFile(), outDir, "all", "--strategy", "global"));
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Contains("warning: series 'TINY' skipped", r.Error);
        Assert.Contains("strategy global: one model over", r.Out);

        // Both series' model directories hold the one set of weights, each with its own preprocessing.
        var weights = new[] { "MSFT", "IBM" }.Select(s => File.ReadAllBytes(Path.Combine(outDir, "series", s, "model", "weights.bin"))).ToArray();
        Assert.Equal(weights[0], weights[1]);
        Assert.NotEqual(File.ReadAllText(Path.Combine(outDir, "series", "MSFT", "model", "preprocessing.json")),
            File.ReadAllText(Path.Combine(outDir, "series", "IBM", "model", "preprocessing.json")));

        var forecast = File.ReadAllLines(Path.Combine(outDir, "forecast.csv"));
        Assert.Equal("symbol,step,time,forecast", forecast[0]);
        Assert.Equal(["MSFT", "IBM"], forecast.Skip(1).Select(l => l.Split(',')[0]));
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        Assert.Equal(("global", 2), (summary.RootElement.GetProperty("strategy").GetString(), summary.RootElement.GetProperty("trained").GetInt32()));
        Assert.True(File.Exists(Path.Combine(outDir, "grid.png")));
    }

    [Fact]
    public void An_unknown_symbol_in_the_list_exits_2_naming_it_before_anything_trains()
    {
        var outDir = Path.Combine(dir, "bad");
        var r = CliRunner.Run(Train(SmallLongFile(), outDir, "MSFT,NOPE"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown symbol 'NOPE'; symbols are: MSFT, IBM, TINY", r.Error);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void A_list_with_no_usable_series_exits_2_saying_why_for_each()
    {
        var r = CliRunner.Run(Train(SmallLongFile(), Path.Combine(dir, "none"), "TINY,TINY"));
        // TINY,TINY is one series (a name repeated is kept once), and too short.
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("none of the 1 series could be trained: TINY:", r.Error);
    }
}
