using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LstmCluster.Hosting.Simulation;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Test layer 4: real `lstmcluster node` processes (coordinator, parameter server, two workers) on
/// 127.0.0.1, a job submitted over HTTP, and a worker killed with SIGKILL in the middle of training.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ProcessClusterTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Shorter failure detection than a production node's, so a killed worker is downed within seconds.
    internal const string FastTimings =
        "akka.cluster.failure-detector.acceptable-heartbeat-pause = 4s, akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 4s, akka.cluster.split-brain-resolver.stable-after = 3s";

    /// <summary>The lstmcluster built beside this test (same configuration).</summary>
    private static LocalClusterOptions Options(int workers, string name)
    {
        string exe = RepoPaths.Lstmcluster;
        string logs = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"{name}-{Guid.NewGuid():N}");
        return new LocalClusterOptions(exe, [], workers, logs, TorchThreads: 1, Hocon: FastTimings);
    }

    internal static MultipartFormDataContent Job(string sample, int epochs, params (string, string)[] fields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(File.ReadAllBytes(RepoPaths.Sample(sample)));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "data", sample);
        foreach (var (k, v) in (IEnumerable<(string, string)>)[("target", "value"), ("season", "12"), ("lookback", "24"), ("horizon", "3"),
                     ("hidden", "8"), ("layers", "1"), ("batch-size", "16"), ("epochs", epochs.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. fields])
            form.Add(new StringContent(v), k);
        return form;
    }

    internal static async Task<string> Submit(HttpClient http, MultipartFormDataContent form)
    {
        using var response = await http.PostAsync("jobs", form);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /jobs answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> Status(HttpClient http, string id)
    {
        using var response = await http.GetAsync($"jobs/{id}");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<JsonElement> WaitFor(HttpClient http, string id, Func<JsonElement, bool> done, TimeSpan timeout, LocalCluster cluster)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await Status(http, id);
            if (done(status)) return status;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"job {id} after {timeout.TotalSeconds:0} s: {status}\ncoordinator log:\n{cluster.Nodes[0].Tail()}");
            await Task.Delay(250);
        }
    }

    private static bool Ended(JsonElement s) => s.GetProperty("state").GetString() is "Succeeded" or "Failed" or "Cancelled";

    [Fact]
    public async Task Node_processes_run_a_job_submitted_over_http()
    {
        await using var cluster = await LocalCluster.Start(Options(2, "run"));
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };

        string id = await Submit(http, Job("AirPassengers.csv", epochs: 3, ("workers", "2")));
        var status = await WaitFor(http, id, Ended, TimeSpan.FromMinutes(3), cluster);
        Assert.True(status.GetProperty("state").GetString() == "Succeeded", status.ToString());

        using var forecast = await http.GetAsync($"jobs/{id}/forecast");
        forecast.EnsureSuccessStatusCode();
        var points = JsonDocument.Parse(await forecast.Content.ReadAsStringAsync()).RootElement.GetProperty("points");
        Assert.Equal(3, points.GetArrayLength());
        Assert.All(points.EnumerateArray(), p => Assert.True(double.IsFinite(p.GetProperty("value").GetDouble())));
    }

    [Fact]
    public async Task A_worker_killed_with_SIGKILL_mid_training_hands_its_shard_over_and_training_goes_on()
    {
        await using var cluster = await LocalCluster.Start(Options(2, "kill"));
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };

        // Held open whatever the machine's speed: no early stopping and more epochs than the test lives; cancelled at the end.
        string id = await Submit(http, Job("co2.csv", epochs: LstmCluster.Core.Training.TrainingOptions.MaxEpochs, ("workers", "2"), ("patience", "0")));
        await WaitFor(http, id, s => Ended(s) || s.GetProperty("epoch").GetInt32() >= 2, TimeSpan.FromMinutes(3), cluster);
        var victim = cluster.Workers.Last();
        LocalCluster.Kill(victim);
        await victim.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // The parameter server deals the dead worker's shard to the survivor (its epochs report one worker)...
        var handedOver = await WaitFor(http, id, s => Ended(s) || Workers(s) == 1, TimeSpan.FromMinutes(3), cluster);
        Assert.True(!Ended(handedOver), $"the job ended before the hand-over: {handedOver}\ncoordinator log:\n{cluster.Nodes[0].Tail()}");
        var server = cluster.Nodes.Single(n => n.Roles == "parameter-server");
        Assert.Contains("its shard goes to the other 1", server.Tail(400));
        // ...and training goes on with it: two more epochs.
        int epoch = handedOver.GetProperty("epoch").GetInt32();
        var later = await WaitFor(http, id, s => Ended(s) || s.GetProperty("epoch").GetInt32() >= epoch + 2, TimeSpan.FromMinutes(3), cluster);
        Assert.True(!Ended(later) && Workers(later) == 1, $"training stopped after the hand-over: {later}\ncoordinator log:\n{cluster.Nodes[0].Tail()}");

        using var cancel = await http.DeleteAsync($"jobs/{id}");
        cancel.EnsureSuccessStatusCode();
        var status = await WaitFor(http, id, Ended, TimeSpan.FromMinutes(1), cluster);
        Assert.Equal("Cancelled", status.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_killed_workers_closed_connection_hands_its_shard_over_long_before_the_failure_detector_would()
    {
        // The node's own failure detection (10 s pause, 7 s stable-after), not the tests' shorter one.
        string logs = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"closed-{Guid.NewGuid():N}");
        await using var cluster = await LocalCluster.Start(new LocalClusterOptions(RepoPaths.Lstmcluster, [], 2, logs, TorchThreads: 1));
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
        string id = await Submit(http, Job("co2.csv", epochs: LstmCluster.Core.Training.TrainingOptions.MaxEpochs, ("workers", "2"), ("patience", "0")));
        await WaitFor(http, id, s => Ended(s) || s.GetProperty("epoch").GetInt32() >= 2, TimeSpan.FromMinutes(3), cluster);
        var victim = cluster.Workers.Last();
        var server = cluster.Nodes.Single(n => n.Roles == "parameter-server");
        var survivors = cluster.Nodes.Where(n => n != victim).ToList();
        var killedAt = DateTime.UtcNow;
        LocalCluster.Kill(victim);

        // The parameter server probes the worker whose connection closed; no answer, so its shard goes to the survivor.
        await ProcessChaos.WaitForLine([server], "lost its connection and", survivors);
        var handedOverAt = DateTime.UtcNow;
        var later = await WaitFor(http, id, s => Ended(s) || Workers(s) == 1, TimeSpan.FromMinutes(3), cluster);
        Assert.False(Ended(later), later.ToString());
        // The failure detector's path (unreachable, then the resolver's decision) comes later and changes nothing for the job.
        await ProcessChaos.WaitForLine(survivors, $"Leader is removing unreachable node [{victim.Address}]", survivors);
        var removedAt = DateTime.UtcNow;
        Assert.Equal(1, Workers(await WaitFor(http, id, s => Ended(s) || s.GetProperty("epoch").GetInt32() >= later.GetProperty("epoch").GetInt32() + 2,
            TimeSpan.FromMinutes(3), cluster)));
        using var cancel = await http.DeleteAsync($"jobs/{id}");
        cancel.EnsureSuccessStatusCode();
        output.WriteLine($"SIGKILL {victim.Name}: shard handed over on the closed connection after {ProcessChaos.Seconds(handedOverAt - killedAt)}; "
            + $"the failure detector and resolver removed the node after {ProcessChaos.Seconds(removedAt - killedAt)}");
    }

    private static int Workers(JsonElement s) => s.GetProperty("workers").GetInt32();
}
