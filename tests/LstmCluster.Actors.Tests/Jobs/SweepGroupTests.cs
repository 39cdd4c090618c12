using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Sweeps;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>
/// Sweep groups: the coordinator runs a grid's successive halving itself, every trial of every round a member job, and
/// ranks the trials by validation MASE.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class SweepGroupTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(180);

    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-sweep-").FullName;

    void IDisposable.Dispose()
    {
        Directory.Delete(dir, recursive: true);
        Dispose();
    }

    /// <summary>The sine series as a file (the in-process sweep reads it) and options that train it in well under a second an epoch.</summary>
    private RunOptionValues Values()
    {
        string path = Path.Combine(dir, "sine.csv");
        File.WriteAllText(path, TestSupport.SineCsv());
        return new RunOptionValues
        {
            Data = path, Target = "value", Lookback = 12, Horizon = 2, Hidden = 8, Layers = 1, BatchSize = 16, Lr = 0.01, Patience = 0,
            Seed = 7, Normalize = "window",
        };
    }

    /// <summary>4 trials, eta 2: rounds of 4 × 1, 2 × 2 and 1 × 4 epochs.</summary>
    private static readonly SweepRequest Grid = new(["hidden=4,8", "lr=1e-2,3e-3"], Eta: 2, MinEpochs: 1, FinalEpochs: 4);

    private static SubmitSweep Submission(RunOptionValues values, SweepRequest? grid = null) =>
        new(values with { Data = "sine.csv" }, grid ?? Grid, TestSupport.SineCsv());

    private static Props Coordinator(int workers, JobStore? store = null, int history = 1000, string id = "lstmcluster-coordinator") =>
        CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = workers, WorkerPool = workers },
            Store = store,
            History = history,
            PersistenceId = id,
        });

    private Task<T> Ask<T>(IActorRef coordinator, object message) => this.Ask<T>(coordinator, message, Wait);

    private Task<GroupStatus> AwaitGroup(IActorRef coordinator, string group, Func<GroupStatus, bool> condition) =>
        this.AwaitGroup(coordinator, group, condition, Wait);

    private static bool Ended(GroupStatus g) => g.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    /// <summary>The same grid through the in-process sweep (the single-process reference trainer), as <c>lstmcluster sweep</c> runs it.</summary>
    private static async Task<SweepResult> InProcess(RunOptionValues values)
    {
        var grid = Grid.Parse(values);
        TrialRunner runner = (trial, round, cancel) => Task.Run(() =>
        {
            var options = trial.Apply(values).With("epochs", round.Epochs.ToString(CultureInfo.InvariantCulture)).ToRunOptions();
            var result = ForecastRun.Execute(options, ForecastRun.Prepare(options), ForecastRun.ReferenceEngine, null, cancel);
            return new TrialOutcome(result.Validation.Model.Mase, result.Test.Model.Mase, result.Training.Epochs.Count, result.Training.BestEpoch);
        }, cancel);
        return await Sweep.RunAsync(grid.Trials(), Grid.Halving(), runner, 1, null, CancellationToken.None);
    }

    [Fact]
    public async Task A_sweep_group_halves_its_trials_round_by_round_and_ranks_them_as_the_in_process_sweep_does()
    {
        var values = Values();
        var coordinator = Sys.ActorOf(Coordinator(workers: 2));
        coordinator.Tell(Submission(values));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        Assert.StartsWith("group-", group);

        var done = await AwaitGroup(coordinator, group, Ended);
        Assert.True(done.State == JobState.Succeeded, done.Reason);
        Assert.Equal("sweep", done.Strategy);
        var sweep = done.Sweep!;
        Assert.Equal([(1, 4, 1), (2, 2, 2), (3, 1, 4)], sweep.Rounds.Select(r => (r.Round, r.Trials, r.Epochs)));
        // Halving pruned: 4 members in round 1, the best 2 in round 2, the best one in round 3, each with its round's epochs.
        Assert.Equal([4, 2, 1], done.Members.GroupBy(m => m.Round).Select(g => g.Count()));
        Assert.All(done.Members, m => Assert.Equal((JobState.Succeeded, sweep.Rounds[m.Round!.Value - 1].Epochs), (m.State, m.Epochs)));
        var round2 = done.Members.Where(m => m.Round == 2).Select(m => m.Trial).ToHashSet();
        var round1 = done.Members.Where(m => m.Round == 1).OrderBy(m => m.ValidationMase).ThenBy(m => m.Trial).Take(2).Select(m => m.Trial);
        Assert.Equal(round1.ToHashSet(), round2);

        var board = sweep.Leaderboard;
        Assert.Equal([1, 2, 3, 4], board.Select(e => e.Rank));
        Assert.Equal([3, 2, 1, 1], board.Select(e => e.Round));
        Assert.True(board[2].ValidationMase <= board[3].ValidationMase);
        Assert.Equal(["best", "out in round 2", "out in round 1", "out in round 1"], board.Select(e => e.Status));
        Assert.Equal(board[0].Job, sweep.Best);
        Assert.Equal(1, done.Progress);

        // The same seed in process gives the same leaderboard: same trials in the same order, the same validation MASE
        // (sync training on one worker is the reference trainer to float-summation tolerance).
        var reference = await InProcess(values);
        Assert.Equal(reference.Leaderboard.Select(e => (e.Trial.Number, e.Round.Number)), board.Select(e => (e.Trial, e.Round)));
        foreach (var (mine, theirs) in board.Zip(reference.Leaderboard))
            Assert.Equal(theirs.Outcome.ValidationMase, mine.ValidationMase, 3);

        // Listed among the groups; a member is an ordinary job of the group.
        var list = await Ask<GroupList>(coordinator, ListGroups.Instance);
        Assert.Equal(group, Assert.Single(list.Groups).Group);
        var best = await Ask<JobStatus>(coordinator, new GetJobStatus(sweep.Best!));
        Assert.Equal((group, 4), (best.Group, best.Epochs));
    }

    [Theory]
    [InlineData("hiden=8,16", "grid: unknown parameter 'hiden'")]
    [InlineData("hidden=1,2,3,4,5,6,7,8 lr=1,2,3,4,5,6,7,8,9", "72 combinations (hidden 8 × lr 9) is over the limit of 64")]
    [InlineData("hidden=0,8", "grid: hidden=0: hidden size must be between 1 and 4096")]
    [InlineData("epochs=2,4", "grid: epochs cannot be swept")]
    public async Task A_bad_grid_is_refused_with_the_in_process_sweeps_message_and_nothing_is_kept(string grid, string message)
    {
        var coordinator = Sys.ActorOf(Coordinator(workers: 1));
        coordinator.Tell(Submission(Values(), Grid with { Grid = [grid] }));
        var rejected = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Contains(message, rejected.Reason);
        Assert.False(rejected.Busy);
        Assert.Empty((await Ask<GroupList>(coordinator, ListGroups.Instance)).Groups);
        Assert.Empty((await Ask<JobList>(coordinator, ListJobs.Instance)).Jobs);
    }

    [Fact]
    public async Task Cancel_of_a_sweep_group_cancels_its_running_trials_and_frees_the_workers()
    {
        var coordinator = Sys.ActorOf(Coordinator(workers: 2));
        // Rounds far longer than the test lives: two trials train together when cancel comes.
        coordinator.Tell(Submission(Values(), Grid with { MinEpochs = TrainingOptions.MaxEpochs / 4, FinalEpochs = TrainingOptions.MaxEpochs }));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var running = await AwaitGroup(coordinator, group, g => g.Count(JobState.Running) == 2);
        Assert.Equal((1, 2), (running.Sweep!.Round, running.Count(JobState.Queued)));

        var answer = await Ask<GroupStatus>(coordinator, new CancelJob(group));
        Assert.All(answer.Members, m => Assert.Equal(JobState.Cancelled, m.State));
        var cancelled = await AwaitGroup(coordinator, group, Ended);
        Assert.Equal(JobState.Cancelled, cancelled.State);
        // No second round was started for a cancelled sweep.
        Assert.All(cancelled.Members, m => Assert.Equal(1, m.Round));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Ask<CoordinatorState>(coordinator, GetCoordinatorState.Instance)).FreeWorkers), Wait);
    }

    [Fact]
    public async Task A_sweep_group_survives_a_coordinator_restart_mid_round_and_finishes_with_every_trial_on_its_leaderboard()
    {
        var store = new JobStore(Path.Combine(dir, "state"));
        var first = Sys.ActorOf(Coordinator(workers: 1, store, id: "sweep-restart"));
        // Every trial trains 1 s of wall clock (its rounds have far more epochs): round 2 certainly trains when it is seen.
        first.Tell(Submission(Values() with { MaxTime = "1s" }, Grid with { MinEpochs = 25_000, FinalEpochs = 100_000 }));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        // Stopped as soon as round 2 is under way: round 1's scores are in the journal, round 2's members queued or training.
        var before = await AwaitGroup(first, group, g => g.Sweep!.Round == 2);
        // Progress runs over the whole plan (4 × 25,000 + 2 × 50,000 + 1 × 100,000 epochs): round 1's third is done, not all.
        Assert.InRange(before.Progress, 1.0 / 3, 0.99);
        Watch(first);
        Sys.Stop(first);
        await ExpectTerminatedAsync(first, Wait);

        var second = Sys.ActorOf(Coordinator(workers: 1, store, id: "sweep-restart"));
        var done = await AwaitGroup(second, group, Ended);
        Assert.True(done.State == JobState.Succeeded, done.Reason);
        Assert.Equal([4, 2, 1], done.Members.GroupBy(m => m.Round).Select(g => g.Count()));
        Assert.Equal(before.Members.Where(m => m.Round == 2).Select(m => m.Job), done.Members.Where(m => m.Round == 2).Select(m => m.Job));
        var board = done.Sweep!.Leaderboard;
        Assert.Equal([3, 2, 1, 1], board.Select(e => e.Round));
        Assert.All(board, e => Assert.True(double.IsFinite(e.ValidationMase), $"trial {e.Trial}: {e.Error}"));
        var files = await Ask<JobArtifacts>(second, new GetJobArtifacts(group));
        Assert.Contains("trial", Encoding.UTF8.GetString(files.Files["leaderboard.csv"]));
        Assert.Contains("sweep.json", files.Files.Keys);
    }

    [Fact]
    public async Task Retention_deletes_a_finished_sweep_group_as_one_with_every_member_and_its_files()
    {
        var store = new JobStore(Path.Combine(dir, "state"));
        var coordinator = Sys.ActorOf(Coordinator(workers: 2, store, history: 8));
        coordinator.Tell(Submission(Values()));
        string group = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var done = await AwaitGroup(coordinator, group, Ended);
        Assert.Equal(JobState.Succeeded, done.State);
        // Its 7 members and itself are within the history of 8: kept, with its files.
        Assert.True(Directory.Exists(store.JobFolder(group)));

        // A later job ends: 9 are over the history of 8, and the oldest unit, the group with its 7 members, goes as one; the job stays.
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(1), TestSupport.SineCsv()));
        string job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        await FishForMessageAsync(m => m is JobStatus { State: JobState.Succeeded }, Wait);
        await AwaitAssertAsync(async () => Assert.Empty((await Ask<GroupList>(coordinator, ListGroups.Instance)).Groups), Wait);
        Assert.IsType<UnknownJob>(await Ask<object>(coordinator, new GetJobStatus(group)));
        foreach (var member in done.Members) Assert.IsType<UnknownJob>(await Ask<object>(coordinator, new GetJobStatus(member.Job!)));
        Assert.False(Directory.Exists(store.JobFolder(group)));
        Assert.Equal(job, Assert.Single((await Ask<JobList>(coordinator, ListJobs.Instance)).Jobs).Job);
    }
}
