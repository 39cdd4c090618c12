using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using LstmCluster.Hosting.Simulation;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// What the process-level fault tests share: signals to node processes, the job API's status, and waits on events
/// (a job state, a log line) that fail at once, with the node's log, when a node that must run has exited.
/// </summary>
internal static class ProcessChaos
{
    /// <summary>How long a wait goes on before the test gives up (detection and recovery take seconds).</summary>
    public static readonly TimeSpan GiveUp = TimeSpan.FromMinutes(3);

    public const int Sigstop = 19, Sigcont = 18;   // Linux's numbers

    public static void Signal(NodeProcess node, int signal)
    {
        if (kill(node.Process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({node.Process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    public static async Task<JsonElement> Status(HttpClient http, string id)
    {
        using var response = await http.GetAsync($"jobs/{id}");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public static bool Ended(JsonElement s) => s.GetProperty("state").GetString() is "Succeeded" or "Failed" or "Cancelled";

    public static int Int(JsonElement s, string name) => s.GetProperty(name).GetInt32();

    /// <summary>Polls the job until <paramref name="done"/> says so; a job that ended otherwise fails the wait with its status.</summary>
    public static async Task<JsonElement> WaitForJob(HttpClient http, string id, Func<JsonElement, bool> done, IReadOnlyList<NodeProcess> mustRun,
        string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await Status(http, id);
            if (done(status)) return status;
            if (Ended(status)) Assert.Fail($"job {id} ended before {what}: {status}\n{Logs(mustRun)}");
            if (mustRun.FirstOrDefault(n => n.Exited) is { } dead)
                Assert.Fail($"{dead.Name} exited with code {dead.Process.ExitCode} while waiting for {what}; its log ends:\n{dead.Tail()}");
            if (clock.Elapsed > GiveUp) Assert.Fail($"job {id}: no {what} after {GiveUp.TotalSeconds:0} s: {status}\n{Logs(mustRun)}");
            await Task.Delay(100);
        }
    }

    /// <summary>The first node among <paramref name="nodes"/> whose log has <paramref name="text"/>.</summary>
    public static async Task<NodeProcess> WaitForLine(IReadOnlyList<NodeProcess> nodes, string text, IReadOnlyList<NodeProcess> mustRun)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (nodes.FirstOrDefault(n => Has(n, text)) is { } found) return found;
            if (mustRun.FirstOrDefault(n => n.Exited) is { } dead)
                Assert.Fail($"{dead.Name} exited with code {dead.Process.ExitCode} while waiting for \"{text}\"; its log ends:\n{dead.Tail()}");
            if (clock.Elapsed > GiveUp) Assert.Fail($"no \"{text}\" in the logs of {string.Join(", ", nodes.Select(n => n.Name))}\n{Logs(mustRun)}");
            await Task.Delay(100);
        }
    }

    public static bool Has(NodeProcess node, string text) => node.Tail(int.MaxValue).Contains(text, StringComparison.Ordinal);

    private static string Logs(IReadOnlyList<NodeProcess> nodes) =>
        string.Join('\n', nodes.Take(1).Select(n => $"{n.Name} log ends:\n{n.Tail()}"));

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
