using System.Diagnostics;
using System.Text.Json;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>
/// <c>/openapi/v1.json</c> as a generated client needs it (what it says is checked here; that a client generated from it works,
/// in <see cref="GeneratedClientTests"/>), and Redocly CLI's recommended rules finding no error in it.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private ApiHost host = null!;

    public async Task InitializeAsync() => host = await ApiHost.Start();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private async Task<JsonElement> Document()
    {
        using var response = await host.Http.GetAsync("openapi/v1.json");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()
            .Where(m => m.Name is "get" or "post" or "put" or "delete" or "patch")
            .Select(m => (p.Name, m.Name, m.Value)));

    [Fact]
    public async Task Submitting_a_job_has_a_multipart_body_with_every_form_field_its_range_choices_and_the_servers_default()
    {
        var submit = (await Document()).GetProperty("paths").GetProperty("/jobs").GetProperty("post");
        var body = submit.GetProperty("requestBody");
        Assert.True(body.GetProperty("required").GetBoolean());
        var form = body.GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema");
        var fields = form.GetProperty("properties");

        // Every name the form reader accepts is described: train's options, and the API's own fields.
        var names = fields.EnumerateObject().Select(p => p.Name).ToHashSet();
        var expected = Core.Configuration.RunOptionValues.Names.Concat(["data", "path", "workers", "priority", "mode", "staleness", "sync-period", "sampling", "strategy", "series-id"]);
        Assert.Empty(expected.Except(names));
        Assert.Empty(names.Except(expected));
        Assert.All(fields.EnumerateObject(), f => Assert.False(string.IsNullOrWhiteSpace(f.Value.GetProperty("description").GetString()), f.Name));

        Assert.Equal(["target"], form.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("binary", fields.GetProperty("data").GetProperty("format").GetString());
        var lookback = fields.GetProperty("lookback");
        // Optional fields are typed as also null (a generated client then leaves them out); target alone is required.
        Assert.Equal(["integer", "null"], lookback.GetProperty("type").EnumerateArray().Select(e => e.GetString()).Order());
        Assert.Equal("string", fields.GetProperty("target").GetProperty("type").GetString());
        Assert.Equal(1, lookback.GetProperty("minimum").GetInt32());
        Assert.Equal(10_000, lookback.GetProperty("maximum").GetInt32());
        // The server's default: the built-in one overridden by its config file.
        var defaults = Core.Configuration.RunOptionValues.FromDefaults(Core.Configuration.Defaults.Load());
        Assert.Equal(defaults.Lookback, lookback.GetProperty("default").GetInt32());
        Assert.Equal(defaults.Epochs, fields.GetProperty("epochs").GetProperty("default").GetString());
        Assert.Equal(0, fields.GetProperty("lr").GetProperty("exclusiveMinimum").GetDouble());
        Assert.Equal(1, fields.GetProperty("dropout").GetProperty("exclusiveMaximum").GetDouble());
        Assert.Equal(["sync", "async", "local-sgd"], fields.GetProperty("mode").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        // The node's sampling unless the job names one: no default of the document's own.
        var sampling = fields.GetProperty("sampling");
        Assert.Equal(["global", "shard-local", "global-sliced"], sampling.GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.False(sampling.TryGetProperty("default", out _));
        Assert.Equal(Core.Configuration.RunOptionValues.NormalizeChoices,
            fields.GetProperty("normalize").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("value", fields.GetProperty("target").GetProperty("examples")[0].GetString());

        var accepted = submit.GetProperty("responses").GetProperty("202").GetProperty("content").GetProperty("application/json");
        Assert.Equal("job-1", accepted.GetProperty("example").GetProperty("id").GetString());
        foreach (var status in new[] { "400", "401", "403", "413", "415", "429" })
            Assert.True(submit.GetProperty("responses").TryGetProperty(status, out _), $"POST /jobs describes no {status}");
    }

    [Fact]
    public async Task Delete_describes_every_body_it_answers_with_200()
    {
        var document = await Document();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        foreach (var (path, views) in new[] { ("/jobs/{id}", new[] { "JobView", "GroupView", "DeletedView" }), ("/groups/{id}", new[] { "GroupView", "DeletedView" }) })
        {
            var ok = document.GetProperty("paths").GetProperty(path).GetProperty("delete").GetProperty("responses").GetProperty("200");
            var oneOf = ok.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("oneOf");
            var refs = oneOf.EnumerateArray().Select(r => r.GetProperty("$ref").GetString()!.Split('/')[^1]).ToArray();
            Assert.Equal(views, refs);
            Assert.All(refs, r => Assert.True(schemas.TryGetProperty(r, out _), $"{r} is not among the document's schemas"));
        }
        var deleted = schemas.GetProperty("DeletedView").GetProperty("properties");
        Assert.True(deleted.TryGetProperty("id", out _) && deleted.TryGetProperty("state", out _), deleted.ToString());
    }

    [Fact]
    public async Task Every_operation_has_a_unique_operation_id_a_resource_tag_and_its_security()
    {
        var document = await Document();
        var tags = document.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToHashSet();
        Assert.Equal(new HashSet<string> { "Jobs", "Results", "Serving", "Health" }, tags);
        var operations = Operations(document).ToList();
        Assert.True(operations.Count >= 13, $"only {operations.Count} operations");
        var ids = new HashSet<string>();
        foreach (var (path, method, operation) in operations)
        {
            string where = $"{method.ToUpperInvariant()} {path}";
            Assert.True(operation.TryGetProperty("operationId", out var id), $"{where} has no operationId");
            Assert.True(ids.Add(id.GetString()!), $"{where}: operationId {id} is not unique");
            var own = operation.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList();
            Assert.True(own.Count == 1 && tags.Contains(own[0]), $"{where} is tagged [{string.Join(", ", own)}]");
            var security = operation.GetProperty("security").EnumerateArray().ToList();
            if (path is "/health" or "/ready")
                Assert.Empty(security);
            else
                Assert.Equal([method == "post" && path is "/jobs" or "/sweeps" || method == "delete" ? "submit" : "read"],
                    Assert.Single(security).GetProperty("bearer").EnumerateArray().Select(e => e.GetString()));
        }
        Assert.Contains("SubmitJob", ids);
        Assert.Contains("GetJobForecast", ids);

        var bearer = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());
        // Numbers are numbers: the web defaults' reading from strings would make every count ["integer", "string"].
        var epoch = document.GetProperty("components").GetProperty("schemas").GetProperty("JobView").GetProperty("properties").GetProperty("epoch");
        Assert.Equal("integer", epoch.GetProperty("type").GetString());
        Assert.StartsWith("http://127.0.0.1:", document.GetProperty("servers")[0].GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.False(document.GetProperty("servers")[0].GetProperty("url").GetString()!.EndsWith('/'));
    }

    [SkippableFact]
    public async Task Redocly_lints_the_document_without_errors()
    {
        string text;
        using (var response = await host.Http.GetAsync("openapi/v1.json")) text = await response.Content.ReadAsStringAsync();
        var (exit, output) = await Redocly.Lint(text);
        Assert.True(exit == 0, $"redocly lint exited {exit}:\n{output}");
        Assert.Contains("Your API description is valid", output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Redocly_finds_the_errors_of_a_document_without_security_or_operation_ids()
    {
        // The lint can fail: the same document with what this work added taken away has errors again.
        string text;
        using (var response = await host.Http.GetAsync("openapi/v1.json")) text = await response.Content.ReadAsStringAsync();
        var document = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        foreach (var path in document["paths"]!.AsObject())
            foreach (var operation in path.Value!.AsObject())
            {
                operation.Value!.AsObject().Remove("security");
                operation.Value!.AsObject().Remove("summary");
            }
        var (exit, output) = await Redocly.Lint(document.ToJsonString());
        Assert.NotEqual(0, exit);
        Assert.Contains("security-defined", output, StringComparison.Ordinal);
    }
}

/// <summary>
/// Redocly CLI (npm <c>@redocly/cli</c>, pinned in <c>tools/openapi/package.json</c>, installed there by <c>npm ci</c>; .ci/run
/// does it) with the rules of <c>tools/openapi/redocly.yaml</c>. Run through node from that folder, never npx: nothing is
/// fetched at test time. Without node or the install the test skips, except in CI (<c>CI=true</c>), where it fails.
/// </summary>
internal static class Redocly
{
    public static async Task<(int Exit, string Output)> Lint(string document)
    {
        string tools = Path.Combine(Path.GetDirectoryName(ApiHost.Samples)!, "tools", "openapi");
        string cli = Path.Combine(tools, "node_modules", "@redocly", "cli", "bin", "cli.js");
        string? node = FindOnPath("node");
        if (node is null || !File.Exists(cli))
        {
            string missing = node is null ? "node (Debian: apt-get install nodejs npm)" : $"Redocly CLI ({cli}; run: npm ci --prefix tools/openapi)";
            LstmCluster.Tests.Shared.Prerequisite.Require($"the OpenAPI lint needs {missing}");
        }
        string file = Path.Combine(Path.GetTempPath(), $"lstmcluster-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, document);
        try
        {
            var start = new ProcessStartInfo(node!)
            {
                WorkingDirectory = tools,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { cli, "lint", file, "--config", Path.Combine(tools, "redocly.yaml"), "--format", "stylish" })
                start.ArgumentList.Add(arg);
            // No telemetry and no update check: the test talks to nothing but 127.0.0.1.
            start.Environment["REDOCLY_TELEMETRY"] = "off";
            start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
            start.Environment["NO_COLOR"] = "1";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
