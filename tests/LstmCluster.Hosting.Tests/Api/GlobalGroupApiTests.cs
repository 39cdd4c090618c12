using System.Globalization;
using System.Net;
using System.Text.Json;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>
/// Strategy global through the job API: POST /jobs with symbol=all and strategy=global answers a group whose series one
/// job trains; the group's files are those of a per-series group, each series' run files in the job's series/SYMBOL/.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class GlobalGroupApiTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-global-api-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, string> Fields(string symbol) => new()
    {
        ["target"] = "price", ["symbol"] = symbol, ["strategy"] = "global", ["lookback"] = "12", ["epochs"] = "2", ["hidden"] = "8",
        ["normalize"] = "window",
    };

    private static Task<ApiHost> Host() => ApiHost.StartForGroups(workers: 2, concurrent: 1, pool: 2);

    [Fact]
    public async Task A_global_group_runs_one_job_to_succeeded_with_per_series_figures_the_group_files_and_each_series_model()
    {
        await using var host = await Host();
        var fields = Fields("all");
        fields["series-id"] = "one-hot";
        string id = await host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), fields);
        Assert.StartsWith("group-", id);

        var done = await host.WaitForGroupEnd(id);
        Assert.Equal(("Succeeded", "global"), (done.State, done.Strategy));
        Assert.Equal((3, 2, 1), (done.Series, done.Succeeded, done.Failed));
        Assert.Equal(["MSFT", "IBM", "TINY"], done.Members.Select(m => m.Symbol));
        Assert.Contains("too short", done.Members[2].Reason);
        // Both series name the one job that trained them, each with its own test MASE.
        string job = done.Members[0].Job!;
        Assert.Equal(job, done.Members[1].Job);
        Assert.All(done.Members.Take(2), m => Assert.NotNull(m.TestMase));
        Assert.NotEqual(done.Members[0].TestMase, done.Members[1].TestMase);
        var training = await host.Client.StatusAsync(job);
        Assert.Equal(("Succeeded", id, 2), (training.State, training.Group, training.Workers));

        // The group's files, as for a per-series group.
        var forecast = System.Text.Encoding.UTF8.GetString(await host.Client.GroupFileAsync(id, "forecast.csv"));
        Assert.StartsWith("symbol,step,time,forecast\nMSFT,1,", forecast);
        Assert.Contains("\nIBM,1,", forecast);
        using var summary = JsonDocument.Parse(await host.Client.GroupFileAsync(id, "summary.json"));
        Assert.Equal(("global", 2), (summary.RootElement.GetProperty("strategy").GetString(), summary.RootElement.GetProperty("trained").GetInt32()));
        var mase = summary.RootElement.GetProperty("per_series").EnumerateArray().Take(2).Select(s => s.GetProperty("model_mase").GetDouble());
        Assert.Equal(done.Members.Take(2).Select(m => m.TestMase!.Value), mase);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, (await host.Client.GroupFileAsync(id, "grid.png"))[..4]);

        // Each series' run files in the job's folder: the shared weights with that series' preprocessing (its series id).
        Assert.Equal(await host.Client.ArtifactAsync(job, "series/MSFT/model/weights.bin"), await host.Client.ArtifactAsync(job, "series/IBM/model/weights.bin"));
        using var ibm = JsonDocument.Parse(await host.Client.ArtifactAsync(job, "series/IBM/model/preprocessing.json"));
        Assert.Equal((1, 2), (ibm.RootElement.GetProperty("series_index").GetInt32(), ibm.RootElement.GetProperty("series_count").GetInt32()));
        using var spec = JsonDocument.Parse(await host.Client.ArtifactAsync(job, "series/IBM/model/spec.json"));
        Assert.Equal(3, spec.RootElement.GetProperty("input_size").GetInt32());
        using var metrics = JsonDocument.Parse(await host.Client.ArtifactAsync(job, "series/IBM/metrics.json"));
        Assert.Equal(done.Members[1].TestMase!.Value, metrics.RootElement.GetProperty("test").GetProperty("model").GetProperty("mase").GetDouble());
    }

    [Fact]
    public async Task Series_id_without_strategy_global_quantiles_with_it_or_global_for_one_series_are_400s_naming_the_problem()
    {
        await using var host = await Host();
        var perSeries = Fields("all");
        perSeries["strategy"] = "per-series";
        perSeries["series-id"] = "one-hot";
        var noGlobal = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), perSeries));
        Assert.Equal(HttpStatusCode.BadRequest, noGlobal.StatusCode);
        Assert.Contains("series-id applies to strategy=global", noGlobal.Reason);

        var badId = Fields("all");
        badId["series-id"] = "embedding";
        Assert.Contains("series-id must be none or one-hot (got 'embedding')", (await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), badId))).Reason);

        var quantiles = Fields("all");
        quantiles["quantiles"] = "0.1,0.5,0.9";
        var refused = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), quantiles));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("quantiles are not supported with strategy global", refused.Reason);

        var single = await Assert.ThrowsAsync<JobApiException>(() => host.Client.SubmitAsync(ApiHost.TwoStocksAndATinyOne(dir), Fields("MSFT")));
        Assert.Contains("strategy applies to several series", single.Reason);
    }
}
