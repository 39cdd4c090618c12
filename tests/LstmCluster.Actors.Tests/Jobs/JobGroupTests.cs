using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>Job groups: a submission over several series of a long-format file, one member job per series.</summary>
[Collection(TorchCollection.Name)]
public sealed class JobGroupTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    private static string LongCsv(params (string Symbol, int Rows)[] series) => GroupTestSupport.LongCsv(series);

    private static RunOptions GroupRun(string symbols, int epochs) => TestSupport.SineRun(epochs) with
    {
        Data = new CsvSeriesOptions { Path = "long.csv", Target = "value", Symbol = symbols },
    };

    private Task<T> Ask<T>(IActorRef coordinator, object message) => this.Ask<T>(coordinator, message, Wait);

    private Task<GroupStatus> AwaitGroup(IActorRef coordinator, string group, Func<GroupStatus, bool> condition) =>
        this.AwaitGroup(coordinator, group, condition, Wait);

    [Fact]
    public async Task A_group_trains_its_series_at_once_on_disjoint_workers_and_cancel_of_the_group_cancels_every_member()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new EngineOptions { Workers = 1, MaxConcurrentJobs = 3, WorkerPool = 3 }));
        // Held open (more epochs than the test lives): the three must be running together, however fast the machine.
        coordinator.Tell(new SubmitJob(GroupRun("all", TrainingOptions.MaxEpochs), LongCsv(("A", 240), ("B", 240), ("C", 240))));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        Assert.StartsWith("group-", group);

        var running = await AwaitGroup(coordinator, group, g => g.Count(JobState.Running) == 3);
        Assert.Equal(JobState.Running, running.State);
        Assert.Equal(["A", "B", "C"], running.Members.Select(m => m.Symbol));
        // One worker each, every worker of the pool in use: the three runs hold disjoint workers.
        Assert.Equal(new CoordinatorState(0, 3, 0, 3), await Ask<CoordinatorState>(coordinator, GetCoordinatorState.Instance));
        foreach (var member in running.Members)
        {
            var job = await Ask<JobStatus>(coordinator, new GetJobStatus(member.Job!));
            Assert.Equal((group, 1), (job.Group, job.Workers));
        }

        var answer = await Ask<GroupStatus>(coordinator, new CancelJob(group));
        Assert.All(answer.Members, m => Assert.Equal(JobState.Cancelled, m.State));
        var cancelled = await AwaitGroup(coordinator, group, g => g.State == JobState.Cancelled);
        Assert.Equal(3, cancelled.Count(JobState.Cancelled));
        await AwaitAssertAsync(async () => Assert.Equal(3, (await Ask<CoordinatorState>(coordinator, GetCoordinatorState.Instance)).FreeWorkers), Wait);
    }

    [Fact]
    public async Task A_series_too_short_is_skipped_with_its_reason_and_the_group_reports_the_rest()
    {
        GroupSummary? summary = null;
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 2, WorkerPool = 2 },
            GroupFiles = (s, strategy) =>
            {
                summary = s;
                return new Dictionary<string, byte[]> { ["summary.txt"] = Encoding.UTF8.GetBytes($"{strategy}: {s.Trained.Count} trained") };
            },
        }));
        coordinator.Tell(new SubmitJob(GroupRun("all", 2), LongCsv(("A", 240), ("S", 8), ("B", 200))));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;

        var done = await AwaitGroup(coordinator, group, g => g.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled);
        Assert.Equal(JobState.Succeeded, done.State);
        Assert.Equal([("A", JobState.Succeeded), ("S", JobState.Failed), ("B", JobState.Succeeded)], done.Members.Select(m => (m.Symbol, m.State)));
        var skipped = done.Members[1];
        Assert.Null(skipped.Job);
        Assert.Contains("skipped", skipped.Reason);
        Assert.Contains("too short", skipped.Reason);

        Assert.NotNull(summary);
        Assert.Equal(["A", "B"], summary!.Trained.Select(s => s.Symbol));
        Assert.Equal("S", Assert.Single(summary.Skipped).Symbol);
        Assert.All(summary.Trained, s => Assert.Equal(2, s.Forecast.Count));
        Assert.Equal(240, summary.Trained[0].History.Count);
        var files = await Ask<JobArtifacts>(coordinator, new GetJobArtifacts(group));
        Assert.Equal("per-series: 2 trained", Encoding.UTF8.GetString(files.Files["summary.txt"]));
    }

    [Fact]
    public async Task An_unknown_symbol_is_refused_naming_it_and_a_group_with_no_usable_series_fails_saying_why()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 }));
        coordinator.Tell(new SubmitJob(GroupRun("A,XYZ", 1), LongCsv(("A", 240))));
        var rejected = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Contains("unknown symbol 'XYZ'", rejected.Reason);
        Assert.Contains("symbols are: A", rejected.Reason);
        Assert.False(rejected.Busy);

        coordinator.Tell(new SubmitJob(GroupRun("all", 1), LongCsv(("S", 8), ("T", 6))));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var failed = await AwaitGroup(coordinator, group, g => g.State == JobState.Failed);
        Assert.Contains("none of the 2 series trained", failed.Reason);
        Assert.Contains("S:", failed.Reason);

        // Nothing else is lost: a job of its own still runs.
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(1), TestSupport.SineCsv()));
        string job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var final = (JobStatus)await FishForMessageAsync(m => m is JobStatus { State: JobState.Succeeded or JobState.Failed }, Wait);
        Assert.Equal((job, JobState.Succeeded, (string?)null), (final.Job, final.State, final.Group));
    }
}
