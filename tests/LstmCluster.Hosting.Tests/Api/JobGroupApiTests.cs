using System.Globalization;
using System.Net;
using System.Text.Json;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Hosting.Api;
using LstmCluster.Client;
using LstmCluster.Contracts;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>A job group through the job API: POST /jobs with symbol=all, followed at /groups/{id} to its end, its files served.</summary>
[Collection(ApiCollection.Name)]
public sealed class JobGroupApiTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-group-api-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, string> Fields(string symbol) => new()
    {
        ["target"] = "price", ["symbol"] = symbol, ["strategy"] = "per-series", ["lookback"] = "12", ["epochs"] = "2", ["hidden"] = "8",
        ["normalize"] = "window",
    };

    private static Task<ApiHost> Host() => ApiHost.StartForGroups(workers: 1, concurrent: 2, pool: 2);

    [Fact]
    public async Task A_group_submitted_through_the_api_runs_to_succeeded_with_per_series_files_and_the_short_series_skipped()
    {
        await using var host = await Host();
        string id = await host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), Fields("all"));
        Assert.StartsWith("group-", id);

        var done = await host.WaitForGroupEnd(id);
        Assert.Equal("Succeeded", done.State);
        Assert.Equal((3, 2, 1), (done.Series, done.Succeeded, done.Failed));
        Assert.Equal(["MSFT", "IBM", "TINY"], done.Members.Select(m => m.Symbol));
        Assert.Contains("too short", done.Members[2].Reason);
        Assert.All(done.Members.Take(2), m => Assert.NotNull(m.TestMase));

        var forecast = System.Text.Encoding.UTF8.GetString(await host.Client.GroupFileAsync(id, "forecast.csv"));
        Assert.StartsWith("symbol,step,time,forecast\nMSFT,1,", forecast);
        Assert.Contains("\nIBM,1,", forecast);
        using var summary = JsonDocument.Parse(await host.Client.GroupFileAsync(id, "summary.json"));
        Assert.Equal(2, summary.RootElement.GetProperty("trained").GetInt32());
        var png = await host.Client.GroupFileAsync(id, "grid.png");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        // Each member is a job of its own, with its own files.
        var member = await host.Client.StatusAsync(done.Members[0].Job!);
        Assert.Equal("Succeeded", member.State);
        Assert.NotEmpty(await host.Client.ArtifactAsync(member.Id, "metrics.json"));

        // GET /jobs/{id} answers a group's id with the group.
        using var viaJobs = JsonDocument.Parse(await host.Http.GetStringAsync($"jobs/{id}"));
        Assert.Equal("per-series", viaJobs.RootElement.GetProperty("strategy").GetString());
    }

    [Fact]
    public async Task An_unknown_symbol_or_a_strategy_for_one_series_is_a_400_naming_the_problem()
    {
        await using var host = await Host();
        var unknown = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), Fields("MSFT,GOOG")));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("unknown symbol 'GOOG'; symbols are: MSFT, IBM, TINY", unknown.Reason);

        var single = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), Fields("MSFT")));
        Assert.Equal(HttpStatusCode.BadRequest, single.StatusCode);
        Assert.Contains("strategy applies to several series", single.Reason);

        var everything = Fields("all");
        everything["strategy"] = "everything";
        var bad = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), everything));
        Assert.Contains("strategy must be per-series or global (got 'everything')", bad.Reason);
    }

    [Fact]
    public async Task Cancelling_a_group_cancels_every_member_and_the_group_ends_cancelled()
    {
        await using var host = await Host();
        var fields = Fields("MSFT,IBM");
        fields["epochs"] = "100000";
        string id = await host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), fields);
        // Both members train at once (two workers, two concurrent jobs).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while ((await host.Client.GroupStatusAsync(id)).Running < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the two members never ran together");
            await Task.Delay(100);
        }
        using var response = await host.Http.DeleteAsync($"groups/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var done = await host.WaitForGroupEnd(id);
        Assert.Equal(("Cancelled", 2), (done.State, done.Cancelled));
    }
}
