using System.Globalization;
using System.Text.Json;

namespace LstmCluster.Cli.Tests;

/// <summary><c>lstmcluster sweep</c> in process: successive halving over a grid, a leaderboard by validation MASE, the best model kept.</summary>
[Collection(CliCollection.Name)]
public sealed class SweepCommandTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_sweep_ranks_every_trial_by_validation_keeps_the_best_model_and_its_forecast_is_the_best_trials()
    {
        var outDir = Path.Combine(dir, "sweep");
        var r = CliRunner.Run("sweep", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--season", "12", "--layers", "1",
            "--normalize", "window", "--grid", "hidden=4,8", "lr=1e-2,3e-3", "--max-epochs", "6", "--eta", "2", "--workers", "1", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Contains("rounds: 4 × 2 epochs, 2 × 3 epochs, 1 × 6 epochs (keep the best 1/2", r.Out);
        Assert.Contains("Leaderboard: 4 trials ranked by validation MASE", r.Out);

        var rows = File.ReadAllLines(Path.Combine(outDir, "leaderboard.csv"));
        Assert.Equal("rank,trial,hidden,lr,round,epochs_planned,epochs_run,best_epoch,validation_mase,naive_validation_mase,test_mase,status", rows[0]);
        Assert.Equal(5, rows.Length);
        var table = rows.Skip(1).Select(l => l.Split(',')).ToList();
        // One trial trained all three rounds, one stopped after round 2, two after round 1; within a round, by validation MASE.
        Assert.Equal(["3", "2", "1", "1"], table.Select(c => c[4]));
        Assert.Equal(["6", "3", "2", "2"], table.Select(c => c[5]));
        double V(string[] c) => double.Parse(c[8], CultureInfo.InvariantCulture);
        Assert.True(V(table[2]) <= V(table[3]), string.Join("\n", rows));
        Assert.Equal(["best", "out in round 2", "out in round 1", "out in round 1"], table.Select(c => c[11]));

        // The kept model is the best trial's: its metrics are that trial's last round.
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        Assert.Equal(V(table[0]), metrics.RootElement.GetProperty("validation").GetProperty("model").GetProperty("mase").GetDouble(), 9);
        Assert.Equal(int.Parse(table[0][2], CultureInfo.InvariantCulture), metrics.RootElement.GetProperty("options").GetProperty("hidden").GetInt32());
        Assert.True(Directory.Exists(Path.Combine(outDir, "model")));
        using var sweep = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "sweep.json")));
        Assert.Equal(int.Parse(table[0][1], CultureInfo.InvariantCulture), sweep.RootElement.GetProperty("best").GetProperty("trial").GetInt32());

        var forecast = CliRunner.Run("forecast", "--model", Path.Combine(outDir, "model"), "--data", CliRunner.Sample("AirPassengers.csv"));
        Assert.True(forecast.ExitCode == 0, forecast.Error + forecast.Out);
    }

    [Theory]
    [InlineData("hiden=8,16", "unknown parameter 'hiden'")]
    [InlineData("hidden=1,2,3,4,5,6,7,8 lr=1,2,3,4,5,6,7,8,9", "72 combinations (hidden 8 × lr 9) is over the limit of 64")]
    [InlineData("hidden=0,8", "hidden=0: hidden size must be between 1 and 4096")]
    public void A_bad_grid_exits_2_before_training(string grid, string message)
    {
        var r = CliRunner.Run("sweep", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--grid", grid, "--out", Path.Combine(dir, "bad"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.DoesNotContain("round 1", r.Out);
        Assert.False(Directory.Exists(Path.Combine(dir, "bad")));
    }

    [Theory]
    [InlineData("--parallel", "2", "--parallel is for the in-process sweep")]
    [InlineData("--workers", "0", "--workers with --server is each trial's worker count, at least 1")]
    public void On_a_server_an_in_process_option_is_refused_before_any_request(string option, string value, string message)
    {
        // Port 1 is closed: the refusal must come before the client tries the server (which would exit 1, not 2).
        var r = CliRunner.Run("sweep", "--server", "http://127.0.0.1:1", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value",
            "--grid", "hidden=4,8", option, value, "--out", Path.Combine(dir, "server"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error);
    }
}
