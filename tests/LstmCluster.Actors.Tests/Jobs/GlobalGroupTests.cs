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

/// <summary>
/// Strategy global on the coordinator: a group whose series one member job trains together (their windows joined), then
/// evaluates each on its own test windows, as <c>train --strategy global</c> does in one process.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class GlobalGroupTests : TestKit
{
    private readonly ITestOutputHelper output;

    public GlobalGroupTests(ITestOutputHelper output)
        : base(TestSupport.Config, output: output) => this.output = output;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(180);

    private static string LongCsv(params (string Symbol, int Rows)[] series) => GroupTestSupport.LongCsv(series);

    private static RunOptions GlobalRunOptions(string symbols, int epochs, SeriesIdFeature seriesId = SeriesIdFeature.None) => TestSupport.SineRun(epochs) with
    {
        Data = new CsvSeriesOptions { Path = "long.csv", Target = "value", Symbol = symbols },
        Strategy = SeriesStrategy.Global,
        SeriesId = seriesId,
    };

    private Task<T> Ask<T>(IActorRef coordinator, object message) => this.Ask<T>(coordinator, message, Wait);

    private Task<GroupStatus> AwaitGroup(IActorRef coordinator, string group, Func<GroupStatus, bool> condition) =>
        this.AwaitGroup(coordinator, group, condition, Wait);

    [Theory]
    [InlineData(SeriesIdFeature.None)]
    [InlineData(SeriesIdFeature.OneHot)]
    public async Task A_global_group_trains_one_model_on_the_workers_and_each_series_test_mase_is_train_strategy_globals(SeriesIdFeature seriesId)
    {
        GroupSummary? summary = null;
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 2, MaxConcurrentJobs = 1, WorkerPool = 2 },
            GroupFiles = (s, strategy) =>
            {
                summary = s;
                return new Dictionary<string, byte[]> { ["summary.txt"] = Encoding.UTF8.GetBytes($"{strategy}: {s.Trained.Count} trained") };
            },
        }));
        string csv = LongCsv(("A", 240), ("S", 8), ("B", 200), ("C", 160));
        var options = GlobalRunOptions("all", 3, seriesId);
        coordinator.Tell(new SubmitJob(options, csv));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        Assert.StartsWith("group-", group);

        var done = await AwaitGroup(coordinator, group, g => g.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled);
        Assert.Equal((JobState.Succeeded, "global"), (done.State, done.Strategy));
        Assert.Equal([("A", JobState.Succeeded), ("S", JobState.Failed), ("B", JobState.Succeeded), ("C", JobState.Succeeded)],
            done.Members.Select(m => (m.Symbol, m.State)));
        Assert.Contains("too short", done.Members[1].Reason);
        Assert.Null(done.Members[1].Job);
        // One job trains the three usable series, data-parallel on both workers, over their joined windows.
        var trained = done.Members.Where(m => m.Job is not null).ToList();
        string job = Assert.Single(trained.Select(m => m.Job).Distinct())!;
        var status = await Ask<JobStatus>(coordinator, new GetJobStatus(job));
        Assert.Equal((group, 2, JobState.Succeeded), (status.Group, status.Workers, status.State));

        // The same series, options and seed in one process (the single-process trainer: sync training with global sampling
        // takes the same steps for any worker count).
        string path = Path.Combine(Path.GetTempPath(), $"lstmcluster-global-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, csv);
        try
        {
            var local = options with { Data = options.Data with { Path = path } };
            var prepared = GlobalRun.Prepare(local, ["A", "S", "B", "C"]);
            Assert.Equal("S", Assert.Single(prepared.Skipped).Symbol);
            var expected = GlobalRun.Execute(local, prepared.Members, ForecastRun.ReferenceEngine, null, CancellationToken.None);
            Assert.Equal(prepared.Joined!.Train.Count, expected.TrainWindows);
            foreach (var (symbol, result) in expected.Series)
            {
                double cluster = done.Members.Single(m => m.Symbol == symbol).TestMase, reference = result.Test.Model.Mase;
                output.WriteLine($"{symbol}: test MASE on the cluster {cluster:R}, in one process {reference:R}");
                Assert.True(Math.Abs(cluster - reference) <= 1e-5 * reference, $"{symbol}: {cluster} on the cluster, {reference} in one process");
            }
            // The group's summary has every trained series with its figures and forecast, the skipped one with its reason.
            Assert.NotNull(summary);
            Assert.Equal(["A", "B", "C"], summary!.Trained.Select(s => s.Symbol));
            Assert.Equal("S", Assert.Single(summary.Skipped).Symbol);
            Assert.All(summary.Trained, s =>
            {
                Assert.Equal(2, s.Forecast.Count);
                Assert.True(double.IsFinite(s.NaiveMase), s.Symbol);
                Assert.Equal(done.Members.Single(m => m.Symbol == s.Symbol).TestMase, s.ModelMase);
            });
            var files = await Ask<JobArtifacts>(coordinator, new GetJobArtifacts(group));
            Assert.Equal("global: 3 trained", Encoding.UTF8.GetString(files.Files["summary.txt"]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_global_group_with_no_usable_series_fails_naming_each_ones_reason_and_the_coordinator_goes_on()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 }));
        coordinator.Tell(new SubmitJob(GlobalRunOptions("all", 1), LongCsv(("S", 8), ("T", 6))));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var failed = await AwaitGroup(coordinator, group, g => g.State == JobState.Failed);
        Assert.Contains("none of the 2 series trained", failed.Reason);
        Assert.Contains("S: too short: 8 rows", failed.Reason);
        Assert.Contains("T: too short: 6 rows", failed.Reason);
        Assert.All(failed.Members, m => Assert.Contains("skipped: too short", m.Reason));

        // A single series with strategy global is refused; nothing else is lost: a job of its own still runs.
        coordinator.Tell(new SubmitJob(GlobalRunOptions("A", 1), LongCsv(("A", 240))));
        Assert.Contains("strategy global applies to several series", (await ExpectMsgAsync<JobRejected>(Wait)).Reason);
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(1), TestSupport.SineCsv()));
        string job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var final = (JobStatus)await FishForMessageAsync(m => m is JobStatus { State: JobState.Succeeded or JobState.Failed }, Wait);
        Assert.Equal((job, JobState.Succeeded), (final.Job, final.State));
    }

    [Fact]
    public async Task Cancelling_a_global_group_while_its_model_trains_cancels_its_job_and_frees_the_workers()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new EngineOptions { Workers = 2, MaxConcurrentJobs = 2, WorkerPool = 2 }));
        // Held open: more epochs than the test lives.
        coordinator.Tell(new SubmitJob(GlobalRunOptions("A,B", TrainingOptions.MaxEpochs), LongCsv(("A", 240), ("B", 240))));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var running = await AwaitGroup(coordinator, group, g => g.Members.All(m => m is { State: JobState.Running, Epoch: >= 1 }));
        Assert.Equal(JobState.Running, running.State);
        Assert.Single(running.Members.Select(m => m.Job).Distinct());
        Assert.Equal(new CoordinatorState(0, 1, 0, 2), await Ask<CoordinatorState>(coordinator, GetCoordinatorState.Instance));

        var answer = await Ask<GroupStatus>(coordinator, new CancelJob(group));
        Assert.All(answer.Members, m => Assert.Equal(JobState.Cancelled, m.State));
        var cancelled = await AwaitGroup(coordinator, group, g => g.State == JobState.Cancelled);
        Assert.Equal(2, cancelled.Count(JobState.Cancelled));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Ask<CoordinatorState>(coordinator, GetCoordinatorState.Instance)).FreeWorkers), Wait);
    }
}
