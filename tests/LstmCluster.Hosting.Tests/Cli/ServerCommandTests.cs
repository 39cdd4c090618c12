using LstmCluster.Cli.Tests;

namespace LstmCluster.Hosting.Tests.Cli;

/// <summary><c>lstmcluster submit / status / forecast --server</c> in-process against a real API host.</summary>
[Collection(ApiCollection.Name)]
public sealed class ServerCommandTests : IAsyncLifetime
{
    private ApiHost host = null!;

    public async Task InitializeAsync() => host = await ApiHost.Start();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private string Server => host.Address.ToString().TrimEnd('/');

    [Fact]
    public async Task Submit_wait_follows_the_job_and_status_and_forecast_read_it_back()
    {
        var submit = await Task.Run(() => CliRunner.Run("submit", "--server", Server, "--data", ApiHost.AirPassengers, "--target", "value",
            "--epochs", "2", "--hidden", "8", "--layers", "1", "--lookback", "12", "--season", "12", "--sampling", "global-sliced", "--wait"));
        Assert.True(submit.ExitCode == 0, submit.Error + submit.Out);
        string id = submit.Out.Split('\n')[0].Trim();
        Assert.Matches("^job-[0-9]+$", id);
        Assert.Contains($"{id}: Succeeded", submit.Out);
        Assert.Contains("LSTM model", submit.Out);
        Assert.Contains("Forecast of value", submit.Out);
        var status = await host.Client.StatusAsync(id);
        Assert.Equal("Succeeded", status.State);
        Assert.Equal(2, status.Epochs);
        // --sampling went with the job: it trained global-sliced, not with the node's default (global).
        var engine = System.Text.Json.JsonDocument.Parse(await host.Client.ArtifactAsync(id, "metrics.json")).RootElement.GetProperty("engine");
        Assert.Equal("global-sliced", engine.GetProperty("sampling").GetString());

        var list = await Task.Run(() => CliRunner.Run("status", "--server", Server));
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains(id, list.Out);
        var one = await Task.Run(() => CliRunner.Run("status", "--server", Server, id));
        Assert.True(one.ExitCode == 0, one.Error);
        Assert.Contains("Succeeded", one.Out);
        Assert.Contains("test MASE", one.Out);

        var outDir = CliRunner.TempDir();
        var forecast = await Task.Run(() => CliRunner.Run("forecast", "--server", Server, id, "--out", outDir));
        Assert.True(forecast.ExitCode == 0, forecast.Error + forecast.Out);
        Assert.StartsWith("step,time,forecast\n1,", File.ReadAllText(Path.Combine(outDir, "forecast.csv")));
        Assert.Equal(0x89, File.ReadAllBytes(Path.Combine(outDir, "forecast.png"))[0]);

        // Live serving: the server's model forecasts after a file's rows; the training file gives the job's own forecast.
        string served = Path.Combine(CliRunner.TempDir(), "served.csv");
        var serve = await Task.Run(() => CliRunner.Run("forecast", "--server", Server, id, "--data", ApiHost.AirPassengers, "--out", served));
        Assert.True(serve.ExitCode == 0, serve.Error + serve.Out);
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "forecast.csv")), File.ReadAllText(served));
        var tooShort = Path.Combine(CliRunner.TempDir(), "short.csv");
        File.WriteAllLines(tooShort, File.ReadLines(ApiHost.AirPassengers).Take(4));
        var refused = await Task.Run(() => CliRunner.Run("forecast", "--server", Server, id, "--data", tooShort));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("too short to forecast", refused.Error);
    }

    [Fact]
    public async Task Cancel_stops_a_job_and_leaves_an_ended_one_and_delete_removes_jobs_running_or_ended()
    {
        var options = ApiHost.TinyJob(epochs: 100000);
        string running = await host.Client.SubmitAsync(ApiHost.AirPassengers, options);
        await ApiHost.WaitFor(host.Client, running, s => s.State == "Running");
        string finished = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        var cancel = await Task.Run(() => CliRunner.Run("cancel", "--server", Server, running));
        Assert.True(cancel.ExitCode == 0, cancel.Error + cancel.Out);
        Assert.Equal($"{running}: Cancelled", cancel.Out.Trim());
        Assert.Equal("Succeeded", (await host.WaitForEnd(finished)).State);

        // An ended job is not cancelled (the API's DELETE would delete it): said, exit 2, and it stays.
        var again = await Task.Run(() => CliRunner.Run("cancel", "--server", Server, finished));
        Assert.Equal(2, again.ExitCode);
        Assert.Equal($"error: {finished} has already ended (Succeeded): nothing to cancel (lstmcluster delete removes it with its files)", again.Error.Trim());
        Assert.Equal("Succeeded", (await host.Client.StatusAsync(finished)).State);

        // delete: a running job is cancelled first, then deleted; an ended one deleted at once.
        string another = await host.Client.SubmitAsync(ApiHost.AirPassengers, options);
        await ApiHost.WaitFor(host.Client, another, s => s.State == "Running");
        var delete = await Task.Run(() => CliRunner.Run("delete", "--server", Server, another, finished, running));
        Assert.True(delete.ExitCode == 0, delete.Error + delete.Out);
        Assert.Equal(string.Join('\n',
            $"{another}: Running, cancelling it first",
            $"{another}: Deleted with its files (it had ended Cancelled)",
            $"{finished}: Deleted with its files (it had ended Succeeded)",
            $"{running}: Deleted with its files (it had ended Cancelled)"), delete.Out.Trim().ReplaceLineEndings("\n"));
        Assert.Empty(await host.Client.ListAsync());

        var unknown = await Task.Run(() => CliRunner.Run("delete", "--server", Server, "job-999"));
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no job 'job-999'", unknown.Error);
    }

    [Fact]
    public async Task A_sweep_on_a_server_is_one_sweep_group_the_coordinator_runs_and_its_best_model_is_the_groups()
    {
        var outDir = CliRunner.TempDir();
        var sweep = await Task.Run(() => CliRunner.Run("sweep", "--server", Server, "--data", ApiHost.AirPassengers, "--target", "value",
            "--layers", "1", "--lookback", "12", "--season", "12", "--grid", "hidden=4,8", "--max-epochs", "3", "--eta", "2", "--workers", "1", "--sampling", "shard-local", "--out", outDir));
        Assert.True(sweep.ExitCode == 0, sweep.Error + sweep.Out);
        Assert.Contains("one sweep group", sweep.Out);
        Assert.Contains("Leaderboard: 2 trials ranked by validation MASE", sweep.Out);

        // One group on the server; its leaderboard is the one written into --out.
        var group = Assert.Single(await host.Client.ListGroupsAsync());
        Assert.Equal(("sweep", "Succeeded"), (group.Strategy, group.State));
        Assert.Contains($"sweep group {group.Id}", sweep.Out);
        Assert.Equal(await host.Client.GroupFileAsync(group.Id, "leaderboard.csv"), File.ReadAllBytes(Path.Combine(outDir, "leaderboard.csv")));
        using var result = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "sweep.json")));
        string best = result.RootElement.GetProperty("best").GetProperty("job").GetString()!;
        var jobs = result.RootElement.GetProperty("leaderboard").EnumerateArray().Select(e => e.GetProperty("job").GetString()!).ToList();
        Assert.Equal(2, jobs.Count);
        Assert.Equal((best, best), (jobs[0], group.Sweep!.Best));
        // Each trial ran with the trial's options and its round's epochs: round 1 trains 2 epochs, round 2 (the best) 3.
        var bestStatus = await host.Client.StatusAsync(best);
        Assert.Equal(("Succeeded", 3, group.Id, 1), (bestStatus.State, bestStatus.Epochs, bestStatus.Group, bestStatus.Workers));
        var other = await host.Client.StatusAsync(jobs[1]);
        Assert.Equal(("Succeeded", 2), (other.State, other.Epochs));
        // --sampling went with the sweep to every trial, as --workers did.
        foreach (var job in jobs)
        {
            using var metrics = System.Text.Json.JsonDocument.Parse(await host.Client.ArtifactAsync(job, "metrics.json"));
            Assert.Equal("shard-local", metrics.RootElement.GetProperty("engine").GetProperty("sampling").GetString());
        }
        // A progress line per member as it ended: both trials in round 1, the best in round 2.
        Assert.Contains("round 1, trial 1/2 [hidden=4]: validation MASE", sweep.Out);
        Assert.Contains("round 1, trial 2/2 [hidden=8]: validation MASE", sweep.Out);
        Assert.Contains($"/models/{group.Id}/forecast", sweep.Out);
        Assert.Equal(await host.Client.ArtifactAsync(best, "forecast.csv"), File.ReadAllBytes(Path.Combine(outDir, "forecast.csv")));
        Assert.True(new FileInfo(Path.Combine(outDir, "model.zip")).Length > 0);

        // status lists the group beside the jobs; status of the group shows its members and leaderboard.
        var list = await Task.Run(() => CliRunner.Run("status", "--server", Server));
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains("Job groups", list.Out);
        Assert.Contains(group.Id, list.Out);
        var one = await Task.Run(() => CliRunner.Run("status", "--server", Server, group.Id));
        Assert.True(one.ExitCode == 0, one.Error);
        Assert.Contains($"{group.Id}: succeeded, 3 member jobs: 3 succeeded", one.Out);
        Assert.Contains("Leaderboard by validation MASE", one.Out);
        Assert.Contains($"best: {best} (its model is the group's)", one.Out);
    }

    [Fact]
    public async Task A_rejected_submission_exits_2_with_the_servers_reason_and_an_absent_server_exits_1()
    {
        var bad = await Task.Run(() => CliRunner.Run("submit", "--server", Server, "--data", ApiHost.AirPassengers, "--target", "value", "--epochs", "0"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("epochs", bad.Error);
        Assert.Contains("400", bad.Error);

        // A sampling the engine does not know is refused before anything is sent, naming the valid ones.
        var sampling = await Task.Run(() => CliRunner.Run("submit", "--server", Server, "--data", ApiHost.AirPassengers, "--target", "value",
            "--sampling", "random"));
        Assert.Equal(2, sampling.ExitCode);
        Assert.Contains("global-sliced", sampling.Error);

        var unknown = await Task.Run(() => CliRunner.Run("status", "--server", Server, "job-77"));
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no job 'job-77'", unknown.Error);

        var absent = await Task.Run(() => CliRunner.Run("status", "--server", "http://127.0.0.1:1"));
        Assert.Equal(1, absent.ExitCode);
        Assert.StartsWith("error: cannot reach the job API at http://127.0.0.1:1/jobs", absent.Error);
        Assert.Single(absent.Error.Trim().Split('\n'));

        var noFile = await Task.Run(() => CliRunner.Run("submit", "--server", Server, "--data", "/nonexistent/x.csv", "--target", "value"));
        Assert.Equal(2, noFile.ExitCode);
        Assert.Contains("x.csv: file not found", noFile.Error);

        var usage = await Task.Run(() => CliRunner.Run("forecast", "--server", Server));
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("needs a job id", usage.Error);
    }
}
