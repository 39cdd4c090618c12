using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LstmCluster.Cluster.Tests;

/// <summary>`lstmcluster simulate` as a user runs it: a real process that starts K + 2 node processes and must stop them all.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SimulateCommandTests
{
    private static Process Start(string outDir, int epochs)
    {
        var start = new ProcessStartInfo(RepoPaths.Lstmcluster) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (OperatingSystem.IsLinux() && File.Exists("/usr/bin/env"))
        {
            // A runner started in the background by a non-interactive shell (nohup ... &) ignores SIGINT, the children inherit
            // that, and .NET keeps an inherited SIG_IGN for SIGINT: simulate would never see the test's Ctrl+C. env resets it.
            start = new ProcessStartInfo("/usr/bin/env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add(RepoPaths.Lstmcluster);
        }
        foreach (var a in (string[])["simulate", "--workers", "2", .. Job(epochs), "--out", outDir])
            start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    /// <summary>
    /// The job's options. A cluster job trains one normalization (auto would mean its first candidate), so one is named for
    /// `train --workers 0` to train the same model; batch 16 makes 5 rounds an epoch, and the rate makes every epoch
    /// beat the untrained model (which two runs would otherwise share whatever they computed).
    /// </summary>
    private static string[] Job(int epochs) => ["--data", RepoPaths.Sample("AirPassengers.csv"), "--target", "value", "--season", "12",
        "--lookback", "24", "--hidden", "8", "--layers", "1", "--epochs", $"{epochs}", "--patience", "0", "--normalize", "global",
        "--lr", "0.01", "--batch-size", "16"];

    private static (double Rmse, int BestEpoch) TestRmse(string outDir)
    {
        using var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        return (metrics.RootElement.GetProperty("model").GetProperty("rmse").GetDouble(),
            metrics.RootElement.GetProperty("training").GetProperty("best_epoch").GetInt32());
    }

    /// <summary>Processes whose environment names <paramref name="parent"/> as their parent (the nodes simulate started).</summary>
    private static List<int> Children(int parent)
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains($"LSTMCLUSTER_PARENT_PID={parent}")) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours.
            }
        }
        return found;
    }

    [Fact]
    public async Task Simulate_runs_the_job_on_node_processes_writes_trains_outputs_and_leaves_no_process_behind()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"simulate-{Guid.NewGuid():N}");
        using var process = Start(outDir, epochs: 3);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await stdout}\n{await stderr}");
        foreach (var file in (string[])["metrics.json", "forecast.csv", "test_predictions.csv", "forecast.png", "loss.png",
                     "model/spec.json", "model/weights.bin", "logs/node-coordinator.log"])
            Assert.True(File.Exists(Path.Combine(outDir, file)), $"{file} missing in {outDir}");
        Assert.Contains("stopped 4 node processes", await stdout);
        Assert.Empty(Children(process.Id));

        // Global sampling: two worker processes train the single-process trainer's model (to float summation order).
        string bareDir = outDir + "-bare";
        await Run(["train", "--workers", "0", "--torch-threads", "1", .. Job(3), "--out", bareDir]);
        var (simulated, simulatedBest) = TestRmse(outDir);
        var (single, singleBest) = TestRmse(bareDir);
        Assert.Equal(3, singleBest);
        Assert.Equal(singleBest, simulatedBest);
        Assert.True(Math.Abs(simulated - single) <= 1e-5 * single, $"test RMSE {simulated} (simulate --workers 2) vs {single} (train --workers 0)");
    }

    /// <summary>Runs lstmcluster to its end (bounded by 5 minutes) and fails with its output unless it exits 0.</summary>
    private static async Task Run(params string[] args)
    {
        var start = new ProcessStartInfo(RepoPaths.Lstmcluster) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, $"{args[0]}: exit {process.ExitCode}\n{await stdout}\n{await stderr}");
    }

    private static string Sampling(string outDir)
    {
        using var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        return metrics.RootElement.GetProperty("engine").GetProperty("sampling").GetString()!;
    }

    [Fact]
    public async Task Simulate_with_its_own_sampling_trains_the_embedded_engines_model_of_that_sampling()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"simulate-shard-local-{Guid.NewGuid():N}");
        // The nodes' own sampling is global: shard-local reaches them only as the job's field.
        await Run(["simulate", "--workers", "2", "--sampling", "shard-local", .. Job(3), "--out", outDir]);
        await Run(["train", "--workers", "2", "--torch-threads", "1", "--sampling", "shard-local", .. Job(3), "--out", outDir + "-embedded"]);
        await Run(["train", "--workers", "2", "--torch-threads", "1", "--sampling", "global", .. Job(3), "--out", outDir + "-global"]);

        Assert.Equal("shard-local", Sampling(outDir));
        var (simulated, _) = TestRmse(outDir);
        var (embedded, _) = TestRmse(outDir + "-embedded");
        var (global, _) = TestRmse(outDir + "-global");
        // Shard-local batches give another model than global ones, so matching the embedded shard-local run says which one ran.
        Assert.True(Math.Abs(embedded - global) > 1e-5 * global, $"shard-local {embedded} and global {global} cannot be told apart");
        Assert.True(Math.Abs(simulated - embedded) <= 1e-5 * embedded,
            $"test RMSE {simulated} (simulate --sampling shard-local) vs {embedded} (train --workers 2 --sampling shard-local), global {global}");
    }

    [Fact]
    public async Task Ctrl_C_cancels_the_job_and_stops_every_node()
    {
        if (!OperatingSystem.IsLinux()) return;
        string outDir = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"simulate-cancel-{Guid.NewGuid():N}");
        // Held open whatever the machine's speed: no early stopping (--patience 0) and more epochs than the test lives.
        using var process = Start(outDir, epochs: LstmCluster.Core.Training.TrainingOptions.MaxEpochs);
        try
        {
            var lines = new List<string>();
            var training = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (lines) lines.Add(e.Data);
                // simulate prints a line per finished epoch ("job-1: epoch   1/100000 ..."): the job is training.
                if (e.Data.Contains(": epoch ", StringComparison.Ordinal)) training.TrySetResult();
            };
            process.BeginOutputReadLine();
            var stderr = process.StandardError.ReadToEndAsync();
            await training.Task.WaitAsync(TimeSpan.FromMinutes(3));
            int pid = process.Id;
            Assert.True(Children(pid).Count > 0, $"no node process found for simulate {pid}\n{Joined(lines)}");
            Assert.Equal(0, kill(pid, 2));   // SIGINT, as Ctrl+C sends
            // simulate stops its nodes gracefully, then kills what is left (bounded at about a minute on an overloaded machine).
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{Joined(lines)}\n{await stderr}");
            // The nodes stop with simulate or, at the latest, a second after it (they watch their parent).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (Children(pid).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(250);
            Assert.Empty(Children(pid));
        }
        finally
        {
            // A failed run must not leave a 100,000-epoch job training (its nodes follow simulate within a second).
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static string Joined(List<string> lines)
    {
        lock (lines) return string.Join('\n', lines);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
