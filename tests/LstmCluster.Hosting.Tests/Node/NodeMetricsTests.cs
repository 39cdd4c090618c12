using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using LstmCluster.Contracts;
using LstmCluster.Client;
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
        int http = TestNodes.FreePort();
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
            await TestNodes.WaitReady(http1);
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
            Assert.True(Value(text, "lstmcluster_round_hand_over_seconds_count") > 0, text);
            Assert.True(Value(text, "lstmcluster_parameter_server_busy_seconds_total") > 0, text);
            Assert.True(Value(text, "lstmcluster_jobs", "state=\"succeeded\"") >= 1, text);
            Assert.Equal(0, Value(text, "lstmcluster_queue_length"));
            Assert.Equal(1, Value(text, "lstmcluster_cluster_members", "role=\"worker\"", "status=\"up\""));
            Assert.Equal(0, Value(text, "lstmcluster_cluster_members", "role=\"worker\"", "status=\"unreachable\""));
            // The runtime's own and the HTTP server's.
            Assert.Contains("dotnet_gc_", text, StringComparison.Ordinal);
            Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);

            DashboardQueriesNameExportedMetrics(text);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// docker/monitoring's Grafana dashboard is valid JSON whose every panel has a Prometheus query, and every metric its
    /// queries name is one a node exports: in this scrape, or (counters that have not counted yet: dropped gradients,
    /// checkpoints) one of the product's instruments under its Prometheus name.
    /// </summary>
    private static void DashboardQueriesNameExportedMetrics(string scrape)
    {
        string root = Path.GetDirectoryName(ApiHost.Samples)!;
        using var dashboard = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "docker", "monitoring", "grafana", "dashboards", "lstmcluster.json")));
        var exported = new HashSet<string>(Regex.Matches(scrape, @"^([a-z_]+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value), StringComparer.Ordinal);
        foreach (var name in InstrumentNames()) exported.Add(name);
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.NotEmpty(panels);
        foreach (var panel in panels)
        {
            string title = panel.GetProperty("title").GetString()!;
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"panel '{title}' has no query");
            foreach (var target in targets)
            {
                string expr = target.GetProperty("expr").GetString()!;
                foreach (Match metric in Regex.Matches(expr, @"\b((?:lstmcluster|dotnet|http)_[a-z_]+)\b"))
                    Assert.True(exported.Contains(metric.Value), $"panel '{title}' queries {metric.Value}, which no node exports");
            }
        }
    }

    /// <summary>The product's instruments under the names the Prometheus exporter gives them (unit and _total suffixes).</summary>
    private static IEnumerable<string> InstrumentNames()
    {
        var names = new List<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name != Actors.Telemetry.ClusterMetrics.MeterName) return;
                string name = instrument.Name.Replace('.', '_') + instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
                string type = instrument.GetType().Name;
                if (type.StartsWith("Counter", StringComparison.Ordinal) || type.StartsWith("ObservableCounter", StringComparison.Ordinal)) names.Add(name + "_total");
                else if (type.StartsWith("Histogram", StringComparison.Ordinal)) names.AddRange([name + "_bucket", name + "_sum", name + "_count"]);
                else names.Add(name);
            },
        };
        listener.Start();
        return names;
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



    public void Dispose() => TestNodes.DeleteState(state);
}
