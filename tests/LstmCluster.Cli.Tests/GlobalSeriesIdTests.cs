using System.Globalization;
using System.Text.Json;

namespace LstmCluster.Cli.Tests;

/// <summary><c>train --symbol all --strategy global --series-id one-hot</c>, and forecasting one series from its saved model.</summary>
[Collection(CliCollection.Name)]
public sealed class GlobalSeriesIdTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Two shipped stocks (123 monthly rows each).</summary>
    private string TwoStocks()
    {
        var lines = File.ReadAllLines(CliRunner.Sample("vega_stocks.csv"));
        var keep = lines.Skip(1).Where(l => l.StartsWith("MSFT,", StringComparison.Ordinal) || l.StartsWith("IBM,", StringComparison.Ordinal));
        string path = Path.Combine(dir, "two.csv");
        File.WriteAllLines(path, [lines[0], .. keep]);
        return path;
    }

    private static string[] Train(string data, string outDir, params string[] more) =>
        ["train", "--data", data, "--target", "price", "--symbol", "all", "--strategy", "global", "--lookback", "12", "--epochs", "2", "--hidden", "8",
            "--normalize", "window", "--workers", "1", "--out", outDir, .. more];

    [Fact]
    public void A_one_hot_series_id_widens_the_input_and_a_series_forecasts_alone_from_its_model_as_the_group_did()
    {
        string data = TwoStocks();
        var outDir = Path.Combine(dir, "onehot");
        var r = CliRunner.Run(Train(data, outDir, "--series-id", "one-hot"));
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Contains("a one-hot series id adds 2 inputs", r.Out);

        foreach (var (symbol, index) in new[] { ("MSFT", 0), ("IBM", 1) })
        {
            string model = Path.Combine(outDir, "series", symbol, "model");
            using var pre = JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "preprocessing.json")));
            Assert.Equal((index, 2), (pre.RootElement.GetProperty("series_index").GetInt32(), pre.RootElement.GetProperty("series_count").GetInt32()));
            using var spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "spec.json")));
            Assert.Equal(3, spec.RootElement.GetProperty("input_size").GetInt32());

            // The saved model on the whole file (its metadata names the symbol): the group's forecast for that series.
            string outFile = Path.Combine(dir, $"{symbol}.csv");
            var f = CliRunner.Run("forecast", "--model", model, "--data", data, "--out", outFile);
            Assert.True(f.ExitCode == 0, f.Error + f.Out);
            double alone = double.Parse(File.ReadAllLines(outFile)[1].Split(',')[2], CultureInfo.InvariantCulture);
            var grouped = File.ReadAllLines(Path.Combine(outDir, "forecast.csv")).Single(l => l.StartsWith(symbol + ",", StringComparison.Ordinal));
            Assert.Equal(double.Parse(grouped.Split(',')[3], CultureInfo.InvariantCulture), alone, 9);
        }
        // One set of weights, each series' own indicator: the two forecasts differ from what the other's id would give.
        Assert.NotEqual(File.ReadAllText(Path.Combine(outDir, "series", "MSFT", "model", "preprocessing.json")),
            File.ReadAllText(Path.Combine(outDir, "series", "IBM", "model", "preprocessing.json")));

        // Exporting to PyTorch is refused: model.json describes the CSV's columns only.
        var export = CliRunner.Run("export", "--model", Path.Combine(outDir, "series", "IBM", "model"), "--out", Path.Combine(dir, "ibm.pt"));
        Assert.Equal(2, export.ExitCode);
        Assert.Contains("series-id input", export.Error);
    }

    [Fact]
    public void Series_id_outside_strategy_global_is_a_usage_error()
    {
        var r = CliRunner.Run(["train", "--data", TwoStocks(), "--target", "price", "--symbol", "all", "--strategy", "per-series", "--series-id", "one-hot",
            "--out", Path.Combine(dir, "x")]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--series-id applies to --strategy global", r.Error);
    }
}
