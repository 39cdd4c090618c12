using System.Net;
using System.Text.Json;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;
using LstmCluster.Hosting.Dashboard;

namespace LstmCluster.Hosting.Tests.Dashboard;

/// <summary>
/// The dashboard's files over HTTP (the page in a browser is LstmCluster.Browser.Tests) and the loss history it draws:
/// <c>GET /jobs/{id}/history</c> against the coordinator's epochs and the run's metrics.json.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DashboardTests
{
    private const string Token = "a-dashboard-test-token-0123456789";

    [Fact]
    public async Task The_page_script_and_style_load_without_a_token_under_a_strict_content_security_policy_while_the_api_needs_one()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { Tokens = ApiTokens.Single(Token) });
        Assert.Equal(["dashboard.css", "dashboard.js", "index.html"], DashboardEndpoints.Files.Order(StringComparer.Ordinal));
        foreach (var (path, type) in new[] { ("/", "text/html"), ("/dashboard/dashboard.js", "text/javascript"), ("/dashboard/dashboard.css", "text/css") })
        {
            using var response = await host.Http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            string csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
            Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        }
        string page = await host.Http.GetStringAsync("/");
        // Nothing from elsewhere: no CDN, no inline script or style for the policy to allow.
        Assert.DoesNotContain("http://", page, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", page, StringComparison.Ordinal);

        using var unknown = await host.Http.GetAsync("/dashboard/secrets.json");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var anonymous = await host.Http.GetAsync("/jobs/job-1/history");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task History_has_every_epoch_of_a_job_with_the_losses_its_metrics_json_records()
    {
        await using var host = await ApiHost.Start();
        string id = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob(epochs: 4));
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);

        using var history = JsonDocument.Parse(await host.Http.GetStringAsync($"jobs/{id}/history"));
        Assert.Equal("coordinator", history.RootElement.GetProperty("source").GetString());
        Assert.Equal("Succeeded", history.RootElement.GetProperty("state").GetString());
        var epochs = history.RootElement.GetProperty("epochs").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3, 4], epochs.Select(e => e.GetProperty("epoch").GetInt32()));
        Assert.Equal(done.TrainLoss, epochs[^1].GetProperty("train_loss").GetDouble());
        Assert.Equal(done.ValidationLoss, epochs[^1].GetProperty("validation_loss").GetDouble());

        using var metrics = JsonDocument.Parse(await host.Http.GetStringAsync($"jobs/{id}/metrics"));
        var recorded = metrics.RootElement.GetProperty("training").GetProperty("history").EnumerateArray().ToList();
        Assert.Equal(epochs.Count, recorded.Count);
        for (int i = 0; i < recorded.Count; i++)
        {
            Assert.Equal(epochs[i].GetProperty("epoch").GetInt32(), recorded[i].GetProperty("epoch").GetInt32());
            Assert.Equal(epochs[i].GetProperty("train_loss").GetDouble(), recorded[i].GetProperty("train_loss").GetDouble(), 12);
            Assert.Equal(epochs[i].GetProperty("validation_loss").GetDouble(), recorded[i].GetProperty("validation_loss").GetDouble(), 12);
        }

        using var unknown = await host.Http.GetAsync("jobs/job-404/history");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}
