using System.Net;
using System.Net.Sockets;
using LstmCluster.Contracts;
using LstmCluster.Actors.Serialization;
using LstmCluster.Hosting.Api;
using LstmCluster.Client;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// A real node (every role, in this process) with a state directory: the job journal in SQLite through
/// Akka.Persistence.Sql, the jobs' files on disk. The node is stopped and a new one started on the same directory,
/// as an operator restarts a crashed or upgraded coordinator.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DurableCoordinatorTests : IDisposable
{
    private readonly string state = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"state-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_restarted_node_serves_finished_jobs_from_its_state_directory_and_never_reuses_an_id()
    {
        string id;
        byte[] metrics;
        double[] forecast;
        await using (var node = await RunningNode.Start(state))
        {
            id = await node.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
            var done = await node.WaitFor(id, s => s.Ended);
            Assert.Equal("Succeeded", done.State);
            forecast = [.. done.Forecast!.Select(v => v!.Value)];
            metrics = await node.Client.ArtifactAsync(id, "metrics.json");
        }
        Assert.True(File.Exists(Path.Combine(state, "lstmcluster.db")), "no SQLite journal in the state directory");

        await using (var node = await RunningNode.Start(state))
        {
            // The finished job, its figures and its files, from the journal and the store.
            var status = await node.Client.StatusAsync(id);
            Assert.Equal("Succeeded", status.State);
            Assert.Equal(forecast, status.Forecast!.Select(v => v!.Value));
            Assert.Equal(metrics, await node.Client.ArtifactAsync(id, "metrics.json"));
            Assert.NotEmpty(await node.Client.ModelZipAsync(id));
            Assert.NotEmpty(await node.Client.ArtifactAsync(id, "forecast.png"));

            // Ids continue after the restart: a client holding the old id never reads another job.
            string next = await node.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
            Assert.Equal("job-2", next);
            Assert.Equal("job-1", id);
            await node.WaitFor(next, s => s.Ended);

            // DELETE of a finished job removes its entry and its files.
            Assert.Equal("Deleted", (await node.Client.CancelAsync(id)).State);
            Assert.False(Directory.Exists(Path.Combine(state, "jobs", id)), "the job's files are still on disk");
            var gone = await Assert.ThrowsAsync<JobApiException>(() => node.Client.StatusAsync(id));
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        await using (var node = await RunningNode.Start(state))
        {
            // The deletion was journaled too, and the ids go on from the highest ever given.
            var list = await node.Client.ListAsync();
            Assert.Equal(["job-2"], list.Select(j => j.Id));
            Assert.Equal("job-3", await node.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob()));
        }
    }

    [Fact]
    public async Task A_running_job_cut_off_by_a_restart_resumes_from_its_checkpoint_and_a_queued_job_stays_queued()
    {
        string running, queued;
        await using (var node = await RunningNode.Start(state))
        {
            // Held open (no early stopping, more epochs than the test lives); one job at a time, so the second waits.
            running = await node.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob(LstmCluster.Core.Training.TrainingOptions.MaxEpochs));
            queued = await node.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
            // Checkpoints at every epoch end: wait for one past epoch 3.
            await node.WaitFor(running, s => s is { State: "Running", Epoch: >= 4 });
            Assert.Equal("Queued", (await node.Client.StatusAsync(queued)).State);
        }
        var checkpoint = CheckpointCodec.FromFile(File.ReadAllBytes(Path.Combine(state, "jobs", running, "checkpoint.bin")), "checkpoint.bin");
        Assert.True(checkpoint.Epoch >= 4, $"the last checkpoint is at epoch {checkpoint.Epoch}");

        await using (var node = await RunningNode.Start(state))
        {
            // The cut-off run resumes as attempt 2 from the stored checkpoint; the queued job keeps its place behind it.
            var resumed = await node.WaitFor(running, s => s is { State: "Running", Attempts: >= 2 } || s.Ended);
            Assert.Equal("Running", resumed.State);
            Assert.Equal("Queued", (await node.Client.StatusAsync(queued)).State);
            Assert.Equal(2, resumed.Attempts);
            Assert.Equal(checkpoint.Epoch - 1, resumed.ResumedFrom);
            Assert.True(resumed.Epoch >= checkpoint.Epoch - 1, $"attempt 2 shows epoch {resumed.Epoch}");

            Assert.Equal("Cancelled", (await node.Client.CancelAsync(running)).State);
            Assert.Equal("Succeeded", (await node.WaitFor(queued, s => s.Ended)).State);
        }
    }

    [Fact]
    public async Task A_job_group_survives_a_restart_its_cut_off_member_resumes_the_other_stays_queued_and_cancel_ends_both()
    {
        var fields = new Dictionary<string, string>
        {
            ["target"] = "price", ["symbol"] = "MSFT,IBM", ["lookback"] = "12", ["hidden"] = "8", ["layers"] = "1", ["patience"] = "0",
            ["normalize"] = "window", ["epochs"] = LstmCluster.Core.Training.TrainingOptions.MaxEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        string group, msft;
        await using (var node = await RunningNode.Start(state))
        {
            group = await node.Client.SubmitAsync(Path.Combine(ApiHost.Samples, "vega_stocks.csv"), fields);
            // One worker: MSFT trains (held open), IBM waits behind it.
            msft = (await node.Client.GroupStatusAsync(group)).Members[0].Job!;
            await node.WaitFor(msft, s => s is { State: "Running", Epoch: >= 2 });
            Assert.Equal(["Running", "Queued"], (await node.Client.GroupStatusAsync(group)).Members.Select(m => m.State));
        }

        await using (var node = await RunningNode.Start(state))
        {
            var resumed = await node.WaitFor(msft, s => s is { State: "Running", Attempts: >= 2 } || s.Ended);
            Assert.Equal(("Running", group), (resumed.State, resumed.Group));
            var status = await node.Client.GroupStatusAsync(group);
            Assert.Equal((group, "Running"), (status.Id, status.State));
            Assert.Equal([("MSFT", "Running"), ("IBM", "Queued")], status.Members.Select(m => (m.Symbol, m.State)));

            using var cancel = await node.Http.DeleteAsync($"groups/{group}");
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            status = await node.WaitForGroup(group, g => g.State == "Cancelled", TimeSpan.FromSeconds(60));
            Assert.Equal(2, status.Cancelled);
        }
    }

    [Fact]
    public async Task A_sweep_group_survives_a_restart_mid_round_and_goes_on_to_its_next_round()
    {
        var fields = ApiHost.TinyJob();
        fields.Remove("epochs");
        fields["normalize"] = "window";
        fields["grid"] = "hidden=4,8";
        fields["eta"] = "2";
        // Rounds of more epochs than a trial can train in its 5 s wall-clock budget: each trial trains 5 s, so the restart
        // certainly comes while round 1's first trial trains (one worker: its two trials one after the other).
        fields["min-epochs"] = "50000";
        fields["max-epochs"] = "100000";
        fields["max-time"] = "5s";
        string group, first;
        await using (var node = await RunningNode.Start(state))
        {
            group = await node.Client.SubmitSweepAsync(ApiHost.AirPassengers, fields);
            first = (await node.Client.GroupStatusAsync(group)).Members[0].Job!;
            await node.WaitFor(first, s => s is { State: "Running", Epoch: >= 2 });
            Assert.Equal(1, (await node.Client.GroupStatusAsync(group)).Sweep!.Round);
        }

        await using (var node = await RunningNode.Start(state))
        {
            var status = await node.Client.GroupStatusAsync(group);
            Assert.Equal(("sweep", 1, 2), (status.Strategy, status.Sweep!.Round, status.Members.Length));
            status = await node.WaitForGroup(group, g => g.State is "Succeeded" or "Failed" or "Cancelled", TimeSpan.FromSeconds(300));
            Assert.True(status.State == "Succeeded", status.Reason);
            // The cut-off trial trained again (attempt 2), round 1 was scored after the restart, and its better trial went on.
            Assert.Equal(2, (await node.Client.StatusAsync(first)).Attempts);
            Assert.Equal([2, 1], status.Members.GroupBy(m => m.Round).OrderBy(g => g.Key).Select(g => g.Count()));
            var sweep = status.Sweep!;
            Assert.Equal([2, 1], sweep.Leaderboard.Select(e => e.Round));
            Assert.All(sweep.Leaderboard, e => Assert.NotNull(e.ValidationMase));
            Assert.Equal(sweep.Best, status.Members.Single(m => m.Round == 2).Job);
            Assert.NotEmpty(await node.Client.GroupFileAsync(group, "leaderboard.csv"));
        }
    }

    [Fact]
    public async Task A_global_group_survives_a_restart_its_one_job_resumes_from_its_checkpoint_for_every_series_and_cancel_ends_it()
    {
        var fields = new Dictionary<string, string>
        {
            ["target"] = "price", ["symbol"] = "MSFT,IBM", ["strategy"] = "global", ["lookback"] = "12", ["hidden"] = "8", ["layers"] = "1",
            ["patience"] = "0", ["normalize"] = "window",
            ["epochs"] = LstmCluster.Core.Training.TrainingOptions.MaxEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        string group, job;
        await using (var node = await RunningNode.Start(state))
        {
            group = await node.Client.SubmitAsync(Path.Combine(ApiHost.Samples, "vega_stocks.csv"), fields);
            var members = (await node.Client.GroupStatusAsync(group)).Members;
            job = members[0].Job!;
            Assert.Equal([job, job], members.Select(m => m.Job));
            await node.WaitFor(job, s => s is { State: "Running", Epoch: >= 3 });
        }

        await using (var node = await RunningNode.Start(state))
        {
            // The one job is cut off and resumed from its checkpoint (its windows, every series' joined, prepared again).
            var resumed = await node.WaitFor(job, s => s is { State: "Running", Attempts: >= 2 } || s.Ended);
            Assert.Equal(("Running", group, 2), (resumed.State, resumed.Group, resumed.Attempts));
            Assert.True(resumed.ResumedFrom >= 1, $"attempt 2 resumed from epoch {resumed.ResumedFrom}");
            var status = await node.Client.GroupStatusAsync(group);
            Assert.Equal((group, "Running", "global"), (status.Id, status.State, status.Strategy));
            Assert.Equal([("MSFT", "Running"), ("IBM", "Running")], status.Members.Select(m => (m.Symbol, m.State)));

            using var cancel = await node.Http.DeleteAsync($"groups/{group}");
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            status = await node.WaitForGroup(group, g => g.State == "Cancelled", TimeSpan.FromSeconds(60));
            Assert.Equal(2, status.Cancelled);
            Assert.Equal("Cancelled", (await node.Client.StatusAsync(job)).State);
        }
    }

    [Fact]
    public async Task A_node_whose_journal_cannot_be_read_exits_2_naming_it_and_leaves_it_untouched()
    {
        Directory.CreateDirectory(state);
        string journal = Path.Combine(state, "lstmcluster.db");
        byte[] garbage = [.. System.Text.Encoding.UTF8.GetBytes("date,value\n2020-01-01,1\n"), .. new byte[4096]];
        File.WriteAllBytes(journal, garbage);
        var options = new NodeOptions { Host = "127.0.0.1", Port = 0, HttpPort = 0, TorchThreads = 1, StateDir = state };
        await using var app = NodeHost.Build(options);
        var output = new StringWriter();
        // The coordinator's recovery fails at once; the node stops by itself (the bound only says when to give up).
        int code = await NodeHost.RunAsync(app, options, output).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(2, code);
        Assert.Contains($"error: the job journal ({journal}) cannot be read", output.ToString());
        Assert.Equal(garbage, File.ReadAllBytes(journal));
    }

    [Fact]
    public void A_coordinator_node_whose_state_directory_cannot_be_created_refuses_to_start_and_names_it()
    {
        // Under a regular file: no directory can be made there, whoever runs the test (root included).
        Directory.CreateDirectory(state);
        string file = Path.Combine(state, "not-a-directory");
        File.WriteAllText(file, "");
        string bad = Path.Combine(file, "state");
        var error = Assert.Throws<IOException>(() => NodeHost.Build(new NodeOptions { Port = 0, HttpPort = 0, StateDir = bad }));
        Assert.Contains($"the state directory {bad} is not writable", error.Message);
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    /// <summary>A node process's host in this process: every role, loopback ports, the given state directory.</summary>
    private sealed class RunningNode : IAsyncDisposable
    {
        private readonly WebApplication app;

        private RunningNode(WebApplication app, int httpPort)
        {
            this.app = app;
            Http = new HttpClient(JobApiClient.CreateHandler()) { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(60) };
            Client = new JobApiClient(Http);
        }

        public HttpClient Http { get; }
        public JobApiClient Client { get; }

        public static async Task<RunningNode> Start(string state)
        {
            int http = FreePort();
            var options = new NodeOptions
            {
                Host = "127.0.0.1", Port = 0, HttpPort = http, TorchThreads = 1, StateDir = state, CheckpointEvery = TimeSpan.Zero,
            };
            var app = NodeHost.Build(options);
            await app.StartAsync();
            var node = new RunningNode(app, http);
            // Ready once the cluster of one is Up with every role (the coordinator singleton then answers).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                try
                {
                    using var ready = await node.Http.GetAsync("ready");
                    if (ready.IsSuccessStatusCode) return node;
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                if (DateTime.UtcNow > deadline)
                {
                    await node.DisposeAsync();
                    throw new TimeoutException("the node did not become ready within 60 s");
                }
                await Task.Delay(100);
            }
        }

        public Task<JobView> WaitFor(string id, Func<JobView, bool> reached) => ApiHost.WaitFor(Client, id, reached);

        /// <summary>Polls a group's status until <paramref name="reached"/> holds; the timeout only bounds a broken run.</summary>
        public async Task<GroupView> WaitForGroup(string id, Func<GroupView, bool> reached, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var status = await Client.GroupStatusAsync(id);
                if (reached(status)) return status;
                Assert.True(DateTime.UtcNow < deadline, $"group {id} is {status.State} (round {status.Sweep?.Round}) after the wait");
                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            Http.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
