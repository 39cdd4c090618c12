using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LstmCluster.Cli.Tests;

[Collection(CliCollection.Name)]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Auto_says_before_training_that_window_seasonal_is_not_trained_where_it_equals_window_and_metrics_name_it()
    {
        // AirPassengers one month ahead: the trend makes the last value beat last year's month on the training split.
        var outDir = Path.Combine(dir, "twin");
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--season", "12", "--lookback", "12",
            "--epochs", "1", "--hidden", "8", "--workers", "0", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        int said = r.Out.IndexOf("candidate: window-seasonal normalization not trained, same as window: seasonal naive (season 12) did not beat the last value", StringComparison.Ordinal);
        Assert.True(said >= 0 && said < r.Out.IndexOf("candidate: window normalization", StringComparison.Ordinal), r.Out);
        Assert.DoesNotContain("training (window-seasonal)", r.Out);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var normalization = metrics.RootElement.GetProperty("normalization");
        Assert.Equal(["window", "global"], normalization.GetProperty("candidates").EnumerateArray()
            .Select(c => c.GetProperty("normalize").GetString()).Where(n => n != "ensemble"));
        var left = Assert.Single(normalization.GetProperty("left_out").EnumerateArray().ToArray());
        Assert.Equal(("window-seasonal", "window"), (left.GetProperty("normalize").GetString(), left.GetProperty("same_as").GetString()));
    }

    [Fact]
    public void Train_with_quantiles_writes_interval_columns_coverage_and_pinball_loss_and_the_saved_model_forecasts_the_intervals()
    {
        var outDir = Path.Combine(dir, "quantiles");
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--season", "12", "--lookback", "12",
            "--horizon", "2", "--epochs", "3", "--hidden", "16", "--normalize", "window", "--quantiles", "0.1,0.9", "--workers", "2", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);

        // 0.5 was added; the forecast is the MSE point head's, what the same run without quantiles forecasts.
        var plainDir = Path.Combine(dir, "plain");
        var plain = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--season", "12", "--lookback", "12",
            "--horizon", "2", "--epochs", "3", "--hidden", "16", "--normalize", "window", "--workers", "2", "--out", plainDir);
        Assert.True(plain.ExitCode == 0, plain.Error + plain.Out);
        var plainForecast = File.ReadAllLines(Path.Combine(plainDir, "forecast.csv"));
        var forecast = File.ReadAllLines(Path.Combine(outDir, "forecast.csv"));
        Assert.Equal("step,time,forecast,q0.1,q0.5,q0.9", forecast[0]);
        Assert.Equal(3, forecast.Length);
        foreach (var (line, plainLine) in forecast.Skip(1).Zip(plainForecast.Skip(1)))
        {
            var cells = line.Split(',');
            double point = double.Parse(cells[2], CultureInfo.InvariantCulture), low = double.Parse(cells[3], CultureInfo.InvariantCulture),
                median = double.Parse(cells[4], CultureInfo.InvariantCulture), high = double.Parse(cells[5], CultureInfo.InvariantCulture);
            double plainPoint = double.Parse(plainLine.Split(',')[2], CultureInfo.InvariantCulture);
            // Two workers average gradients of another length than without quantiles: equal to float rounding.
            Assert.Equal(plainPoint, point, plainPoint * 1e-5);
            Assert.True(low <= median && median <= high, line);
        }
        Assert.EndsWith(",predicted,q0.1,q0.5,q0.9", File.ReadLines(Path.Combine(outDir, "test_predictions.csv")).First());

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var q = metrics.RootElement.GetProperty("quantiles");
        var interval = Assert.Single(q.GetProperty("intervals").EnumerateArray());
        Assert.Equal(0.8, interval.GetProperty("nominal_coverage").GetDouble());
        Assert.InRange(interval.GetProperty("coverage").GetDouble(), 0, 1);
        Assert.Equal(3, q.GetProperty("levels").GetArrayLength());
        Assert.True(q.GetProperty("levels")[1].GetProperty("pinball_loss").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Object, q.GetProperty("uncalibrated").ValueKind);
        Assert.Equal(3, metrics.RootElement.GetProperty("forecast")[0].GetProperty("quantiles").EnumerateObject().Count());

        var again = Path.Combine(dir, "again.csv");
        var f = CliRunner.Run("forecast", "--model", Path.Combine(outDir, "model"), "--data", CliRunner.Sample("AirPassengers.csv"), "--out", again);
        Assert.True(f.ExitCode == 0, f.Error);
        Assert.Equal(forecast, File.ReadAllLines(again));

        var export = CliRunner.Run("export", "--model", Path.Combine(outDir, "model"), "--out", Path.Combine(dir, "model.pt"));
        Assert.Equal(2, export.ExitCode);
        Assert.Contains("a quantile model (levels 0.1, 0.5, 0.9) cannot be exported", export.Error);
    }

    [Theory]
    [InlineData("0.9,0.1", "quantiles must be in increasing order (0.9 comes before 0.1)")]
    [InlineData("0.1,1", "quantiles must each lie strictly between 0 and 1 (got 1)")]
    [InlineData("0.2,0.2", "quantiles must not repeat a level (0.2 is given twice)")]
    [InlineData("", "quantiles must list levels in (0, 1) separated by commas, such as 0.1,0.5,0.9 (got an empty list)")]
    public void Bad_quantiles_exit_2_with_one_line(string quantiles, string message)
    {
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--quantiles", quantiles, "--out", Path.Combine(dir, "bad"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {message}", r.Error.TrimEnd('\n'));
        Assert.False(Directory.Exists(Path.Combine(dir, "bad")));
    }

    [Fact]
    public void Train_writes_model_forecast_metrics_and_plots_and_forecast_reproduces_it_from_the_saved_model()
    {
        var outDir = Path.Combine(dir, "run");
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--season", "12", "--lookback", "12", "--horizon", "3", "--epochs", "3", "--hidden", "16", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        foreach (var f in new[] { "model/weights.bin", "model/spec.json", "model/preprocessing.json", "model/metadata.json", "forecast.csv", "metrics.json", "forecast.png", "loss.png" })
            Assert.True(new FileInfo(Path.Combine(outDir, f)).Length > 0, $"{f} missing or empty");
        Assert.Contains("epoch   1/3", r.Out);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var root = metrics.RootElement;
        foreach (var key in new[] { "mae", "rmse", "mape", "smape", "mase" })
            Assert.True(root.GetProperty("model").GetProperty(key).GetDouble() >= 0);
        foreach (var baseline in new[] { "naive", "seasonal_naive", "drift", "mean" })
            Assert.True(root.GetProperty("baselines").GetProperty(baseline).GetProperty("mase").GetDouble() > 0);
        Assert.Contains(root.GetProperty("beats_naive").GetProperty("test").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        Assert.Equal(root.GetProperty("test").GetProperty("beats_naive").GetBoolean(), root.GetProperty("beats_naive").GetProperty("test").GetBoolean());

        // --normalize auto (the default) trained its three candidates, scored their mean, and says which won on validation;
        // three fixed epochs end at the limit.
        var normalization = root.GetProperty("normalization");
        Assert.Equal("auto", normalization.GetProperty("mode").GetString());
        var candidates = normalization.GetProperty("candidates").EnumerateArray().ToArray();
        Assert.Equal(["window-seasonal", "window", "global", "ensemble"], candidates.Select(c => c.GetProperty("normalize").GetString()));
        Assert.Equal(0, normalization.GetProperty("left_out").GetArrayLength());
        Assert.True(candidates[^1].GetProperty("members").GetArrayLength() >= 2);
        var chosen = Assert.Single(candidates, c => c.GetProperty("chosen").GetBoolean());
        Assert.Equal(chosen.GetProperty("normalize").GetString(), normalization.GetProperty("chosen").GetString());
        Assert.Equal(candidates.Min(c => c.GetProperty("validation").GetProperty("mae").GetDouble()), chosen.GetProperty("validation").GetProperty("mae").GetDouble());
        Assert.Equal(chosen.GetProperty("test").GetProperty("mase").GetDouble(), root.GetProperty("model").GetProperty("mase").GetDouble());
        Assert.Contains("candidate: global normalization", r.Out);
        Assert.Equal("epoch_limit", root.GetProperty("training").GetProperty("stop_reason").GetString());
        // h = 3: the per-step errors, in metrics.json and as a plot.
        Assert.Equal(3, root.GetProperty("test_by_step").GetArrayLength());
        Assert.True(new FileInfo(Path.Combine(outDir, "errors_by_step.png")).Length > 0);

        // The forecast after 1960-12 is 1961, 1961.083333, 1961.166667.
        var trainForecast = File.ReadAllLines(Path.Combine(outDir, "forecast.csv"));
        Assert.Equal("step,time,forecast", trainForecast[0]);
        Assert.Equal(4, trainForecast.Length);
        Assert.StartsWith("1,1961,", trainForecast[1]);

        var again = Path.Combine(dir, "again.csv");
        var f2 = CliRunner.Run("forecast", "--model", Path.Combine(outDir, "model"), "--data", CliRunner.Sample("AirPassengers.csv"), "--out", again);
        Assert.True(f2.ExitCode == 0, f2.Error);
        Assert.Equal(trainForecast, File.ReadAllLines(again));
    }

    [Fact]
    public void Train_with_two_workers_runs_the_embedded_cluster_and_reports_each_worker()
    {
        var outDir = Path.Combine(dir, "k2");
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--lookback", "12",
            "--epochs", "2", "--hidden", "8", "--workers", "2", "--batch-size", "16", "--patience", "0", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var engine = metrics.RootElement.GetProperty("engine");
        Assert.Equal("sync", engine.GetProperty("mode").GetString());
        var workers = engine.GetProperty("per_worker").EnumerateArray().ToArray();
        Assert.Equal(2, workers.Length);
        // 2 epochs of ceil(shard / 8) rounds each; both workers take part in every sync round.
        Assert.All(workers, w => Assert.Equal(engine.GetProperty("rounds").GetInt64(), w.GetProperty("rounds").GetInt64()));
        Assert.Equal(metrics.RootElement.GetProperty("training").GetProperty("samples").GetInt64(), workers.Sum(w => w.GetProperty("samples").GetInt64()));
        Assert.Equal(0, engine.GetProperty("dropped_gradients").GetInt64());
    }

    [Fact]
    public void Unknown_column_exits_2_naming_the_column()
    {
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("MSFT.csv"), "--target", "Closing", "--out", Path.Combine(dir, "x"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Closing", r.Error);
        Assert.False(Directory.Exists(Path.Combine(dir, "x")));
    }

    [Fact]
    public void Out_of_range_option_and_unknown_option_exit_2()
    {
        Assert.Equal(2, CliRunner.Run("train", "--data", CliRunner.Sample("MSFT.csv"), "--target", "Close", "--hidden", "0").ExitCode);
        Assert.Equal(2, CliRunner.Run("train", "--data", CliRunner.Sample("MSFT.csv"), "--target", "Close", "--bogus").ExitCode);
        var tooLong = CliRunner.Run("train", "--data", CliRunner.Sample("MSFT.csv"), "--target", "Close", "--lookback", "400");
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("too short", tooLong.Error);
    }

    [Fact]
    public void Require_beat_naive_exits_3_and_writes_no_model_when_naive_is_better()
    {
        // A series that only moves in its first part: from then on the last value is a perfect
        // forecast, which an untrained model cannot match.
        var csv = new StringBuilder("t,v\n");
        for (int i = 0; i < 200; i++)
            csv.Append(CultureInfo.InvariantCulture, $"{i},{(i < 100 ? (i % 7) * 3.0 + i : 100.0)}\n");
        var data = Path.Combine(dir, "flat.csv");
        File.WriteAllText(data, csv.ToString());
        var outDir = Path.Combine(dir, "loser");

        var r = CliRunner.Run("train", "--data", data, "--target", "v", "--epochs", "1", "--hidden", "8", "--lookback", "8",
            "--require-beat-naive", "--out", outDir);

        Assert.Equal(3, r.ExitCode);
        Assert.Contains("does not beat the naive forecast", r.Error);
        Assert.False(Directory.Exists(Path.Combine(outDir, "model")));
    }

    [Fact]
    public void Forecast_with_a_corrupt_model_exits_2_with_a_reason()
    {
        var outDir = Path.Combine(dir, "run");
        Assert.Equal(0, CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--epochs", "1", "--hidden", "8", "--lookback", "12", "--out", outDir).ExitCode);
        var weights = Path.Combine(outDir, "model", "weights.bin");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(weights, bytes);

        var r = CliRunner.Run("forecast", "--model", Path.Combine(outDir, "model"), "--data", CliRunner.Sample("AirPassengers.csv"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("corrupt", r.Error);
    }

    [Fact]
    public void Inspect_prints_the_tutorial_shapes()
    {
        var r = CliRunner.Run("inspect", "--input", "6", "--hidden", "3", "--layers", "1", "--batch", "1", "--seq", "2");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("output         (1, 2, 3)", r.Out);
        Assert.Contains("h_n            (1, 1, 3)", r.Out);
        Assert.Contains("c_n            (1, 1, 3)", r.Out);
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("2", "shard-local")]
    public void Train_reports_its_engines_torch_threads_and_sampling_in_the_output_and_metrics(string workers, string? sampling)
    {
        var outDir = Path.Combine(dir, $"engine-{workers}");
        string[] args = ["train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--lookback", "12", "--epochs", "1",
            "--hidden", "8", "--layers", "1", "--normalize", "global", "--workers", workers, "--torch-threads", "1", "--out", outDir];
        var r = CliRunner.Run(sampling is null ? args : [.. args, "--sampling", sampling]);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var engine = metrics.RootElement.GetProperty("engine");
        Assert.Equal(1, engine.GetProperty("torch_threads").GetInt32());
        Assert.Equal(int.Parse(workers, CultureInfo.InvariantCulture), engine.GetProperty("workers").GetInt32());
        if (sampling is null)
        {
            Assert.Contains("engine: single-process reference trainer (--workers 0), 1 torch thread(s)", r.Out);
        }
        else
        {
            Assert.Contains("2 worker(s), sync mode, global batch 64 (32 per worker), 1 torch thread(s) each", r.Out);
            Assert.Equal(sampling, engine.GetProperty("sampling").GetString());
        }
    }
}
