using System.Text.Json;

namespace LstmCluster.Cli.Tests;

[Collection(CliCollection.Name)]
public sealed class BacktestCommandTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Backtest_prints_one_line_per_fold_and_writes_csv_json_and_plot()
    {
        var outDir = Path.Combine(dir, "bt");
        var r = CliRunner.Run("backtest", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--season", "12", "--lookback", "12", "--folds", "3", "--epochs", "2", "--hidden", "8", "--layers", "1", "--out", outDir);

        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        foreach (var fold in new[] { "fold 1/3: test", "fold 2/3: test", "fold 3/3: test" }) Assert.Contains(fold, r.Out);
        Assert.Contains("epoch   1/2", r.Out);
        Assert.Single(r.Out.Split('\n'), l => l.StartsWith("trained:", StringComparison.Ordinal));
        // The tables go to Spectre's console, which the runner does not capture; the closing line does not.
        Assert.Contains("model beats the best baseline in", r.Out);
        Assert.True(new FileInfo(Path.Combine(outDir, "backtest.png")).Length > 0);

        var csv = File.ReadAllLines(Path.Combine(outDir, "backtest.csv"));
        Assert.Equal("fold,train_end_time,test_start_time,test_end_time,forecaster,mae,rmse,mape,smape,mase", csv[0]);
        Assert.Equal(1 + 3 * 5, csv.Length);
        Assert.Equal(["model", "naive", "seasonal_naive", "drift", "mean"], csv.Skip(1).Take(5).Select(l => l.Split(',')[4]));
        // Three blocks of round(0.3 × 144) / 3 = 14 months end at the last row, 1960-12.
        Assert.StartsWith("3,1959.75,1959.833333,1960.916667,model,", csv[11]);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "backtest.json")));
        var root = json.RootElement;
        Assert.Equal(1, root.GetProperty("backtest").GetProperty("models_trained").GetInt32());
        var folds = root.GetProperty("folds").EnumerateArray().ToArray();
        Assert.Equal(3, folds.Length);
        Assert.All(folds, f => Assert.True(f.GetProperty("model").GetProperty("mase").GetDouble() > 0));
        Assert.All(folds, f => Assert.True(f.GetProperty("baselines").GetProperty("seasonal_naive").GetProperty("mase").GetDouble() > 0));
        double meanMase = folds.Average(f => f.GetProperty("model").GetProperty("mase").GetDouble());
        Assert.Equal(meanMase, root.GetProperty("mean").GetProperty("model").GetProperty("mase").GetDouble(), 9);
    }

    [Fact]
    public void Retrain_trains_a_model_per_fold()
    {
        var outDir = Path.Combine(dir, "bt");
        var r = CliRunner.Run("backtest", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--lookback", "12", "--folds", "2", "--epochs", "1", "--hidden", "8", "--layers", "1", "--retrain", "--out", outDir);

        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Equal(2, r.Out.Split('\n').Count(l => l.StartsWith("trained:", StringComparison.Ordinal)));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "backtest.json")));
        Assert.Equal(2, json.RootElement.GetProperty("backtest").GetProperty("models_trained").GetInt32());
        Assert.All(json.RootElement.GetProperty("folds").EnumerateArray(), f => Assert.True(f.GetProperty("trained").GetBoolean()));
    }

    [Fact]
    public void Too_many_folds_exits_2_saying_how_many_fit_and_writes_nothing()
    {
        var outDir = Path.Combine(dir, "bt");
        var r = CliRunner.Run("backtest", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--lookback", "24", "--horizon", "6", "--folds", "20", "--out", outDir);

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("AirPassengers.csv", r.Error);
        Assert.Contains("too short for 20 backtest folds", r.Error);
        Assert.Contains("at most", r.Error);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Zero_folds_exits_2()
    {
        var r = CliRunner.Run("backtest", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--folds", "0",
            "--out", Path.Combine(dir, "bt"));

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("folds must be between 1", r.Error);
    }
}
