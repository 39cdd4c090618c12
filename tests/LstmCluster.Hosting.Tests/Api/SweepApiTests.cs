using System.Globalization;
using System.Net;
using System.Text.Json;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>POST /sweeps: a sweep group the coordinator runs round by round, followed at /groups/{id}, its best model served as the group's.</summary>
[Collection(ApiCollection.Name)]
public sealed class SweepApiTests
{
    private static Task<ApiHost> Host(int workers = 2) => ApiHost.StartForGroups(workers: 1, concurrent: workers, pool: workers);

    /// <summary>AirPassengers' tiny job less its epochs (the rounds set them), and a grid of two trials.</summary>
    private static Dictionary<string, string> Fields(string grid = "hidden=4,8")
    {
        var fields = ApiHost.TinyJob();
        fields.Remove("epochs");
        fields["normalize"] = "window";
        fields["grid"] = grid;
        fields["eta"] = "2";
        fields["min-epochs"] = "1";
        fields["max-epochs"] = "2";
        return fields;
    }

    [Fact]
    public async Task A_sweep_runs_as_one_group_ranks_its_trials_and_its_best_model_is_served_under_the_groups_id()
    {
        await using var host = await Host();
        // The trials train with the sweep's own sampling, not the node's (global).
        var fields = Fields();
        fields["sampling"] = "global-sliced";
        using (var submitted = await host.Http.PostAsync("sweeps", Form(fields)))
        {
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            Assert.StartsWith("/groups/group-", submitted.Headers.Location!.OriginalString);
        }
        string id = (await host.Client.ListGroupsAsync()).Single().Id;

        var done = await host.WaitForGroupEnd(id);
        Assert.True(done.State == "Succeeded", done.Reason);
        Assert.Equal("sweep", done.Strategy);
        var sweep = done.Sweep!;
        Assert.Equal([(1, 2, 1), (2, 1, 2)], sweep.Rounds.Select(r => (r.Round, r.Trials, r.Epochs)));
        // Round 1 trains both trials one epoch, round 2 the better one two: three member jobs.
        Assert.Equal([2, 1], done.Members.GroupBy(m => m.Round).OrderBy(g => g.Key).Select(g => g.Count()));
        Assert.Equal([1, 2], sweep.Leaderboard.Select(e => e.Rank));
        Assert.Equal(["best", "out in round 1"], sweep.Leaderboard.Select(e => e.Status));
        var best = sweep.Leaderboard[0];
        Assert.Equal((2, 2, sweep.Best), (best.Round, best.EpochsRun, best.Job));
        Assert.NotNull(best.ValidationMase);
        var winner = done.Members.Single(m => m.Round == 1 && m.Trial == best.Trial);
        var loser = done.Members.Single(m => m.Round == 1 && m.Trial != best.Trial);
        Assert.True(winner.ValidationMase <= loser.ValidationMase, $"{winner.ValidationMase} > {loser.ValidationMase}");
        Assert.Equal(best.Trial, done.Members.Single(m => m.Round == 2).Trial);

        // The group's files: the leaderboard, sweep.json, and the best trial's own files, its model included.
        var csv = System.Text.Encoding.UTF8.GetString(await host.Client.GroupFileAsync(id, "leaderboard.csv"));
        Assert.StartsWith("rank,trial,hidden,round,epochs_planned,epochs_run,best_epoch,validation_mase,naive_validation_mase,test_mase,status\n1,", csv);
        using var json = JsonDocument.Parse(await host.Client.GroupFileAsync(id, "sweep.json"));
        Assert.Equal(sweep.Best, json.RootElement.GetProperty("best").GetProperty("job").GetString());
        Assert.Equal(await host.Client.ArtifactAsync(sweep.Best!, "forecast.csv"), await host.Client.GroupFileAsync(id, "forecast.csv"));
        foreach (var member in done.Members)
        {
            using var metrics = JsonDocument.Parse(await host.Client.ArtifactAsync(member.Job!, "metrics.json"));
            Assert.Equal("global-sliced", metrics.RootElement.GetProperty("engine").GetProperty("sampling").GetString());
        }
        Assert.NotEmpty(await host.Client.ModelZipAsync(id));
        // Served as the group's model: the same forecast as the best job's own.
        string recent = await File.ReadAllTextAsync(ApiHost.AirPassengers);
        var viaGroup = await host.Client.ServeForecastAsync(id, recent);
        var viaJob = await host.Client.ServeForecastAsync(sweep.Best!, recent);
        Assert.Equal(viaJob.Points.Select(p => p.Value), viaGroup.Points.Select(p => p.Value));

        // Listed with the groups, its members with the jobs.
        var listed = Assert.Single(await host.Client.ListGroupsAsync());
        Assert.Equal((id, "Succeeded", 3), (listed.Id, listed.State, listed.Members.Count()));
        var jobs = await host.Client.ListAsync();
        Assert.All(done.Members, m => Assert.Contains(jobs, j => j.Id == m.Job && j.Group == id));
    }

    [Theory]
    [InlineData("hiden=8,16", null, "grid: unknown parameter 'hiden'")]
    [InlineData("hidden=1,2,3,4,5,6,7,8 lr=1,2,3,4,5,6,7,8,9", null, "72 combinations (hidden 8 × lr 9) is over the limit of 64")]
    [InlineData("hidden=0,8", null, "grid: hidden=0: hidden size must be between 1 and 4096")]
    [InlineData("hidden=4,8", "epochs", "epochs is the sweep's to set")]
    [InlineData("hidden=4,8", "eta", "eta must be between 2 and 10 (got 1)")]
    [InlineData("", null, "grid: no parameters")]
    public async Task A_bad_sweep_is_a_400_naming_the_problem_and_nothing_is_kept(string grid, string? extra, string message)
    {
        await using var host = await Host(workers: 1);
        var fields = Fields(grid);
        if (extra == "epochs") fields["epochs"] = "3";
        if (extra == "eta") fields["eta"] = "1";
        using var response = await host.Http.PostAsync("sweeps", Form(fields));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, error.RootElement.GetProperty("error").GetString());
        Assert.Empty(await host.Client.ListGroupsAsync());
        Assert.Empty(await host.Client.ListAsync());
    }

    [Fact]
    public async Task Deleting_a_running_sweep_cancels_its_trials()
    {
        await using var host = await Host();
        var fields = Fields();
        fields["min-epochs"] = "50000";
        fields["max-epochs"] = "100000";
        string id = await host.Client.SubmitSweepAsync(ApiHost.AirPassengers, fields);
        await host.WaitForGroup(id, g => g.Running == 2);
        var answer = await host.Client.CancelGroupAsync(id);
        Assert.All(answer.Members, m => Assert.Equal("Cancelled", m.State));
        var done = await host.WaitForGroupEnd(id);
        Assert.Equal(("Cancelled", 2), (done.State, done.Cancelled));
    }

    private static MultipartFormDataContent Form(Dictionary<string, string> fields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(File.ReadAllBytes(ApiHost.AirPassengers));
        file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        form.Add(file, "data", "AirPassengers.csv");
        foreach (var (name, value) in fields) form.Add(new StringContent(value.ToString(CultureInfo.InvariantCulture)), name);
        return form;
    }
}
