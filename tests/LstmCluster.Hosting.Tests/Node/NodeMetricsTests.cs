using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using LstmCluster.Hosting.Client;
using LstmCluster.Hosting.Node;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary><c>GET /metrics</c> of a real node (every role, in this process) after it trained a job: Prometheus text through OpenTelemetry.</summary>
[Collection(ApiCollection.Name)]
public sealed class NodeMetricsTests : IDisposable
{
    private readonly string state = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"metrics-{Guid.NewGuid():N}");

    [Fact]
    public async Task Metrics_show_the_rounds_jobs_members_and_runtime_of_a_node_that_trained_a_job_without_a_token()
    {
        int http = FreePort();
        var app = NodeHost.Build(new NodeOptions
        {
            Host = "127.0.0.1", Port = 0, HttpPort = http, TorchThreads = 1, StateDir = state, ApiToken = "a-token-of-at-least-16-chars",
        });
        await app.StartAsync();
        try
        {
            using var http1 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(60) };
            http1.DefaultRequestHeaders.Authorization = new("Bearer", "a-token-of-at-least-16-chars");
            using var client = new JobApiClient(http1);
            await WaitReady(http1);
            string id = await client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob(epochs: 3));
            var done = await ApiHost.WaitFor(client, id, s => s.Ended);
            Assert.Equal("Succeeded", done.State);

            // Prometheus scrapes without a token.
            using var anonymous = new HttpClient { BaseAddress = http1.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            using var response = await anonymous.GetAsync("metrics");
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);

            Assert.True(Value(text, "lstmcluster_rounds_total") > 0, text);
            Assert.True(Value(text, "lstmcluster_samples_total") > 0, text);
            Assert.True(Value(text, "lstmcluster_round_duration_seconds_count") > 0, text);
            Assert.True(Value(text, "lstmcluster_parameter_server_busy_seconds_total") > 0, text);
            Assert.True(Value(text, "lstmcluster_jobs", "state=\"succeeded\"") >= 1, text);
            Assert.Equal(0, Value(text, "lstmcluster_queue_length"));
            Assert.Equal(1, Value(text, "lstmcluster_cluster_members", "role=\"worker\"", "status=\"up\""));
            Assert.Equal(0, Value(text, "lstmcluster_cluster_members", "role=\"worker\"", "status=\"unreachable\""));
            // The runtime's own and the HTTP server's.
            Assert.Contains("dotnet_gc_", text, StringComparison.Ordinal);
            Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels contain every one of <paramref name="labels"/>.</summary>
    private static double Value(string text, string name, params string[] labels)
    {
        foreach (var line in text.Split('\n'))
        {
            var m = Regex.Match(line, $@"^{Regex.Escape(name)}(\{{(?<labels>[^}}]*)\}})? (?<value>\S+)");
            if (!m.Success) continue;
            string have = m.Groups["labels"].Value;
            if (labels.All(l => have.Contains(l, StringComparison.Ordinal)))
                return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        throw new Xunit.Sdk.XunitException($"no sample {name}{{{string.Join(",", labels)}}} in /metrics:\n{text}");
    }

    private static async Task WaitReady(HttpClient http)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                using var ready = await http.GetAsync("ready");
                if (ready.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the node did not become ready within 60 s");
            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a stopping node: the temp folder keeps it.
        }
    }
}
