using System.Globalization;
using LstmCluster.Actors.Serialization;
using LstmCluster.Core.Training;
using LstmCluster.Hosting.Simulation;
using Xunit.Abstractions;
using static LstmCluster.Cluster.Tests.ProcessChaos;

namespace LstmCluster.Cluster.Tests;

/// <summary>
/// Test layer 4, stateful failures with real `lstmcluster node` processes on 127.0.0.1: a parameter server killed
/// (SIGKILL) or frozen past the failure detector (SIGSTOP) mid-job, and every node of the cluster restarted. The jobs
/// are held open (no early stopping, more epochs than the test lives) and cancelled at the end, so nothing depends on
/// how fast the machine trains; each wait is for an event (an epoch reached, a checkpoint stored, an attempt started).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ParameterServerFailoverTests(ITestOutputHelper output)
{
    /// <summary>Epochs whose validation losses the resumed run must repeat.</summary>
    private const int Compared = 8;

    /// <summary>Two parameter-server nodes (a job survives losing one), checkpoints at every epoch end, fast failure detection.</summary>
    private static LocalClusterOptions Options(string name, string? state = null, int servers = 2) =>
        new(RepoPaths.Lstmcluster, [], Workers: 2, Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"{name}-{Guid.NewGuid():N}"),
            TorchThreads: 1, Hocon: ProcessClusterTests.FastTimings, Environment: new Dictionary<string, string> { ["LSTMCLUSTER_CHECKPOINT_EVERY"] = "epoch" },
            StateDirectory: state, ParameterServers: servers);

    private static MultipartFormDataContent HeldOpen() =>
        ProcessClusterTests.Job("AirPassengers.csv", TrainingOptions.MaxEpochs, ("workers", "2"), ("patience", "0"),
            // One run that checkpoints: auto's candidates start over after a lost server instead.
            ("normalize", "window-seasonal"));

    [Fact]
    public async Task A_parameter_server_killed_with_SIGKILL_is_replaced_and_the_job_resumes_from_its_checkpoint_with_the_same_losses()
    {
        await using var cluster = await LocalCluster.Start(Options("ps-kill"));
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
        var servers = cluster.Nodes.Where(n => n.Roles == "parameter-server").ToList();

        // The fault-free run first: its losses over the first epochs, from its checkpoint's history.
        string reference = await ProcessClusterTests.Submit(http, HeldOpen());
        var expected = await History(cluster, http, reference, Compared);
        await Cancel(http, reference);

        string job = await ProcessClusterTests.Submit(http, HeldOpen());
        var checkpoint = await StoredCheckpoint(cluster, http, job, minEpoch: 3);
        var victim = await WaitForLine(servers, $"job {job}: parameter server started", cluster.Nodes);
        var before = await Status(http, job);
        var killedAt = DateTime.UtcNow;
        LocalCluster.Kill(victim);
        await victim.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var survivors = cluster.Nodes.Where(n => n != victim).ToList();

        var resumed = await WaitForJob(http, job, s => Int(s, "attempts") >= 2 && s.GetProperty("state").GetString() == "Running", survivors,
            "a second attempt");
        var recovery = DateTime.UtcNow - killedAt;
        Assert.True(Int(resumed, "resumed_from") >= checkpoint.Epoch - 1, $"attempt 2 resumed from epoch {Int(resumed, "resumed_from")}: {resumed}");
        var actual = await History(cluster, http, job, Compared, survivors);
        await Cancel(http, job);

        // The same batches and the same optimizer state: the resumed run repeats the fault-free run's losses (up to the
        // order in which two workers' gradients are summed).
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e.ValidationLoss - a.ValidationLoss) / e.ValidationLoss).Max();
        output.WriteLine($"SIGKILL {victim.Name} at epoch {Int(before, "epoch")} (round >= {before.GetProperty("round").GetInt64()}); "
            + $"attempt 2 running {Seconds(recovery)} later, resumed after epoch {Int(resumed, "resumed_from")} (round {resumed.GetProperty("round").GetInt64()}): "
            + $"at most one epoch of rounds redone; validation losses of epochs 1-{Compared} within {worst:E1} (relative) of the fault-free run");
        Assert.True(worst < 1e-3, $"resumed losses {string.Join(", ", actual.Select(e => e.ValidationLoss))} vs {string.Join(", ", expected.Select(e => e.ValidationLoss))}");
        Assert.All(survivors, n => Assert.False(n.Exited, $"{n.Name} exited; its log ends:\n{n.Tail()}"));
    }

    [Fact]
    public async Task A_parameter_server_frozen_past_the_failure_detector_is_downed_the_job_resumes_and_the_thawed_node_exits_1()
    {
        await using var cluster = await LocalCluster.Start(Options("ps-stop"));
        using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
        var servers = cluster.Nodes.Where(n => n.Roles == "parameter-server").ToList();

        string job = await ProcessClusterTests.Submit(http, HeldOpen());
        await StoredCheckpoint(cluster, http, job, minEpoch: 2);
        var victim = await WaitForLine(servers, $"job {job}: parameter server started", cluster.Nodes);
        var others = cluster.Nodes.Where(n => n != victim).ToList();
        var stoppedAt = DateTime.UtcNow;
        Signal(victim, Sigstop);
        try
        {
            var resumed = await WaitForJob(http, job, s => Int(s, "attempts") >= 2 && s.GetProperty("state").GetString() == "Running", others,
                "a second attempt");
            var recovery = DateTime.UtcNow - stoppedAt;
            int from = Int(resumed, "resumed_from");
            Assert.True(from >= 1, $"attempt 2 did not resume from a checkpoint: {resumed}");
            // Training goes on without the frozen server.
            await WaitForJob(http, job, s => Int(s, "epoch") >= from + 2, others, $"two epochs after resuming at {from}");

            Signal(victim, Sigcont);
            var continuedAt = DateTime.UtcNow;
            await victim.Process.WaitForExitAsync().WaitAsync(GiveUp);
            Assert.True(victim.Process.ExitCode == 1, $"{victim.Name} exited with code {victim.Process.ExitCode}; its log ends:\n{victim.Tail()}");
            var status = await Status(http, job);
            Assert.True(Int(status, "attempts") == 2 && !Ended(status), $"the thawed server disturbed the job: {status}");
            await Cancel(http, job);
            output.WriteLine($"SIGSTOP {victim.Name}: attempt 2 running {Seconds(recovery)} later, resumed after epoch {from}; "
                + $"SIGCONT: the thawed node exited with code 1 {Seconds(DateTime.UtcNow - continuedAt)} later");
            Assert.All(others, n => Assert.False(n.Exited, $"{n.Name} exited; its log ends:\n{n.Tail()}"));
        }
        finally
        {
            if (!victim.Exited) Signal(victim, Sigcont);
        }
    }

    [Fact]
    public async Task After_every_node_restarts_finished_jobs_serve_every_file_and_ids_go_on()
    {
        string state = Directory.CreateTempSubdirectory("lstmcluster-restart-").FullName;
        try
        {
            string[] files = ["metrics", "forecast", "plot", "files/model/weights.bin"];
            var before = new Dictionary<string, byte[]>();
            await using (var cluster = await LocalCluster.Start(Options("restart-1", state, servers: 1)))
            {
                using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
                string id = await ProcessClusterTests.Submit(http, ProcessClusterTests.Job("AirPassengers.csv", epochs: 2, ("workers", "2")));
                Assert.Equal("job-1", id);
                var done = await WaitForJob(http, id, Ended, cluster.Nodes, "the end");
                Assert.True(done.GetProperty("state").GetString() == "Succeeded", done.ToString());
                foreach (var f in files) before[f] = await http.GetByteArrayAsync($"jobs/{id}/{f}");
            }

            var restartedAt = DateTime.UtcNow;
            await using (var cluster = await LocalCluster.Start(Options("restart-2", state, servers: 1)))
            {
                using var http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(30) };
                var status = await Status(http, "job-1");
                Assert.Equal("Succeeded", status.GetProperty("state").GetString());
                foreach (var f in files) Assert.Equal(before[f], await http.GetByteArrayAsync($"jobs/job-1/{f}"));
                Assert.Equal("job-2", await ProcessClusterTests.Submit(http, ProcessClusterTests.Job("AirPassengers.csv", epochs: 1)));
                output.WriteLine($"every node restarted: job-1 and its {files.Length} files served again {Seconds(DateTime.UtcNow - restartedAt)} "
                    + "after the restart began (cluster formation included); the next id is job-2");
            }
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>The job's stored checkpoint once it has reached <paramref name="minEpoch"/> (the epoch it resumes at).</summary>
    private static async Task<Actors.Protocol.TrainingCheckpoint> StoredCheckpoint(LocalCluster cluster, HttpClient http, string job, int minEpoch,
        IReadOnlyList<NodeProcess>? mustRun = null)
    {
        string path = Path.Combine(cluster.StateDirectory, "jobs", job, "checkpoint.bin");
        Actors.Protocol.TrainingCheckpoint? found = null;
        await WaitForJob(http, job, _ =>
        {
            found = File.Exists(path) ? TryRead(path) : null;
            return found is { } c && c.Epoch >= minEpoch;
        }, mustRun ?? cluster.Nodes, $"a checkpoint at epoch {minEpoch}");
        return found!;
    }

    /// <summary>The job's first <paramref name="epochs"/> epoch reports, from a stored checkpoint taken after them.</summary>
    private static async Task<EpochReport[]> History(LocalCluster cluster, HttpClient http, string job, int epochs,
        IReadOnlyList<NodeProcess>? mustRun = null)
    {
        var checkpoint = await StoredCheckpoint(cluster, http, job, epochs + 1, mustRun);
        return checkpoint.History.Take(epochs).ToArray();
    }

    private static Actors.Protocol.TrainingCheckpoint? TryRead(string path)
    {
        try
        {
            return CheckpointCodec.FromFile(File.ReadAllBytes(path), path);
        }
        catch (IOException)
        {
            // Replaced or deleted as it was read: the next poll reads the new one.
            return null;
        }
    }

    private static async Task Cancel(HttpClient http, string job)
    {
        using var response = await http.DeleteAsync($"jobs/{job}");
        response.EnsureSuccessStatusCode();
    }
}
