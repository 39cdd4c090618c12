using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary><c>POST /models/{id}/forecast</c> against a real coordinator that trained the models.</summary>
[Collection(ApiCollection.Name)]
public sealed class ModelServingTests
{
    [Fact]
    public async Task Serving_the_training_rows_answers_the_jobs_own_forecast_from_csv_and_json_and_caches_the_model()
    {
        await using var host = await ApiHost.Start();
        string id = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);
        string csv = await File.ReadAllTextAsync(ApiHost.AirPassengers);

        // The job forecast after the file's last row with this model: served from the same rows, the same numbers.
        using var first = await Post(host, id, csv, "text/csv");
        var served = await Points(first);
        Assert.Equal("miss", first.Headers.GetValues("X-Model-Cache").Single());
        Assert.Equal(done.Forecast!.Select(v => v!.Value), served.Select(p => p.Value));
        Assert.Equal(done.ForecastTimes, served.Select(p => p.Time));

        // The same rows as JSON; the model now comes from the cache.
        var rows = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(line => line.Trim().Split(','))
            .Select(f => new Dictionary<string, object> { ["date"] = f[0], ["value"] = double.Parse(f[1], CultureInfo.InvariantCulture) });
        using var second = await Post(host, id, JsonSerializer.Serialize(new { rows }), "application/json");
        Assert.Equal("hit", second.Headers.GetValues("X-Model-Cache").Single());
        Assert.Equal(served.Select(p => p.Value), (await Points(second)).Select(p => p.Value));

        // Only the last lookback rows are needed.
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var recent = await Post(host, id, string.Join('\n', lines.Take(1).Concat(lines.TakeLast(12))) + "\n", "text/csv");
        Assert.Equal(served.Select(p => p.Value), (await Points(recent)).Select(p => p.Value));

        // CSV out.
        using var asCsv = await Post(host, id, csv, "text/csv", "?format=csv");
        Assert.StartsWith("step,time,forecast\n1,", await asCsv.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_bodies_and_unknown_models_get_a_clear_4xx()
    {
        await using var host = await ApiHost.Start();
        string id = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        Assert.Equal("Succeeded", (await host.WaitForEnd(id)).State);
        var lines = (await File.ReadAllTextAsync(ApiHost.AirPassengers)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        await Refused(host, "job-999", "date,value\n1949-01,112\n", "text/csv", HttpStatusCode.NotFound, "no job 'job-999'");
        await Refused(host, id, string.Join('\n', lines.Take(6)) + "\n", "text/csv", HttpStatusCode.BadRequest, "too short to forecast: 5 rows, the model needs at least 12");
        await Refused(host, id, "date,price\n1949-01,112\n", "text/csv", HttpStatusCode.BadRequest, "request body");
        await Refused(host, id, "{\"rows\": [{\"date\": \"1949-01\", \"value\": 1}, {\"date\": \"1949-02\"}]}", "application/json",
            HttpStatusCode.BadRequest, "row 2 has the columns [date], row 1 has [date, value]");
        await Refused(host, id, "{\"values\": [1, 2]}", "application/json", HttpStatusCode.BadRequest, "expected an object {\"rows\"");
        await Refused(host, id, "x", "application/octet-stream", HttpStatusCode.UnsupportedMediaType, "text/csv");
        await Refused(host, id, new string('1', JobApiExtensions.MaxServingBodyBytes + 1), "text/csv", HttpStatusCode.RequestEntityTooLarge, "larger than");
    }

    [Fact]
    public async Task A_cache_of_one_model_evicts_and_reloads_and_still_answers_each_models_forecast()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { ServedModels = 1 });
        string a = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob(epochs: 2));
        string b = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob(epochs: 3));
        var doneA = await host.WaitForEnd(a);
        var doneB = await host.WaitForEnd(b);
        string csv = await File.ReadAllTextAsync(ApiHost.AirPassengers);
        foreach (var (id, done, cache) in new[] { (a, doneA, "miss"), (a, doneA, "hit"), (b, doneB, "miss"), (a, doneA, "miss") })
        {
            using var response = await Post(host, id, csv, "text/csv");
            Assert.Equal(cache, response.Headers.GetValues("X-Model-Cache").Single());
            Assert.Equal(done.Forecast!.Select(v => v!.Value), (await Points(response)).Select(p => p.Value));
        }
    }

    private static async Task<HttpResponseMessage> Post(ApiHost host, string id, string body, string contentType, string query = "")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return await host.Http.PostAsync($"models/{id}/forecast{query}", content);
    }

    private static async Task<List<(string Time, double Value)>> Points(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var doc = JsonDocument.Parse(text);
        return [.. doc.RootElement.GetProperty("points").EnumerateArray()
            .Select(p => (p.GetProperty("time").GetString()!, p.GetProperty("value").GetDouble()))];
    }

    private static async Task Refused(ApiHost host, string id, string body, string contentType, HttpStatusCode status, string reason)
    {
        using var response = await Post(host, id, body, contentType);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Contains(reason, JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
