using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;
using LstmCluster.Hosting.Node;
using Xunit.Abstractions;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>The job API over a real host: one shared host for the class (each test leaves it serving).</summary>
[Collection(ApiCollection.Name)]
public sealed class JobApiTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ApiHost host = null!;
    private static readonly byte[] Air = File.ReadAllBytes(ApiHost.AirPassengers);
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public async Task InitializeAsync() => host = await ApiHost.Start();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private static MultipartFormDataContent Form(IReadOnlyDictionary<string, string> fields, byte[]? csv = null, string fileName = "AirPassengers.csv")
    {
        var form = new MultipartFormDataContent();
        if (csv is not null) form.Add(new ByteArrayContent(csv), "data", fileName);
        foreach (var (k, v) in fields) form.Add(new StringContent(v), k);
        return form;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private async Task<string> Submit(IReadOnlyDictionary<string, string> fields)
    {
        using var response = await host.Http.PostAsync("jobs", Form(fields, Air));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        string id = (await Json(response)).GetProperty("id").GetString()!;
        Assert.Equal($"/jobs/{id}", response.Headers.Location?.OriginalString);
        return id;
    }

    [Fact]
    public async Task A_submitted_job_succeeds_and_every_endpoint_serves_its_results()
    {
        string id = await Submit(ApiHost.TinyJob());
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);

        using (var status = await host.Http.GetAsync($"jobs/{id}"))
        {
            var s = await Json(status);
            Assert.Equal(id, s.GetProperty("id").GetString());
            Assert.Equal("Succeeded", s.GetProperty("state").GetString());
            Assert.Equal(2, s.GetProperty("epochs").GetInt32());
            Assert.True(s.GetProperty("epoch").GetInt32() >= 1);
            Assert.True(s.GetProperty("round").GetInt64() > 0);
            Assert.True(s.GetProperty("train_loss").GetDouble() > 0);
            Assert.Equal("AirPassengers.csv", s.GetProperty("data").GetString());
            Assert.Equal("value", s.GetProperty("target").GetString());
            Assert.Equal(JsonValueKind.Null, s.GetProperty("reason").ValueKind);
            Assert.NotEqual(JsonValueKind.Null, s.GetProperty("finished").ValueKind);
            Assert.Single(s.GetProperty("forecast").EnumerateArray());
        }

        using (var metrics = await host.Http.GetAsync($"jobs/{id}/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            Assert.Equal("application/json", metrics.Content.Headers.ContentType?.MediaType);
            var m = await Json(metrics);
            Assert.True(m.GetProperty("model").GetProperty("mase").GetDouble() > 0);
            Assert.Equal("AirPassengers.csv", m.GetProperty("data").GetProperty("file").GetString());
            Assert.Equal("embedded-actors", m.GetProperty("training").GetProperty("engine").GetString());
        }

        using (var forecast = await host.Http.GetAsync($"jobs/{id}/forecast"))
        {
            var f = await Json(forecast);
            Assert.Equal(id, f.GetProperty("job").GetString());
            Assert.Equal("value", f.GetProperty("target").GetString());
            var point = Assert.Single(f.GetProperty("points").EnumerateArray());
            Assert.Equal(1, point.GetProperty("step").GetInt32());
            Assert.Equal(done.Forecast![0], point.GetProperty("value").GetDouble());
            Assert.False(string.IsNullOrEmpty(point.GetProperty("time").GetString()));
            Assert.False(point.TryGetProperty("quantiles", out _), "a point head's forecast has no quantiles");
        }

        string csvByQuery = await host.Http.GetStringAsync($"jobs/{id}/forecast?format=csv");
        using var byAccept = new HttpRequestMessage(HttpMethod.Get, $"jobs/{id}/forecast");
        byAccept.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var acceptResponse = await host.Http.SendAsync(byAccept);
        Assert.Equal("text/csv", acceptResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal(csvByQuery, await acceptResponse.Content.ReadAsStringAsync());
        Assert.StartsWith("step,time,forecast\n1,", csvByQuery);
        Assert.Equal(Encoding.UTF8.GetString(await host.Client.ArtifactAsync(id, "forecast.csv")), csvByQuery);

        foreach (var url in new[] { $"jobs/{id}/plot", $"jobs/{id}/plot?kind=loss" })
        {
            using var plot = await host.Http.GetAsync(url);
            Assert.Equal("image/png", plot.Content.Headers.ContentType?.MediaType);
            var bytes = await plot.Content.ReadAsByteArrayAsync();
            Assert.True(bytes.Length > 1000);
            Assert.Equal(PngMagic, bytes[..8]);
        }

        var model = await host.Http.GetByteArrayAsync($"jobs/{id}/model");
        Assert.Equal("PK"u8.ToArray(), model[..2]);
        var spec = JsonDocument.Parse(await host.Client.ArtifactAsync(id, "model/spec.json")).RootElement;
        Assert.Equal(8, spec.GetProperty("hidden_size").GetInt32());
        // The engine's figures, as an embedded run writes them: rounds, samples, dropped gradients, each worker's share.
        var engine = JsonDocument.Parse(await host.Client.ArtifactAsync(id, "metrics.json")).RootElement.GetProperty("engine");
        var perWorker = engine.GetProperty("per_worker").EnumerateArray().ToList();
        Assert.Equal(engine.GetProperty("workers").GetInt32(), perWorker.Count);
        Assert.True(engine.GetProperty("rounds").GetInt64() > 0);
        Assert.Equal(perWorker.Sum(w => w.GetProperty("samples").GetInt64()), engine.GetProperty("samples").GetInt64());
        Assert.Equal(0, engine.GetProperty("dropped_gradients").GetInt64());
        // A job that names no sampling trains with the node's (global, the default).
        Assert.Equal("global", engine.GetProperty("sampling").GetString());

        var list = await host.Client.ListAsync();
        Assert.Contains(list, j => j.Id == id && j.State == "Succeeded");
    }

    [Fact]
    public async Task An_auto_quantile_job_reports_its_candidates_and_serves_its_intervals_in_the_json_forecast()
    {
        var fields = new Dictionary<string, string>(ApiHost.TinyJob()) { ["normalize"] = "auto", ["quantiles"] = "0.1,0.9", ["horizon"] = "2" };
        string id = await Submit(fields);
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);

        // Every candidate trained, the one kept named in the status and in metrics.json.
        var m = JsonDocument.Parse(await host.Client.ArtifactAsync(id, "metrics.json")).RootElement.GetProperty("normalization");
        Assert.Equal("auto", m.GetProperty("mode").GetString());
        var candidates = m.GetProperty("candidates").EnumerateArray().ToList();
        Assert.Equal(["window-seasonal", "window", "global", "ensemble"], candidates.Select(c => c.GetProperty("normalize").GetString()));
        string chosen = Assert.Single(candidates, c => c.GetProperty("chosen").GetBoolean()).GetProperty("normalize").GetString()!;
        Assert.Equal(chosen, m.GetProperty("chosen").GetString());
        Assert.StartsWith(chosen + ",", done.Normalization);

        using var forecast = await host.Http.GetAsync($"jobs/{id}/forecast");
        var points = (await Json(forecast)).GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, points.Count);
        Assert.All(points, p =>
        {
            var q = p.GetProperty("quantiles");
            double lo = q.GetProperty("q0.1").GetDouble(), median = q.GetProperty("q0.5").GetDouble(), hi = q.GetProperty("q0.9").GetDouble();
            Assert.True(lo <= median && median <= hi, $"{lo} {median} {hi}");
            // The value is the MSE point head's; the 0.5 level is its own (the point plus a learned offset).
            Assert.True(double.IsFinite(p.GetProperty("value").GetDouble()));
        });
        // The same levels as the job's forecast.csv.
        string csv = Encoding.UTF8.GetString(await host.Client.ArtifactAsync(id, "forecast.csv"));
        Assert.Contains("q0.1", csv.Split('\n')[0]);
    }

    [Theory]
    [InlineData("sync", "global-sliced", "global-sliced")]
    [InlineData("sync", "Shard-Local", "shard-local")]
    // Sampling is sync mode's: an async job walks its own shards whatever it asked for.
    [InlineData("async", "global-sliced", "shard-local")]
    public async Task A_jobs_sampling_field_is_the_sampling_it_trains_with(string mode, string sampling, string ran)
    {
        string id = await Submit(new Dictionary<string, string>(ApiHost.TinyJob()) { ["mode"] = mode, ["sampling"] = sampling });
        var done = await host.WaitForEnd(id);
        Assert.True(done.State == "Succeeded", $"{id} ended {done.State}: {done.Reason}");
        var engine = JsonDocument.Parse(await host.Client.ArtifactAsync(id, "metrics.json")).RootElement.GetProperty("engine");
        Assert.Equal((mode, ran), (engine.GetProperty("mode").GetString(), engine.GetProperty("sampling").GetString()));
    }

    [Fact]
    public async Task A_running_job_is_cancelled_by_delete_and_has_no_results()
    {
        // Held open (more epochs than the test lives, no early stopping) until the DELETE, however fast the machine.
        string id = await Submit(ApiHost.TinyJob(epochs: LstmCluster.Core.Training.TrainingOptions.MaxEpochs));
        using var metricsEarly = await host.Http.GetAsync($"jobs/{id}/metrics");
        Assert.Equal(HttpStatusCode.Conflict, metricsEarly.StatusCode);
        Assert.Contains("once it succeeded", (await Json(metricsEarly)).GetProperty("error").GetString());

        using var cancel = await host.Http.DeleteAsync($"jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var c = await Json(cancel);
        Assert.Equal("Cancelled", c.GetProperty("state").GetString());
        Assert.Equal("cancelled on request", c.GetProperty("reason").GetString());
        Assert.Equal("Cancelled", (await host.Client.StatusAsync(id)).State);

        using var forecast = await host.Http.GetAsync($"jobs/{id}/forecast");
        Assert.Equal(HttpStatusCode.Conflict, forecast.StatusCode);
        Assert.Contains("cancelled", (await Json(forecast)).GetProperty("error").GetString());
    }

    public static TheoryData<string, Dictionary<string, string>, string?, string> BadSubmissions => new()
    {
        { "malformed CSV", new() { ["target"] = "value" }, "date,value\n2020-01-01,12\n2020-01-02,abc\n2020-01-03,14\n", "bad.csv:3: " },
        { "empty CSV", new() { ["target"] = "value" }, "\n", "bad.csv" },
        { "too few rows", new() { ["target"] = "value", ["lookback"] = "12" }, "date,value\n2020-01-01,12\n2020-01-02,13\n2020-01-03,14\n", "bad.csv" },
        { "binary file", new() { ["target"] = "value" }, "PK\u0003\u0004\0\0\0", "NUL bytes" },
        { "unknown feature column", new() { ["target"] = "value", ["features"] = "volume" }, null, "volume" },
        { "batch size 0", new() { ["target"] = "value", ["batch-size"] = "0" }, null, "batch" },
        { "dropout 2", new() { ["target"] = "value", ["dropout"] = "2" }, null, "dropout" },
        { "unknown column", new() { ["target"] = "passengers" }, null, "passengers" },
        { "unknown field value", new() { ["target"] = "value", ["optimizer"] = "rmsprop" }, null, "optimizer must be one of adam, sgd (got 'rmsprop')" },
        { "not a number", new() { ["target"] = "value", ["lr"] = "fast" }, null, "lr must be a number (got 'fast')" },
        { "epochs 0", new() { ["target"] = "value", ["epochs"] = "0" }, null, "epochs" },
        { "lookback 100000", new() { ["target"] = "value", ["lookback"] = "100000" }, null, "lookback must be between 1 and 10000 (got 100000)" },
        { "workers 0", new() { ["target"] = "value", ["workers"] = "0" }, null, "workers must be between 1 and 1024 (got 0)" },
        { "unknown mode", new() { ["target"] = "value", ["mode"] = "gossip" }, null, "mode must be sync, async or local-sgd (got 'gossip')" },
        { "sync period 0", new() { ["target"] = "value", ["mode"] = "local-sgd", ["sync-period"] = "0" }, null, "sync period must be between 1 and 1000000 (got 0)" },
        { "unknown sampling", new() { ["target"] = "value", ["sampling"] = "random" }, null, "sampling must be one of global, shard-local, global-sliced (got 'random')" },
        { "missing target", new() { ["epochs"] = "2" }, null, "target" },
        { "unknown field", new() { ["target"] = "value", ["epoch"] = "2" }, null, "unknown field 'epoch'" },
        { "quantiles unsorted", new() { ["target"] = "value", ["quantiles"] = "0.9,0.1" }, null, "quantiles must be in increasing order (0.9 comes before 0.1)" },
        { "quantiles out of range", new() { ["target"] = "value", ["quantiles"] = "0.1,1.5" }, null, "quantiles must each lie strictly between 0 and 1 (got 1.5)" },
        { "quantiles repeated", new() { ["target"] = "value", ["quantiles"] = "0.5,0.5" }, null, "quantiles must not repeat a level (0.5 is given twice)" },
        { "quantiles empty", new() { ["target"] = "value", ["quantiles"] = "" }, null, "quantiles must list levels in (0, 1)" },
        { "path without a data root", new() { ["target"] = "value", ["path"] = "AirPassengers.csv" }, "", "no data root" },
        { "ambiguous day-first dates", new() { ["target"] = "value" }, "date,value\n01/01/2020,12\n01/02/2020,13\n01/03/2020,15\n", "--date-format dd/MM/yyyy or --date-format MM/dd/yyyy" },
        { "dateFormat not a format", new() { ["target"] = "value", ["dateFormat"] = "dd/MM/yyyy%" }, null, "not a date format" },
        { "date_format not matching", new() { ["target"] = "value", ["date_format"] = "dd/MM/yyyy" }, "date,value\n2020-01-01,12\n2020-01-02,13\n", "does not match --date-format dd/MM/yyyy" },
    };

    [Theory]
    [MemberData(nameof(BadSubmissions))]
    public async Task A_bad_submission_is_a_400_with_its_reason(string why, Dictionary<string, string> fields, string? csv, string reason)
    {
        // csv null: the good sample; "": no upload at all.
        byte[]? upload = csv is null ? Air : csv.Length == 0 ? null : Encoding.UTF8.GetBytes(csv);
        using var response = await host.Http.PostAsync("jobs", Form(fields, upload, csv is { Length: > 0 } ? "bad.csv" : "AirPassengers.csv"));
        string error = (await Json(response)).GetProperty("error").GetString()!;
        output.WriteLine($"{why}: {(int)response.StatusCode} {error}");
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {response.StatusCode} {error}");
        Assert.Contains(reason, error);
        Assert.DoesNotContain("lstmcluster-jobs", error);
    }

    [Fact]
    public async Task Missing_data_unknown_jobs_and_wrong_bodies_are_answered_with_their_reason_and_a_good_job_still_runs()
    {
        using (var noData = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string> { ["target"] = "value" })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noData.StatusCode);
            Assert.Contains("no data", (await Json(noData)).GetProperty("error").GetString());
        }
        using (var json = await host.Http.PostAsync("jobs", new StringContent("{}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
            Assert.Contains("multipart/form-data", (await Json(json)).GetProperty("error").GetString());
        }
        foreach (var url in new[] { "jobs/job-999", "jobs/job-999/metrics", "jobs/job-999/forecast", "jobs/job-999/plot", "jobs/job-999/model" })
        {
            using var response = await host.Http.GetAsync(url);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("no job 'job-999'", (await Json(response)).GetProperty("error").GetString());
        }
        using (var delete = await host.Http.DeleteAsync("jobs/job-999"))
            Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);

        string id = await Submit(ApiHost.TinyJob());
        Assert.Equal("Succeeded", (await host.WaitForEnd(id)).State);
        using var plot = await host.Http.GetAsync($"jobs/{id}/plot?kind=weights");
        Assert.Equal(HttpStatusCode.BadRequest, plot.StatusCode);
    }

    [Fact]
    public async Task Health_ready_and_the_openapi_document_answer()
    {
        Assert.Equal("alive", (await Json(await host.Http.GetAsync("health"))).GetProperty("status").GetString());
        using var ready = await host.Http.GetAsync("ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.True((await Json(ready)).GetProperty("ready").GetBoolean());
        var openApi = await Json(await host.Http.GetAsync("openapi/v1.json"));
        var paths = openApi.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/jobs", out _));
        Assert.True(paths.TryGetProperty("/jobs/{id}/forecast", out _));
        var job = openApi.GetProperty("components").GetProperty("schemas").GetProperty("JobView").GetProperty("properties");
        Assert.True(job.TryGetProperty("train_loss", out _));
    }
}

