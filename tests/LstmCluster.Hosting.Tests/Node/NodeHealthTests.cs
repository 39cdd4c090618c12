using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// <c>/health</c> and <c>/ready</c> of real nodes in this process: Akka.Hosting's liveness and cluster-readiness checks
/// behind them, <c>--expect-workers</c> holding readiness back until that many workers are Up, the members listed.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NodeHealthTests : IDisposable
{
    private readonly string state = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"health-{Guid.NewGuid():N}");

    [Fact]
    public async Task Ready_waits_for_the_expected_workers_and_lists_the_members_by_role()
    {
        int http = TestNodes.FreePort();
        var founder = NodeHost.Build(new NodeOptions
        {
            Host = "127.0.0.1", Port = 0, HttpPort = http, TorchThreads = 1, StateDir = state, ExpectWorkers = 2,
        });
        await founder.StartAsync();
        WebApplication? worker = null;
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            // The founder alone is Up with every role and one worker (itself): not ready, and the body says how many are missing.
            var alone = await Poll(client, body => body.GetProperty("roles").GetProperty("worker").GetInt32() == 1
                && body.GetProperty("detail").GetString()!.Contains("1 of 2 expected workers", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, alone.Status);
            Assert.False(alone.Body.GetProperty("ready").GetBoolean());
            var member = Assert.Single(alone.Body.GetProperty("members").EnumerateArray());
            Assert.Equal("Up", member.GetProperty("status").GetString());
            Assert.True(member.GetProperty("reachable").GetBoolean());
            Assert.Equal("coordinator,parameter-server,worker", string.Join(",", member.GetProperty("roles").EnumerateArray().Select(r => r.GetString())));
            // Akka.Hosting's cluster readiness check ran and passed: the node has joined; only the worker count holds it back.
            Assert.Equal("Healthy", Assert.Single(alone.Body.GetProperty("checks").EnumerateObject()).Value.GetString());

            var address = Akka.Cluster.Cluster.Get(founder.Services.GetRequiredService<ActorSystem>()).SelfAddress;
            worker = NodeHost.Build(new NodeOptions
            {
                Roles = ["worker"], Host = "127.0.0.1", Port = 0, HttpPort = 0, TorchThreads = 1, Seeds = [address.ToString()],
            });
            await worker.StartAsync();

            var both = await Poll(client, body => body.GetProperty("ready").GetBoolean());
            Assert.Equal(HttpStatusCode.OK, both.Status);
            Assert.Equal(2, both.Body.GetProperty("roles").GetProperty("worker").GetInt32());
            Assert.Contains(both.Body.GetProperty("members").EnumerateArray(),
                m => m.GetProperty("roles").EnumerateArray().Select(r => r.GetString()).SequenceEqual(["worker"]));

            using var health = await client.GetAsync("health");
            using var alive = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("alive", alive.RootElement.GetProperty("status").GetString());
            Assert.Equal("Healthy", Assert.Single(alive.RootElement.GetProperty("checks").EnumerateObject()).Value.GetString());
        }
        finally
        {
            if (worker is not null)
            {
                await worker.StopAsync();
                await worker.DisposeAsync();
            }
            await founder.StopAsync();
            await founder.DisposeAsync();
        }
    }

    [Fact]
    public void Expect_workers_is_read_from_the_flag_and_the_environment_and_checked()
    {
        var fromEnv = NodeOptions.Resolve(new Dictionary<string, string?>(), v => v == "LSTMCLUSTER_EXPECT_WORKERS" ? "3" : null, null);
        Assert.Equal(3, fromEnv.ExpectWorkers);
        var fromFlag = NodeOptions.Resolve(new Dictionary<string, string?> { ["expect-workers"] = "4" }, _ => null, null);
        Assert.Equal(4, fromFlag.ExpectWorkers);
        var bad = Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(new Dictionary<string, string?> { ["expect-workers"] = "0" }, _ => null, null));
        Assert.Contains("expect-workers", bad.Message, StringComparison.Ordinal);
    }

    /// <summary>GET /ready until <paramref name="reached"/> holds (a deadline only to fail a test that would hang).</summary>
    private static async Task<(HttpStatusCode Status, JsonElement Body)> Poll(HttpClient client, Func<JsonElement, bool> reached)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await client.GetAsync("ready");
                string text = await response.Content.ReadAsStringAsync();
                last = text;
                var body = JsonDocument.Parse(text).RootElement.Clone();
                if (reached(body)) return (response.StatusCode, body);
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"/ready never reached the awaited state; last answer: {last}");
    }


    public void Dispose() => TestNodes.DeleteState(state);
}
