using LstmCluster.Actors.Embedded;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Jobs;

[Collection(TorchCollection.Name)]
public sealed class CoordinatorActorTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly string Csv = TestSupport.SineCsv();

    private IActorRef Coordinator(int workers, int concurrent) =>
        Sys.ActorOf(CoordinatorActor.Props(new EngineOptions { Workers = 1, MaxConcurrentJobs = concurrent, WorkerPool = workers }));

    private async Task<string> Submit(IActorRef coordinator, int epochs, int? workers = null, int priority = 0)
    {
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(epochs), Csv, priority, workers));
        return (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
    }

    private async Task<JobStatus> Status(IActorRef coordinator, string job)
    {
        coordinator.Tell(new GetJobStatus(job));
        return await ExpectMsgAsync<JobStatus>(Wait);
    }

    private async Task AwaitState(IActorRef coordinator, string job, JobState state)
    {
        var probe = CreateTestProbe();
        await AwaitAssertAsync(async () =>
        {
            coordinator.Tell(new GetJobStatus(job), probe);
            Assert.Equal(state, (await probe.ExpectMsgAsync<JobStatus>(Wait)).State);
        }, Wait, TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Final statuses the coordinator sends the submitter, skipping anything else.</summary>
    private async Task<JobStatus> Final() =>
        (JobStatus)await FishForMessageAsync(m => m is JobStatus { State: JobState.Succeeded or JobState.Failed or JobState.Cancelled }, Wait);

    [Fact]
    public async Task Coordinator_rejects_an_invalid_job_with_its_reason()
    {
        var coordinator = Coordinator(1, 1);

        coordinator.Tell(new SubmitJob(TestSupport.SineRun() with { Training = new TrainingOptions { Epochs = 0 } }, Csv));
        Assert.Equal("epochs must be between 1 and 100000 (got 0)", (await ExpectMsgAsync<JobRejected>(Wait)).Reason);

        coordinator.Tell(new SubmitJob(TestSupport.SineRun(), "date,value\n2020-01-01,1\n2020-01-02,abc\n"));
        var bad = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Contains("sine.csv", bad.Reason);
        Assert.Contains("abc", bad.Reason);

        coordinator.Tell(new SubmitJob(TestSupport.SineRun(), Csv, Workers: 3));
        Assert.Contains("pool has 1", (await ExpectMsgAsync<JobRejected>(Wait)).Reason);
    }

    [Fact]
    public async Task A_job_runs_to_a_forecast_and_an_evaluation_against_baselines()
    {
        var coordinator = Coordinator(2, 1);
        var job = await Submit(coordinator, epochs: 2, workers: 2);
        var final = await Final();
        Assert.Equal((job, JobState.Succeeded, 2), (final.Job, final.State, final.Epoch));
        Assert.Equal(2, final.Forecast!.Length);
        Assert.NotNull(final.BestBaseline);
        Assert.True(double.IsFinite(final.TestMase));
        Assert.Equal(JobState.Succeeded, (await Status(coordinator, job)).State);
    }

    [Fact]
    public async Task A_quantile_job_trains_its_quantile_head_on_two_workers_and_is_evaluated_with_intervals()
    {
        Core.Forecasting.RunResult? result = null;
        EngineStats? figures = null;
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 2 },
            Artifacts = (_, r, _, f) =>
            {
                result = r;
                figures = f;
                return new Dictionary<string, byte[]>();
            },
        }));
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(2) with { Quantiles = [0.1, 0.5, 0.9] }, Csv, Workers: 2));
        var job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var final = await Final();
        Assert.Equal((job, JobState.Succeeded), (final.Job, final.State));
        Assert.NotNull(result);
        // The parameter server and both workers trained the point head and an offset head of horizon × 3 outputs.
        Assert.Equal([0.1, 0.5, 0.9], result!.Model.Spec.Quantiles!);
        Assert.Equal(QuantileHead.PointOffsets, result.Model.Spec.QuantileHead);
        Assert.Equal(result.Model.Spec.ParameterCount, result.Model.Weights.Length);
        Assert.Equal(0.8, Assert.Single(result.Test.Quantiles!.Intervals).Nominal);
        Assert.All(result.Forecast, f => Assert.True(f.Quantiles[0].Value <= f.Quantiles[1].Value && f.Quantiles[1].Value <= f.Quantiles[2].Value));
        Assert.Equal(result.Forecast.Select(f => f.Value), final.Forecast!);
        // The status carries the levels (the API's JSON forecast shows them).
        Assert.Equal([0.1, 0.5, 0.9], final.ForecastLevels!);
        Assert.Equal(result.Forecast.Select(f => f.Quantiles[0].Value), final.ForecastQuantiles![0]);
        Assert.Equal(result.Forecast.Select(f => f.Quantiles[2].Value), final.ForecastQuantiles[2]);
        // metrics.json's engine figures, as an embedded run has them: both workers' rounds and samples, the dropped count.
        Assert.NotNull(figures);
        Assert.Equal(2, figures!.Options.Workers);
        Assert.Equal(2, figures.Workers.Count);
        Assert.All(figures.Workers, w => Assert.True(w.Rounds > 0 && w.Samples > 0, $"worker {w.Worker}: {w.Rounds} rounds, {w.Samples} samples"));
        Assert.Equal(figures.Workers.Sum(w => w.Samples), (long)figures.ToJson()["samples"]!);
        Assert.Equal(2, figures.ToJson()["per_worker"]!.AsArray().Count);
    }

    /// <summary>The sine series (period 25 days), three candidates under auto at season 25; <paramref name="testSplitScale"/> scales the test split's values.</summary>
    private static string SeasonalCsv(double testSplitScale = 1)
    {
        var lines = TestSupport.SineCsv().TrimEnd('\n').Split('\n');
        // The last tenth of the rows: well inside the test split (the last 15 %).
        int rows = lines.Length - 1, testFrom = rows - rows / 10;
        return string.Join('\n', lines.Select((line, i) =>
        {
            if (i == 0 || i - 1 < testFrom || testSplitScale == 1) return line;
            var cells = line.Split(',');
            return $"{cells[0]},{(double.Parse(cells[1], System.Globalization.CultureInfo.InvariantCulture) * testSplitScale + 5).ToString("R", System.Globalization.CultureInfo.InvariantCulture)}";
        })) + "\n";
    }

    /// <summary>
    /// Auto on the sine series: at its period (25) seasonal naive beats the last value and window-seasonal is a candidate of
    /// its own; at a season that is not its period (7) it is not, and window-seasonal is left out as window's twin.
    /// </summary>
    private static Core.Forecasting.RunOptions AutoRun(int epochs, int season = 25) => TestSupport.SineRun(epochs) with
    {
        AutoNormalize = true,
        Season = season,
        Preprocessing = TestSupport.SineRun().Preprocessing with { Season = season, Normalize = Core.Data.Normalization.WindowSeasonal },
    };

    [Fact]
    public async Task An_auto_job_trains_every_candidate_keeps_the_lowest_validation_error_and_never_looks_at_the_test_split()
    {
        var results = new System.Collections.Concurrent.ConcurrentDictionary<string, Core.Forecasting.RunResult>();
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 6 },
            Artifacts = (o, r, _, _) =>
            {
                results[o.Data.Path] = r;
                return new Dictionary<string, byte[]>();
            },
        }));
        // Six workers for three candidates: they train at once, two workers each. Then the same series with its test split
        // changed, on one worker: the candidates train in turn, and the choice and validation errors must not move.
        coordinator.Tell(new SubmitJob(AutoRun(2) with { Data = AutoRun(2).Data with { Path = "plain.csv" } }, SeasonalCsv(), Workers: 6));
        var plain = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var plainFinal = await Final();
        coordinator.Tell(new SubmitJob(AutoRun(2) with { Data = AutoRun(2).Data with { Path = "shifted.csv" } }, SeasonalCsv(3), Workers: 1));
        var shifted = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var shiftedFinal = await Final();
        Assert.Equal((plain, JobState.Succeeded, shifted, JobState.Succeeded), (plainFinal.Job, plainFinal.State, shiftedFinal.Job, shiftedFinal.State));

        var a = results.Single(r => r.Key.EndsWith("plain.csv", StringComparison.Ordinal)).Value;
        var b = results.Single(r => r.Key.EndsWith("shifted.csv", StringComparison.Ordinal)).Value;
        // The three normalizations, then their ensemble (its normalization is its lead's: the best single candidate's).
        Assert.Equal([Core.Data.Normalization.WindowSeasonal, Core.Data.Normalization.Window, Core.Data.Normalization.Global],
            a.Candidates.Where(c => !c.IsEnsemble).Select(c => c.Normalize));
        Assert.True(a.Candidates[^1].IsEnsemble);
        // The one kept has the lowest validation MAE, and it is the model whose files and forecast the job reports.
        var chosen = Assert.Single(a.Candidates, c => c.Chosen);
        Assert.Equal(a.Candidates.Min(c => c.Validation.Model.Mae), chosen.Validation.Model.Mae);
        Assert.Equal(chosen.Normalize, a.Data.Preprocessor.Normalize);
        Assert.Equal(chosen.IsEnsemble, a.Model.IsEnsemble);
        Assert.Equal(a.Forecast.Select(f => f.Value), plainFinal.Forecast!);
        Assert.Equal(chosen.Test.Model.Mase, plainFinal.TestMase);
        // The status names the choice and every candidate's errors.
        static string Name(Core.Forecasting.NormalizationCandidate c) => c.IsEnsemble ? Core.Forecasting.Ensemble.Name : Core.Data.NormalizationNames.Name(c.Normalize);
        Assert.StartsWith(Name(chosen) + ",", plainFinal.Normalization);
        Assert.All(a.Candidates, c => Assert.Contains(Name(c) + " validation MASE", plainFinal.Normalization));
        Assert.Equal(plainFinal.Normalization, (await Status(coordinator, plain)).Normalization);

        // Another test split: other test errors, the same validation errors (one worker or two: sync training is the
        // same), the same choice.
        Assert.Equal(a.Candidates.Select(c => c.Normalize), b.Candidates.Select(c => c.Normalize));
        Assert.All(a.Candidates.Zip(b.Candidates), p =>
        {
            Assert.Equal(p.First.Validation.Model.Mae, p.Second.Validation.Model.Mae, 1e-3 * p.First.Validation.Model.Mae);
            Assert.NotEqual(p.First.Test.Model.Mae, p.Second.Test.Model.Mae);
            Assert.Equal(p.First.Chosen, p.Second.Chosen);
        });
    }

    [Fact]
    public async Task An_auto_job_does_not_train_window_seasonal_where_it_would_train_windows_model_and_says_so()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var real = Sys.ActorOf(LstmCluster.Actors.Training.ParameterServerHost.Props());
        var host = Sys.ActorOf(Props.Create(() => new RecordingHost(real, seen)));
        Core.Forecasting.RunResult? result = null;
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 4 },
            LocalParameterServers = false,
            Artifacts = (_, r, _, _) =>
            {
                result = r;
                return new Dictionary<string, byte[]>();
            },
        }));
        coordinator.Tell(new ParameterServerHostAvailable(host));
        coordinator.Tell(new SubmitJob(AutoRun(2, season: 7), SeasonalCsv(), Workers: 4));
        var job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var final = await Final();
        Assert.Equal((job, JobState.Succeeded), (final.Job, final.State));

        // Two sub-runs (window and global), not three: the workers split between them.
        var starts = seen.Where(s => s.StartsWith("start ", StringComparison.Ordinal)).Select(s => s["start ".Length..]).ToList();
        Assert.Equal([$"{job}~global", $"{job}~window"], starts.Order(StringComparer.Ordinal));
        Assert.NotNull(result);
        Assert.Equal([Core.Data.Normalization.Window, Core.Data.Normalization.Global], result!.Candidates.Where(c => !c.IsEnsemble).Select(c => c.Normalize));
        var left = Assert.Single(result.LeftOut);
        Assert.Equal((Core.Data.Normalization.WindowSeasonal, Core.Data.Normalization.Window), (left.Normalize, left.SameAs));
        Assert.EndsWith("; window-seasonal not trained (same as window)", final.Normalization);
    }

    [Fact]
    public async Task Cancelling_an_auto_job_stops_every_candidates_parameter_server_and_frees_its_workers()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var real = Sys.ActorOf(LstmCluster.Actors.Training.ParameterServerHost.Props());
        var host = Sys.ActorOf(Props.Create(() => new RecordingHost(real, seen)));
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 6 },
            LocalParameterServers = false,
        }));
        coordinator.Tell(new ParameterServerHostAvailable(host));
        coordinator.Tell(new SubmitJob(AutoRun(TrainingOptions.MaxEpochs), SeasonalCsv(), Workers: 6));
        var job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        await AwaitAssertAsync(async () => Assert.True((await Status(coordinator, job)).Epoch >= 1), Wait, TimeSpan.FromMilliseconds(50));
        var starts = seen.Where(s => s.StartsWith("start ", StringComparison.Ordinal)).Select(s => s["start ".Length..]).ToList();
        Assert.Equal(3, starts.Count);

        coordinator.Tell(new CancelJob(job), CreateTestProbe());
        Assert.Equal((job, JobState.Cancelled), ((await Final()).Job, (await Status(coordinator, job)).State));
        // Every candidate's server was told to stop, and the three workers are free again.
        Assert.All(starts, run => Assert.Contains($"stop {run}", seen));
        var probe = CreateTestProbe();
        await AwaitAssertAsync(async () =>
        {
            coordinator.Tell(GetCoordinatorState.Instance, probe);
            Assert.Equal(new CoordinatorState(0, 0, 6, 6), await probe.ExpectMsgAsync<CoordinatorState>(Wait));
        }, Wait, TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Candidates_split_the_workers_into_disjoint_groups_only_when_each_gets_two()
    {
        var workers = Enumerable.Range(0, 7).Select(_ => CreateTestProbe().Ref).ToArray();
        var (groups, concurrent) = LstmCluster.Actors.Jobs.RunPlan.Split(workers, 3);
        Assert.True(concurrent);
        Assert.Equal(workers.Order(), groups.SelectMany(g => g).Order());
        Assert.All(groups, g => Assert.True(g.Length >= 2));
        // Fewer than two each: one worker's loss would end a candidate, so they share all of them in turn.
        var (shared, together) = LstmCluster.Actors.Jobs.RunPlan.Split(workers[..5], 3);
        Assert.False(together);
        Assert.All(shared, g => Assert.Equal(workers[..5], g));
        Assert.Equal("job-1", LstmCluster.Actors.Jobs.RunPlan.RunOf(LstmCluster.Actors.Jobs.RunPlan.SubRun("job-1", Core.Data.Normalization.WindowSeasonal)));
        Assert.Equal("job-1.2~window-seasonal", LstmCluster.Actors.Jobs.RunPlan.SubRun("job-1.2", Core.Data.Normalization.WindowSeasonal));
    }

    [Fact]
    public async Task Two_jobs_submitted_together_both_complete()
    {
        var coordinator = Coordinator(2, 2);
        var a = await Submit(coordinator, epochs: 2);
        var b = await Submit(coordinator, epochs: 2);
        var finals = new[] { await Final(), await Final() };
        Assert.Equal(new[] { a, b }.Order(), finals.Select(f => f.Job).Order());
        Assert.All(finals, f => Assert.Equal(JobState.Succeeded, f.State));
    }

    [Fact]
    public async Task A_job_submitted_while_another_runs_is_queued_and_then_runs()
    {
        var coordinator = Coordinator(1, 1);
        // The first job is held open (more epochs than the test lives) so the second must wait for it, however fast the machine.
        var first = await Submit(coordinator, epochs: TrainingOptions.MaxEpochs);
        var second = await Submit(coordinator, epochs: 1);
        Assert.Equal(JobState.Running, (await Status(coordinator, first)).State);
        Assert.Equal(JobState.Queued, (await Status(coordinator, second)).State);

        // Cancelled from a probe: the submitter (the test actor) then hears each job's end once.
        coordinator.Tell(new CancelJob(first), CreateTestProbe());
        var finals = new[] { await Final(), await Final() };
        Assert.Equal([(first, JobState.Cancelled), (second, JobState.Succeeded)], finals.Select(f => (f.Job, f.State)));
    }

    [Fact]
    public async Task Coordinator_queues_a_job_when_no_worker_is_free()
    {
        // Room for two jobs at once, but one worker: the second waits for it.
        var coordinator = Coordinator(1, 2);
        var first = await Submit(coordinator, epochs: TrainingOptions.MaxEpochs);
        var second = await Submit(coordinator, epochs: 1);
        Assert.Equal(JobState.Queued, (await Status(coordinator, second)).State);
        coordinator.Tell(GetCoordinatorState.Instance);
        Assert.Equal(new CoordinatorState(1, 1, 0, 1), await ExpectMsgAsync<CoordinatorState>(Wait));

        coordinator.Tell(new CancelJob(first));
        await AwaitState(coordinator, second, JobState.Succeeded);
    }

    [Fact]
    public async Task Coordinator_cancels_a_running_job_and_frees_its_workers()
    {
        var coordinator = Coordinator(2, 1);
        var job = await Submit(coordinator, epochs: TrainingOptions.MaxEpochs, workers: 2);
        await AwaitAssertAsync(async () => Assert.True((await Status(coordinator, job)).Epoch >= 1), Wait, TimeSpan.FromMilliseconds(50));

        // From a probe: the test actor (the submitter) then hears the job's end once.
        coordinator.Tell(new CancelJob(job), CreateTestProbe());
        var final = await Final();
        Assert.Equal((job, JobState.Cancelled), (final.Job, final.State));
        // Its workers are free once its runner has stopped its parameter server (so no late server can deal them a shard).
        var probe = CreateTestProbe();
        await AwaitAssertAsync(async () =>
        {
            coordinator.Tell(GetCoordinatorState.Instance, probe);
            Assert.Equal(new CoordinatorState(0, 0, 2, 2), await probe.ExpectMsgAsync<CoordinatorState>(Wait));
        }, Wait, TimeSpan.FromMilliseconds(50));

        // The freed workers take the next job.
        var next = await Submit(coordinator, epochs: 1, workers: 2);
        Assert.Equal((next, JobState.Succeeded), ((await Final()).Job, (await Status(coordinator, next)).State));
    }

    [Fact]
    public async Task A_job_cancelled_while_it_is_evaluated_frees_its_place_once()
    {
        // Evaluation (here: writing the files) held open, so the cancel lands between the end of training and the result.
        using var evaluating = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
            Artifacts = (_, _, _, _) =>
            {
                evaluating.Set();
                release.Wait(Wait);
                return new Dictionary<string, byte[]>();
            },
        }));
        var job = await Submit(coordinator, epochs: 1);
        Assert.True(await Task.Run(() => evaluating.Wait(Wait)), "the job reached its evaluation");

        var probe = CreateTestProbe();
        coordinator.Tell(new CancelJob(job), probe);
        Assert.Equal(JobState.Cancelled, (await probe.ExpectMsgAsync<JobStatus>(Wait)).State);
        Assert.Equal((job, JobState.Cancelled), ((await Final()).Job, (await Status(coordinator, job)).State));
        // Its workers were freed when training ended; the cancel must not count it out of the running jobs a second time.
        coordinator.Tell(GetCoordinatorState.Instance, probe);
        Assert.Equal(new CoordinatorState(0, 0, 1, 1), await probe.ExpectMsgAsync<CoordinatorState>(Wait));

        release.Set();
        var next = await Submit(coordinator, epochs: 1);
        var final = await Final();
        Assert.Equal((next, JobState.Succeeded), (final.Job, final.State));
        // The evaluation that ended after the cancel changed nothing.
        Assert.Equal(JobState.Cancelled, (await Status(coordinator, job)).State);
        coordinator.Tell(GetCoordinatorState.Instance, probe);
        Assert.Equal(new CoordinatorState(0, 0, 1, 1), await probe.ExpectMsgAsync<CoordinatorState>(Wait));
    }

    [Fact]
    public async Task A_job_over_the_budget_is_refused_naming_the_limit_and_its_value_and_a_full_queue_says_busy()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
            Budget = new JobBudget { MaxParameters = 1000, MaxWork = 1e9, MaxQueuedJobs = 1 },
        }));
        // With 64 units (1 layer, horizon 2): 4·64·(1 + 64 + 2) + 2·64 + 2 = 17,282 parameters.
        coordinator.Tell(new SubmitJob(TestSupport.SineRun() with { Hidden = 64 }, Csv));
        var big = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Equal("the model has 17,282 parameters, over this node's limit of 1,000 (--max-job-parameters)", big.Reason);
        Assert.False(big.Busy);
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(TrainingOptions.MaxEpochs), Csv));
        Assert.Contains("over this node's limit of 1e9 (--max-job-work)", (await ExpectMsgAsync<JobRejected>(Wait)).Reason);

        // One job runs, one waits: a third is refused as busy, with nothing kept of it.
        var running = await Submit(coordinator, epochs: 1000);
        await AwaitState(coordinator, running, JobState.Running);
        var waiting = await Submit(coordinator, epochs: 2);
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(2), Csv));
        var busy = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.True(busy.Busy);
        Assert.Equal("1 jobs are waiting, this node's limit (--max-queued-jobs 1); try again later", busy.Reason);
        coordinator.Tell(new CancelJob(running));
        coordinator.Tell(new CancelJob(waiting));
    }

    [Fact]
    public async Task One_owner_may_have_only_its_share_of_the_queue_waiting_and_the_others_still_submit()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
            Budget = new JobBudget { MaxQueuedJobs = 10, MaxQueuedPerOwner = 2 },
        }));
        async Task<string> SubmitAs(string? owner, int epochs)
        {
            coordinator.Tell(new SubmitJob(TestSupport.SineRun(epochs), Csv, Owner: owner));
            return (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        }
        // A running job is not waiting: alice may still queue two.
        var running = await SubmitAs("alice", 1000);
        await AwaitState(coordinator, running, JobState.Running);
        var queued = new List<string> { running, await SubmitAs("alice", 2), await SubmitAs("alice", 2) };
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(2), Csv, Owner: "alice"));
        var full = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Equal("2 jobs of 'alice' are waiting, the limit for one owner (--max-queued-per-owner 2); try again when some have started", full.Reason);
        Assert.True(full.Busy);

        // A sweep larger than one owner's share never fits: not busy, so the client does not try again.
        coordinator.Tell(new SubmitSweep(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value", Epochs = "2" },
            new SweepRequest(["hidden=4,8,16"]), Csv, Owner: "bob"));
        var sweep = await ExpectMsgAsync<JobRejected>(Wait);
        Assert.Equal("3 trials and 0 jobs of 'bob' waiting are over the limit for one owner (--max-queued-per-owner 2); try again when some have started", sweep.Reason);
        Assert.False(sweep.Busy);

        // Another owner, and a job submitted without a token name, still get in.
        queued.Add(await SubmitAs("bob", 2));
        queued.Add(await SubmitAs(null, 2));
        foreach (var job in queued) coordinator.Tell(new CancelJob(job));
    }

    [Fact]
    public async Task An_owner_whose_jobs_hold_its_storage_is_refused_until_it_deletes_one_and_the_others_still_submit()
    {
        long upload = System.Text.Encoding.UTF8.GetByteCount(Csv);
        long limit = 2 * upload + upload / 2;
        // No workers: every job waits, and its folder holds its upload alone (the files a finished job adds: JobApiTests).
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1 },
            LocalWorkers = 0,
            Budget = new JobBudget { MaxStoredBytesPerOwner = limit },
        }));
        // A probe per submission: a submitter also hears its job's final status.
        async Task<object> SubmitAs(string? owner)
        {
            var submitter = CreateTestProbe();
            coordinator.Tell(new SubmitJob(TestSupport.SineRun(2), Csv, Owner: owner), submitter);
            return await submitter.ExpectMsgAsync<object>(Wait);
        }
        string first = Assert.IsType<JobAccepted>(await SubmitAs("alice")).Job;
        string second = Assert.IsType<JobAccepted>(await SubmitAs("alice")).Job;

        // A third upload would take alice over 2.5 uploads' worth: refused, not busy (waiting frees nothing).
        var over = Assert.IsType<JobRejected>(await SubmitAs("alice"));
        Assert.True(over.OverQuota);
        Assert.False(over.Busy);
        Assert.Equal($"the upload ({OwnerStorage.Text(upload)}) and the {OwnerStorage.Text(2 * upload)} in 2 jobs 'alice' stores would be over its "
            + $"limit of {OwnerStorage.Text(limit)} (--max-stored-mb-per-owner): delete jobs it no longer needs (lstmcluster delete ID, or DELETE /jobs/{{id}} or /groups/{{id}}) "
            + "and submit again", over.Reason);
        coordinator.Tell(new SubmitSweep(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value", Epochs = "2" },
            new SweepRequest(["hidden=4,8"]), Csv, Owner: "alice"));
        Assert.True((await ExpectMsgAsync<JobRejected>(Wait)).OverQuota);

        // Other owners, and jobs without a token name, are not alice's to count.
        var others = new[] { Assert.IsType<JobAccepted>(await SubmitAs("bob")).Job, Assert.IsType<JobAccepted>(await SubmitAs(null)).Job };

        // A cancelled job still holds its upload; deleting it frees the space.
        var probe = CreateTestProbe();
        coordinator.Tell(new CancelJob(first), probe);
        Assert.Equal(JobState.Cancelled, (await probe.ExpectMsgAsync<JobStatus>(Wait)).State);
        Assert.True(Assert.IsType<JobRejected>(await SubmitAs("alice")).OverQuota);
        coordinator.Tell(new DeleteJob(first), probe);
        await probe.ExpectMsgAsync<JobRemoved>(Wait);
        string third = Assert.IsType<JobAccepted>(await SubmitAs("alice")).Job;

        foreach (var job in others.Append(second).Append(third)) coordinator.Tell(new CancelJob(job), probe);
    }

    [Fact]
    public async Task Owners_take_turns_among_jobs_of_equal_priority_and_priority_still_comes_first()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
        }));
        async Task<string> SubmitAs(string? owner, int priority = 0)
        {
            coordinator.Tell(new SubmitJob(TestSupport.SineRun(1000), Csv, priority, Owner: owner));
            return (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        }
        var ci = new List<string> { await SubmitAs("ci") };
        await AwaitState(coordinator, ci[0], JobState.Running);
        // ci queues three more before alice's one, and bob's comes last but with a higher priority.
        for (int i = 0; i < 3; i++) ci.Add(await SubmitAs("ci"));
        var alice = await SubmitAs("alice");
        var bob = await SubmitAs("bob", priority: 1);

        // Priority first: bob; then alice, whose token has not been served, before ci's second; then ci's, in order.
        async Task Next(string finishing, string starting)
        {
            coordinator.Tell(new CancelJob(finishing));
            await AwaitState(coordinator, starting, JobState.Running);
        }
        // Asked through a probe: the test actor also gets each cancelled job's final status, as its submitter.
        var probe = CreateTestProbe();
        async Task<JobState> StateOf(string job)
        {
            coordinator.Tell(new GetJobStatus(job), probe);
            return (await probe.ExpectMsgAsync<JobStatus>(Wait)).State;
        }
        // Each waiting job's place, as the API shows it: bob next, then alice, then ci's in order.
        async Task<int?> AheadOf(string job)
        {
            coordinator.Tell(new GetJobStatus(job), probe);
            return (await probe.ExpectMsgAsync<JobStatus>(Wait)).Ahead;
        }
        Assert.Equal([0, 1, 2, 3, 4], [await AheadOf(bob), await AheadOf(alice), await AheadOf(ci[1]), await AheadOf(ci[2]), await AheadOf(ci[3])]);
        Assert.Null(await AheadOf(ci[0]));
        coordinator.Tell(ListJobs.Instance, probe);
        var listed = (await probe.ExpectMsgAsync<JobList>(Wait)).Jobs.ToDictionary(j => j.Job, j => j.Ahead);
        Assert.Equal((0, 1, (int?)null), (listed[bob], listed[alice], listed[ci[0]]));
        await Next(ci[0], bob);
        Assert.Equal(JobState.Queued, await StateOf(ci[1]));
        await Next(bob, alice);
        Assert.Equal(JobState.Queued, await StateOf(ci[1]));
        await Next(alice, ci[1]);
        await Next(ci[1], ci[2]);
        foreach (var job in ci.Skip(2)) coordinator.Tell(new CancelJob(job));
    }

    [Fact]
    public async Task An_owner_at_its_running_limit_waits_while_other_owners_jobs_start_and_its_own_start_as_its_others_end()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 3, WorkerPool = 3 },
            Budget = new JobBudget { MaxRunningPerOwner = 2 },
        }));
        var probe = CreateTestProbe();
        async Task<string> SubmitAs(string? owner)
        {
            var submitter = CreateTestProbe();
            coordinator.Tell(new SubmitJob(TestSupport.SineRun(TrainingOptions.MaxEpochs), Csv, Owner: owner), submitter);
            return (await submitter.ExpectMsgAsync<JobAccepted>(Wait)).Job;
        }
        async Task<JobStatus> StatusOf(string job)
        {
            coordinator.Tell(new GetJobStatus(job), probe);
            return await probe.ExpectMsgAsync<JobStatus>(Wait);
        }
        // ci fills two of the three slots; its third job waits though a slot is free, and alice's, submitted after it, starts.
        var ci = new List<string> { await SubmitAs("ci"), await SubmitAs("ci") };
        foreach (var job in ci) await AwaitState(coordinator, job, JobState.Running);
        ci.Add(await SubmitAs("ci"));
        var alice = await SubmitAs("alice");
        await AwaitState(coordinator, alice, JobState.Running);
        var held = await StatusOf(ci[2]);
        Assert.Equal((JobState.Queued, (int?)0), (held.State, held.Ahead));
        Assert.Equal("waits for one of the 2 jobs 'ci' has running to end (--max-running-per-owner 2)", held.Reason);

        // A job without a token is not held by anyone's limit: it waits for a slot only, and goes before ci's held job.
        var anonymous = await SubmitAs(null);
        Assert.Equal((0, 1), ((await StatusOf(anonymous)).Ahead, (await StatusOf(ci[2])).Ahead));
        coordinator.Tell(new CancelJob(alice), CreateTestProbe());
        await AwaitState(coordinator, anonymous, JobState.Running);
        Assert.Equal(JobState.Queued, (await StatusOf(ci[2])).State);

        // One of ci's ends: its held job starts in that slot.
        coordinator.Tell(new CancelJob(ci[0]), CreateTestProbe());
        await AwaitState(coordinator, ci[2], JobState.Running);
        Assert.Null((await StatusOf(ci[2])).Reason);
        foreach (var job in new[] { ci[1], ci[2], anonymous }) coordinator.Tell(new CancelJob(job), CreateTestProbe());
    }

    [Fact]
    public async Task The_owners_turns_survive_a_coordinator_restart()
    {
        var store = new JobStore(Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"turns-{Guid.NewGuid():N}"));
        Props Coordinator() => CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
            Store = store,
            PersistenceId = "turns-restart",
        });
        // Asks through a probe of their own, and each submission and cancel from another: those hear of the job's end too.
        var probe = CreateTestProbe();
        async Task<string> SubmitAs(IActorRef coordinator, string owner)
        {
            var submitter = CreateTestProbe();
            coordinator.Tell(new SubmitJob(TestSupport.SineRun(TrainingOptions.MaxEpochs), Csv, Owner: owner), submitter);
            return (await submitter.ExpectMsgAsync<JobAccepted>(Wait)).Job;
        }
        async Task<int?> AheadOf(IActorRef coordinator, string job)
        {
            coordinator.Tell(new GetJobStatus(job), probe);
            return (await probe.ExpectMsgAsync<JobStatus>(Wait)).Ahead;
        }
        try
        {
            var first = Sys.ActorOf(Coordinator());
            // ci is served, then alice: ci's turn is the older one.
            var ci1 = await SubmitAs(first, "ci");
            await AwaitState(first, ci1, JobState.Running);
            var alice1 = await SubmitAs(first, "alice");
            first.Tell(new CancelJob(ci1), CreateTestProbe());
            await AwaitState(first, alice1, JobState.Running);
            // alice's second job comes before ci's second, yet ci's goes first: its token was served longer ago.
            var alice2 = await SubmitAs(first, "alice");
            var ci2 = await SubmitAs(first, "ci");
            Assert.Equal((0, 1), (await AheadOf(first, ci2), await AheadOf(first, alice2)));
            Watch(first);
            Sys.Stop(first);
            await ExpectTerminatedAsync(first, Wait);

            // After the restart alice's running job, cut off, is queued again; the turns are as they were, so ci's job
            // starts first (first come first served would start alice's, the oldest), then alice's in their order.
            var second = Sys.ActorOf(Coordinator());
            await AwaitState(second, ci2, JobState.Running);
            Assert.Equal((0, 1), (await AheadOf(second, alice1), await AheadOf(second, alice2)));
            foreach (var job in new[] { ci2, alice1, alice2 }) second.Tell(new CancelJob(job), CreateTestProbe());
            await AwaitState(second, alice2, JobState.Cancelled);
        }
        finally
        {
            Directory.Delete(store.Root, recursive: true);
        }
    }

    [Fact]
    public void Reasons_and_names_kept_in_a_record_are_cut_saying_their_length() =>
        Assert.EndsWith("... (cut: 3,000,000 characters in all)", JobBudget.Bounded(new string('x', 3_000_000)));

    [Fact]
    public async Task A_cancelled_runs_workers_go_to_the_next_run_only_after_its_server_was_told_to_stop()
    {
        // A host that notes the order of what it is told, in front of a real one.
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var real = Sys.ActorOf(LstmCluster.Actors.Training.ParameterServerHost.Props());
        var host = Sys.ActorOf(Props.Create(() => new RecordingHost(real, seen)));
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 1 },
            LocalParameterServers = false,
        }));
        coordinator.Tell(new ParameterServerHostAvailable(host));
        var first = await Submit(coordinator, epochs: TrainingOptions.MaxEpochs);
        // Cancelled at once, maybe before its runner has even asked the host to start its server.
        coordinator.Tell(new CancelJob(first), CreateTestProbe());
        var cancelled = await Final();
        Assert.Equal((first, JobState.Cancelled), (cancelled.Job, cancelled.State));
        var second = await Submit(coordinator, epochs: 1);
        Assert.Equal((second, JobState.Succeeded), ((await Final()).Job, (await Status(coordinator, second)).State));
        // The second run's server started after the first was told to stop: a late first server cannot take its worker.
        var order = seen.ToList();
        Assert.True(order.IndexOf($"stop {first}") < order.IndexOf($"start {second}"), string.Join(", ", order));
    }

    private sealed class RecordingHost : ReceiveActor
    {
        public RecordingHost(IActorRef real, System.Collections.Concurrent.ConcurrentQueue<string> seen)
        {
            Receive<StartTraining>(m =>
            {
                seen.Enqueue($"start {m.Setup.Job}");
                real.Forward(m);
            });
            Receive<StopTraining>(m =>
            {
                seen.Enqueue($"stop {m.Job}");
                real.Forward(m);
            });
        }
    }

    [Fact]
    public async Task A_jobs_own_sampling_is_the_plan_its_workers_walk_and_what_its_metrics_report()
    {
        var plans = new System.Collections.Concurrent.ConcurrentQueue<PlanSpec>();
        EngineStats? figures = null;
        var real = Sys.ActorOf(LstmCluster.Actors.Training.ParameterServerHost.Props());
        var host = Sys.ActorOf(Props.Create(() => new TappingHost(real, plans)));
        // The node's engine samples globally: whatever else the workers are dealt is the job's own choice.
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 1, MaxConcurrentJobs = 1, WorkerPool = 2, Sampling = BatchSampling.Global },
            LocalParameterServers = false,
            Artifacts = (_, _, _, f) =>
            {
                figures = f;
                return new Dictionary<string, byte[]>();
            },
        }));
        coordinator.Tell(new ParameterServerHostAvailable(host));
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(2), Csv, Workers: 2, Sampling: BatchSampling.GlobalSliced));
        var job = (await ExpectMsgAsync<JobAccepted>(Wait)).Job;
        var final = await Final();
        Assert.True(final.State == JobState.Succeeded, $"{job} ended {final.State}: {final.Reason}");

        // Both workers were dealt a global-sliced plan (each holding every window), and metrics.json says so.
        Assert.True(plans.Count >= 2, $"{plans.Count} shard(s) dealt");
        Assert.All(plans, p => Assert.Equal((BatchSampling.GlobalSliced, 2), (p.Sampling, p.ShardCount)));
        Assert.NotNull(figures);
        Assert.Equal(BatchSampling.GlobalSliced, figures!.Options.Sampling);
        Assert.Equal("global-sliced", (string?)figures.ToJson()["sampling"]);
    }

    /// <summary>A parameter-server host that puts a tap in front of each of a run's workers, keeping the plan each is dealt.</summary>
    private sealed class TappingHost : ReceiveActor
    {
        public TappingHost(IActorRef real, System.Collections.Concurrent.ConcurrentQueue<PlanSpec> plans)
        {
            Receive<StartTraining>(m =>
            {
                var taps = m.Workers.Select(worker => Context.ActorOf(Props.Create(() => new Tap(worker, plans)))).ToArray();
                real.Forward(m with { Workers = taps });
            });
            ReceiveAny(real.Forward);
        }
    }

    /// <summary>Forwards everything to its worker (the worker answers the parameter server itself), noting each plan dealt.</summary>
    private sealed class Tap : ReceiveActor
    {
        public Tap(IActorRef worker, System.Collections.Concurrent.ConcurrentQueue<PlanSpec> plans) =>
            ReceiveAny(m =>
            {
                if (m is AssignShard a) plans.Enqueue(a.Plan);
                worker.Forward(m);
            });
    }

    [Fact]
    public async Task An_unknown_job_is_answered_as_unknown()
    {
        var coordinator = Coordinator(1, 1);
        coordinator.Tell(new GetJobStatus("job-404"));
        Assert.Equal("job-404", (await ExpectMsgAsync<UnknownJob>(Wait)).Job);
        coordinator.Tell(new CancelJob("job-404"));
        await ExpectMsgAsync<UnknownJob>(Wait);
    }
}