/// <summary>Hosts with other options: limits, a data root, readiness, a coordinator that does not answer.</summary>
[Collection(ApiCollection.Name)]
public sealed class JobApiOptionsTests
{
    private static MultipartFormDataContent Form(IReadOnlyDictionary<string, string> fields, byte[]? csv)
    {
        var form = new MultipartFormDataContent();
        if (csv is not null) form.Add(new ByteArrayContent(csv), "data", "AirPassengers.csv");
        foreach (var (k, v) in fields) form.Add(new StringContent(v), k);
        return form;
    }

    private static async Task<string> Error(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;

    [Fact]
    public async Task An_upload_over_the_limit_is_a_413_and_the_server_keeps_serving()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { MaxUploadBytes = 1024 });
        using var big = await host.Http.PostAsync("jobs", Form(ApiHost.TinyJob(), File.ReadAllBytes(ApiHost.AirPassengers)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Contains("1,024 bytes", await Error(big));

        // Far over the limit: refused from Content-Length before the body is read.
        using var huge = await host.Http.PostAsync("jobs", Form(ApiHost.TinyJob(), new byte[512 * 1024]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);

        var small = Encoding.UTF8.GetBytes(string.Join('\n', File.ReadLines(ApiHost.AirPassengers).Take(40)) + "\n");
        Assert.True(small.Length < 1024);
        var fields = new Dictionary<string, string>(ApiHost.TinyJob()) { ["lookback"] = "4", ["season"] = "1" };
        using var ok = await host.Http.PostAsync("jobs", Form(fields, small));
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
    }

    [Fact]
    public async Task A_path_is_accepted_inside_the_data_root_and_refused_outside_it()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { DataRoot = ApiHost.Samples });
        foreach (var outside in new[] { "../README.md", "/etc/passwd", "../samples/../config/lstmcluster.json" })
        {
            using var refused = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = outside }, null));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("outside the server's data root", await Error(refused));
        }
        using var missing = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = "nothing.csv" }, null));
        Assert.Contains("no such file", await Error(missing));

        using var accepted = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = "AirPassengers.csv" }, null));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        string id = JsonDocument.Parse(await accepted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);
        Assert.Equal("AirPassengers.csv", done.Data);
    }

    [Fact]
    public async Task A_path_through_a_symbolic_link_that_leads_outside_the_data_root_is_refused_without_naming_server_folders()
    {
        string top = Directory.CreateTempSubdirectory("lstmcluster-root-").FullName;
        try
        {
            string root = Directory.CreateDirectory(Path.Combine(top, "root")).FullName;
            string outside = Directory.CreateDirectory(Path.Combine(top, "outside")).FullName;
            File.Copy(ApiHost.AirPassengers, Path.Combine(outside, "secret.csv"));
            File.Copy(ApiHost.AirPassengers, Path.Combine(root, "inside.csv"));
            Directory.CreateDirectory(Path.Combine(root, "sub"));
            Directory.CreateSymbolicLink(Path.Combine(root, "dirlink"), outside);
            Directory.CreateSymbolicLink(Path.Combine(root, "sub", "uplink"), "../../outside");
            File.CreateSymbolicLink(Path.Combine(root, "filelink.csv"), Path.Combine(outside, "secret.csv"));
            Directory.CreateSymbolicLink(Path.Combine(root, "innerlink"), Path.Combine(root, "sub"));
            File.CreateSymbolicLink(Path.Combine(root, "sub", "alias.csv"), "../inside.csv");

            await using var host = await ApiHost.Start(new JobApiOptions { DataRoot = root });
            foreach (var escape in new[] { "dirlink/secret.csv", "sub/uplink/secret.csv", "filelink.csv", "innerlink/uplink/secret.csv", "sub/../dirlink/secret.csv" })
            {
                using var refused = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = escape }, null));
                Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
                string reason = await Error(refused);
                Assert.Contains("outside the server's data root", reason);
                Assert.DoesNotContain(top, reason);
            }

            // Links that stay inside the root are fine; a data error in such a file names it relative to the root.
            using var accepted = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = "innerlink/alias.csv" }, null));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            using var badColumn = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { ["path"] = "inside.csv", ["target"] = "nope" }, null));
            Assert.Equal(HttpStatusCode.BadRequest, badColumn.StatusCode);
            string why = await Error(badColumn);
            Assert.StartsWith("inside.csv: no target column 'nope'", why);
            Assert.DoesNotContain(top, why);
        }
        finally
        {
            Directory.Delete(top, recursive: true);
        }
    }

    [Fact]
    public async Task Too_many_fields_or_a_huge_field_name_is_a_400_with_the_real_reason_not_a_413()
    {
        await using var host = await ApiHost.Start();
        var air = File.ReadAllBytes(ApiHost.AirPassengers);
        var many = Form(Enumerable.Range(0, 1100).ToDictionary(i => $"f{i}", i => "1"), air);
        using var tooMany = await host.Http.PostAsync("jobs", many);
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("more than 1,024 fields", await Error(tooMany));

        using var longName = await host.Http.PostAsync("jobs", Form(new Dictionary<string, string>(ApiHost.TinyJob()) { [new string('n', 100_000)] = "1" }, air));
        Assert.Equal(HttpStatusCode.BadRequest, longName.StatusCode);
        string reason = await Error(longName);
        Assert.DoesNotContain("larger than", reason);
        Assert.True(reason.Length < 200, reason);
    }

    [Fact]
    public async Task Ready_reports_the_nodes_readiness_with_its_detail_roles_and_convergence()
    {
        var roles = new Dictionary<string, int> { ["worker"] = 0, ["coordinator"] = 1 };
        await using var host = await ApiHost.Start(readiness: new FixedReadiness(new NodeReadiness(false, "no worker is up", roles, Converged: true)));
        using var ready = await host.Http.GetAsync("ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.False(body.GetProperty("ready").GetBoolean());
        Assert.Equal("no worker is up", body.GetProperty("detail").GetString());
        Assert.Equal(1, body.GetProperty("roles").GetProperty("coordinator").GetInt32());
        Assert.True(body.GetProperty("converged").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task A_coordinator_that_does_not_answer_is_a_503_with_a_reason()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { AskTimeout = TimeSpan.FromMilliseconds(300) },
            coordinator: Akka.Actor.Props.Create(() => new Silent()));
        using var response = await host.Http.GetAsync("jobs/job-1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("did not answer", await Error(response));
    }

    private sealed class FixedReadiness(NodeReadiness readiness) : INodeReadiness
    {
        public NodeReadiness Check() => readiness;
    }

    private sealed class Silent : Akka.Actor.ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }
}
