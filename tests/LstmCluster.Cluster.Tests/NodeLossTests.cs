using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LstmCluster.Hosting.Simulation;
using static LstmCluster.Cluster.Tests.ProcessChaos;
using Xunit.Abstractions;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Test layer 4, the split-brain resolver with real `lstmcluster node` processes: losing one node (the oldest
/// coordinator node included) downs no survivor, and a node the resolver downs exits with code 1.
/// </summary>
/// <remarks>
/// Each test starts from a converged membership (<see cref="LocalCluster.Start"/> waits for it): killed before the others
/// knew themselves Up, the founder left survivors that the resolver does not count, and they downed themselves.
/// </remarks>
[Collection(ClusterCollection.Name)]
public sealed partial class NodeLossTests(ITestOutputHelper output)
{
    // Detection takes seconds with ProcessClusterTests' timings; a bound only says when to give up.
    private static readonly TimeSpan Detection = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Every test here rests on the split-brain resolver's decision, so the nodes run with their own failure detection
    /// (10 s pause, 7 s stable-after), not the shorter one of the other process tests: with a 4 s pause, a node that
    /// stalls for a few seconds on two busy cores (a hand-over, a new coordinator recovering) looked unreachable too, and
    /// the resolver rightly downed a side it could no longer count on (both failover tests failed so, once each, in CI).
    /// </summary>
    private static LocalClusterOptions Options(int workers, int coordinators, string name)
    {
        string logs = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"{name}-{Guid.NewGuid():N}");
        return new LocalClusterOptions(RepoPaths.Lstmcluster, [], workers, logs, TorchThreads: 1, Coordinators: coordinators);
    }

    [Fact]
    public async Task Losing_the_oldest_coordinator_node_downs_no_survivor_and_the_job_api_moves_to_the_second_coordinator()
    {
        await using var cluster = await LocalCluster.Start(Options(workers: 2, coordinators: 2, "oldest"));
        var oldest = cluster.Nodes.Single(n => n.Name == "coordinator");
        var second = cluster.Nodes.Single(n => n.Name == "coordinator-2");
        var survivors = cluster.Nodes.Where(n => n != oldest).ToList();
        using var viaSecond = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{second.HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        // The singleton runs on the founding node, and the second coordinator node only reaches it through its proxy.
        Assert.NotNull(Line(oldest, SingletonStarted));
        Assert.Null(Line(second, SingletonStarted));
        using (var before = await viaSecond.GetAsync("jobs")) Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        var killedAt = DateTime.UtcNow;
        LocalCluster.Kill(oldest);
        await oldest.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // The survivors' leader downs the dead node and removes it...
        string removal = $"Leader is removing unreachable node [{oldest.Address}]";
        var removed = await WaitForLine(survivors, removal, survivors);
        // ...the singleton starts on the second coordinator node...
        var started = await WaitForLine([second], SingletonStarted, survivors);
        // ...and that node's job API is answered by it: a new job runs on the surviving parameter server and workers.
        string id = await ProcessClusterTests.Submit(viaSecond, ProcessClusterTests.Job("AirPassengers.csv", epochs: 2, ("workers", "2")));
        var status = await WaitForJob(viaSecond, id, survivors);
        Assert.True(status.GetProperty("state").GetString() == "Succeeded", $"{status}\n{second.Name} log:\n{second.Tail()}");

        // Past the point where the resolver decided (the dead node is removed, nothing is unreachable): every survivor runs.
        Assert.All(survivors, n => Assert.False(n.Exited, $"{n.Name} exited with code {ExitCode(n)}; its log ends:\n{n.Tail()}"));
        output.WriteLine($"SIGKILL {oldest.Name} at {killedAt:HH:mm:ss.fff}; removed by the survivors' leader {Since(killedAt, removed)}, "
            + $"singleton started on {second.Name} {Since(killedAt, started)}, job {id} Succeeded through {second.Name} {Since(killedAt, DateTime.UtcNow)}");
    }

    [Fact]
    public async Task Killing_the_coordinator_node_with_a_running_and_three_queued_jobs_loses_none_of_them()
    {
        // Five nodes: one more stalled node on top of the killed one still leaves a majority.
        await using var cluster = await LocalCluster.Start(Options(workers: 2, coordinators: 2, "failover"));
        var oldest = cluster.Nodes.Single(n => n.Name == "coordinator");
        var second = cluster.Nodes.Single(n => n.Name == "coordinator-2");
        var survivors = cluster.Nodes.Where(n => n != oldest).ToList();
        using var viaOldest = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
        using var viaSecond = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{second.HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };

        // One job trains at a time (a node's default): the first runs, three wait behind it in the journaled queue.
        string first = await ProcessClusterTests.Submit(viaOldest, ProcessClusterTests.Job("AirPassengers.csv", epochs: 20, ("patience", "0")));
        var queued = new List<string>();
        for (int i = 0; i < 3; i++) queued.Add(await ProcessClusterTests.Submit(viaOldest, ProcessClusterTests.Job("AirPassengers.csv", epochs: 2)));
        Assert.Equal(["job-1", "job-2", "job-3", "job-4"], [first, .. queued]);
        var running = await WaitForState(viaOldest, first, "Running", survivors);

        var killedAt = DateTime.UtcNow;
        LocalCluster.Kill(oldest);
        await oldest.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // The singleton starts on the second coordinator node and recovers the journal from the shared state directory:
        // every job keeps its id and succeeds there (the first one again from its start if the kill cut its run off).
        var started = await WaitForLine([second], SingletonStarted, survivors);
        foreach (var id in (string[])[first, .. queued])
        {
            var status = await WaitForJob(viaSecond, id, survivors);
            Assert.True(status.GetProperty("state").GetString() == "Succeeded", $"{id}: {status}\n{second.Name} log:\n{second.Tail()}");
        }
        var firstStatus = await Status(viaSecond, first);
        // Ids go on from the journal: a client holding job-1 can never read another job's results.
        Assert.Equal("job-5", await ProcessClusterTests.Submit(viaSecond, ProcessClusterTests.Job("AirPassengers.csv", epochs: 1)));
        Assert.All(survivors, n => Assert.False(n.Exited, $"{n.Name} exited with code {ExitCode(n)}; its log ends:\n{n.Tail()}"));
        output.WriteLine($"SIGKILL {oldest.Name} at {killedAt:HH:mm:ss.fff} with job-1 at epoch {running.GetProperty("epoch").GetInt32()} "
            + $"and 3 queued; singleton on {second.Name} {Since(killedAt, started)}; all 4 Succeeded {Since(killedAt, DateTime.UtcNow)}; "
            + $"job-1 trained {firstStatus.GetProperty("attempts").GetInt32()} attempt(s)");
    }

    private static async Task<JsonElement> Status(HttpClient http, string id)
    {
        using var response = await http.GetAsync($"jobs/{id}");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<JsonElement> WaitForState(HttpClient http, string id, string state, IReadOnlyList<NodeProcess> mustRun)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await Status(http, id);
            if (status.GetProperty("state").GetString() == state) return status;
            if (mustRun.FirstOrDefault(n => n.Exited) is { } dead) Assert.Fail($"{dead.Name} exited with code {ExitCode(dead)}; its log ends:\n{dead.Tail()}");
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) Assert.Fail($"job {id} never reached {state}: {status}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_node_the_split_brain_resolver_downs_exits_with_code_1()
    {
        await using var cluster = await LocalCluster.Start(Options(workers: 2, coordinators: 1, "downed"));
        var victim = cluster.Workers.Last();
        var others = cluster.Nodes.Where(n => n != victim).ToList();
        try
        {
            // Frozen, not dead: its heartbeats stop, so the others find it unreachable and down it. Thawed, it finds
            // itself quarantined by a cluster that has removed it and downs itself (QuarantineGuard). Its own resolver
            // cannot be relied on for that: heartbeats read from its socket on thawing can make it see an even split
            // it wins on address, and then it downed the live nodes instead (seen once in CI).
            var stoppedAt = DateTime.UtcNow;
            Signal(victim, Sigstop);
            var removed = await WaitForLine(others, $"Leader is removing unreachable node [{victim.Address}]", others);
            Signal(victim, Sigcont);
            var continuedAt = DateTime.UtcNow;

            try
            {
                await victim.Process.WaitForExitAsync().WaitAsync(Detection);
            }
            catch (TimeoutException)
            {
                // Seen once in CI on a machine at load ~50: say where the thawed node stood, for the next look.
                Assert.Fail($"{victim.Name} still runs {Detection.TotalSeconds:0} s after SIGCONT; its log ends:\n{victim.Tail()}");
            }
            var exitedAt = DateTime.UtcNow;
            Assert.True(victim.Process.ExitCode == 1, $"{victim.Name} exited with code {victim.Process.ExitCode}; its log ends:\n{victim.Tail()}");
            Assert.NotNull(Line(victim, "ClusterDowningReason"));
            Assert.All(others, n => Assert.False(n.Exited, $"{n.Name} exited with code {ExitCode(n)}; its log ends:\n{n.Tail()}"));
            output.WriteLine($"SIGSTOP {victim.Name} at {stoppedAt:HH:mm:ss.fff}; removed by the others {Since(stoppedAt, removed)}; "
                + $"SIGCONT, then exit code 1 {(exitedAt - continuedAt).TotalSeconds:0.0} s later");
        }
        finally
        {
            // A stopped process would hold the cluster's teardown up to its SIGKILL: let it run (and end) again.
            if (!victim.Exited) Signal(victim, Sigcont);
        }
    }

    private const string SingletonStarted = "Singleton manager started singleton actor";

    /// <summary>Polls the nodes' logs for a line; fails at once, with its log, when one of <paramref name="mustRun"/> exits meanwhile.</summary>
    private static async Task<DateTime?> WaitForLine(IReadOnlyList<NodeProcess> nodes, string text, IReadOnlyList<NodeProcess> mustRun)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            foreach (var n in nodes)
                if (Line(n, text) is { } line)
                    return Timestamp(line);
            if (mustRun.FirstOrDefault(n => n.Exited) is { } dead)
                Assert.Fail($"{dead.Name} exited with code {ExitCode(dead)} while waiting for \"{text}\"; its log ends:\n{dead.Tail()}");
            if (clock.Elapsed > Detection)
                Assert.Fail($"no \"{text}\" in the logs of {string.Join(", ", nodes.Select(n => n.Name))} after {Detection.TotalSeconds:0} s; {nodes[0].Name}'s log ends:\n{nodes[0].Tail()}");
            await Task.Delay(200);
        }
    }

    private static async Task<JsonElement> WaitForJob(HttpClient http, string id, IReadOnlyList<NodeProcess> mustRun)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync($"jobs/{id}");
            response.EnsureSuccessStatusCode();
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (status.GetProperty("state").GetString() is "Succeeded" or "Failed" or "Cancelled") return status;
            if (mustRun.FirstOrDefault(n => n.Exited) is { } dead)
                Assert.Fail($"{dead.Name} exited with code {ExitCode(dead)} while job {id} ran; its log ends:\n{dead.Tail()}");
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) Assert.Fail($"job {id} did not end within 3 minutes: {status}");
            await Task.Delay(250);
        }
    }

    /// <summary>The first line of the node's log that contains <paramref name="text"/>, or null.</summary>
    private static string? Line(NodeProcess node, string text) =>
        node.Tail(int.MaxValue).Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>When Akka logged the line (its timestamps are UTC), or null for a line without one.</summary>
    private static DateTime? Timestamp(string line) =>
        AkkaTimestamp().Match(line) is { Success: true } m
        && DateTime.TryParseExact(m.Groups[1].Value, "MM/dd/yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t : null;

    [GeneratedRegex(@"\]\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d{3})Z\]")]
    private static partial Regex AkkaTimestamp();

    private static string Since(DateTime from, DateTime? to) => to is { } t ? $"{(t - from).TotalSeconds:0.0} s after it" : "(no timestamp)";

    private static string ExitCode(NodeProcess node) => node.Exited ? node.Process.ExitCode.ToString(CultureInfo.InvariantCulture) : "(running)";
}
