using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Protocol;

public sealed class SerializerTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private static readonly float[] Vector = [1.5f, -2.25f, float.Epsilon, 3e38f, 0f, -0f, 1e-7f];
    private static readonly WindowSet Windows = new([1, 2, 3, 4, 5, 6], [7, 8, 9, 10], [11, 12], lookback: 3, features: 1, horizon: 2);
    private static readonly TrainingOptions Options = new() { Epochs = 3, BatchSize = 8, Optimizer = OptimizerKind.Sgd, Schedule = LearningRateSchedule.Cosine, AutoEpochs = true, MaxTime = TimeSpan.FromMinutes(2), MinDelta = 0.01, LrPlateau = 3 };
    private static readonly EpochReport Report = new(2, 5, 0.5, 0.75, 0.001, true, 2, 1234, 99.5, TimeSpan.FromMilliseconds(1500));

    internal static readonly TrainingCheckpoint Checkpoint = new(4, 3, 57, 2,
        new OptimizerState(Vector, Vector, Vector, 57, 0.003), new EarlyStoppingState(1, 0.25, true, 3, 0.25, Vector, 2, 0.25),
        [Report, Report with { Epoch = 3 }], 1.5, 48, 4800, TimeSpan.FromSeconds(12.5));

    public static TheoryData<object> Messages()
    {
        var setup = new TrainingSetup("job-1", TestSupport.TinySpec, Windows, Windows, Options,
            new EngineOptions { Workers = 2, Mode = TrainingMode.LocalSgd, StragglerTimeout = TimeSpan.FromSeconds(3), Quorum = 1 }, Vector);
        return new TheoryData<object>
        {
            new AssignShard("job-1", 1, TestSupport.TinySpec with { Dropout = 0.25, NumLayers = 2 }, new PlanSpec(100, 4, 32, 42), Windows, Options),
            new AssignShard("job-1", 3, TestSupport.TinySpec, new PlanSpec(100, 2, 32, 42, BatchSampling.Global), Windows, Options, Shard: 1, StartEpoch: 4, StartStep: 2),
            // A quantile head: the workers' loss and the head's width follow from the levels the spec carries.
            new AssignShard("job-1", 2, TestSupport.TinySpec with { Quantiles = [0.1, 0.5, 0.9] }, new PlanSpec(100, 4, 32, 42), Windows, Options),
            new SubmitTraining(setup with { Spec = TestSupport.TinySpec with { Horizon = 2, Quantiles = [0.25, 0.5, 0.75] } }, ActorRefs.Nobody),
            new SubmitJob(TestSupport.SineRun() with { Quantiles = [0.05, 0.5, 0.95] }),
            new ReleaseShard("job-1"),
            new Weights("job-1", 17, Vector),
            new Gradient("job-1", 17, 3, Vector, 16, 0.125),
            new Gradient("job-1", 17, 3, Vector, 16, 0.125, TimeSpan.FromTicks(123_457)),
            new LocalRound("job-1", 4, Vector, 3, 0.01),
            new LocalWeights("job-1", 4, 2, Vector, 48, 0.5),
            new LocalWeights("job-1", 4, 2, Vector, 48, 0.5, TimeSpan.FromMilliseconds(12.5)),
            new WorkerFailed("job-1", 2, "gradient is not finite"),
            new EpochProgress("job-1", Report),
            new EpochProgress("job-1", Report, Version: 120, Workers: 3),
            new TrainingFinished("job-1", Vector, 2, 0.75, [Report, Report with { Epoch = 3 }], true, 1234, TimeSpan.FromSeconds(2), 40,
                [new WorkerFigures(0, 20, 320, 1), new WorkerFigures(1, 19, 300, 2)], TimeSpan.FromMilliseconds(20)),
            new TrainingFinished("job-1", Vector, 2, 0.75, [Report], false, 1234, TimeSpan.FromSeconds(2), 40, [new WorkerFigures(0, 40, 640, 0)],
                TimeSpan.FromMilliseconds(20), new RoundTimes(40, TimeSpan.FromTicks(150_001), TimeSpan.FromTicks(120_003), TimeSpan.FromTicks(29_998),
                    TimeSpan.FromTicks(8_007))),
            new TrainingFailed("job-1", "every worker of the job has stopped"),
            new GetServerState("job-1"),
            new ServerState("job-1", 40, 3, 80, 1, 2, 3),
            new SubmitJob(TestSupport.SineRun(), "date,value\n2020-01-01,1\n", Priority: 3, Workers: 2),
            new SubmitJob(TestSupport.SineRun()),
            new SubmitJob(TestSupport.SineRun(), null, Workers: 3, Mode: TrainingMode.LocalSgd, Staleness: 5, SyncPeriod: 8),
            new SubmitJob(TestSupport.SineRun(), null, Workers: 2, Mode: TrainingMode.Sync, Sampling: BatchSampling.ShardLocal),
            new SubmitJob(TestSupport.SineRun(), "date,value\n2020-01-01,1\n", Sampling: BatchSampling.GlobalSliced, Owner: "alice"),
            new SubmitJob(TestSupport.SineRun(), "date,value\n2020-01-01,1\n", Owner: "alice"),
            new SubmitTraining(setup, ActorRefs.Nobody, Priority: -1),
            new SubmitTraining(setup with { InitialWeights = null }, ActorRefs.Nobody),
            new JobAccepted("job-1"),
            new JobRejected("epochs must be between 1 and 100000 (got 0)"),
            new JobRejected("the queue is full", Busy: true),
            new JobRejected("'ci' stores too much", OverQuota: true),
            new GetJobStatus("job-1"),
            new CancelJob("job-1"),
            new UnknownJob("job-9"),
            new JobStatus("job-1", JobState.Succeeded, 3, 5, 0.1, 0.2, null, [1.5, 2.5], 0.9, "naive", 1.1),
            new JobStatus("job-2", JobState.Failed, 0, 0, double.NaN, double.NaN, "bad data", null, double.NaN, null, double.NaN),
            GetCoordinatorState.Instance,
            new CoordinatorState(1, 2, 3, 4),
            new CoordinatorState(0, 1, 0, 2) { Fenced = 7 },
            new DeleteJob("job-1"),
            new JobRemoved("job-1"),
            new JobStatus("job-3", JobState.Running, 2, 9, 0.5, 0.6, null, null, double.NaN, null, double.NaN)
            {
                Round = 77, SamplesPerSecond = 1234.5, Workers = 2, Data = "co2.csv", Target = "value", ForecastTimes = ["2020-01", "2020-02"],
                Submitted = new DateTimeOffset(2026, 11, 29, 3, 0, 0, TimeSpan.Zero), Started = new DateTimeOffset(2026, 11, 29, 3, 0, 1, TimeSpan.Zero),
                Attempts = 2, ResumedFrom = 1, Owner = "alice", Normalization = "global, the lowest validation error of window validation MASE 0.9, test 1; global validation MASE 0.8, test 0.95",
                ForecastLevels = [0.1, 0.5, 0.9], ForecastQuantiles = [[1.0, 2.0], [1.5, 2.5], [2.0, 3.0]],
            },
            ListJobs.Instance,
            new JobList([new JobStatus("job-1", JobState.Queued, 0, 5, double.NaN, double.NaN, null, null, double.NaN, null, double.NaN)]),
            new JobList([new JobStatus("job-1", JobState.Queued, 0, 5, double.NaN, double.NaN, null, null, double.NaN, null, double.NaN) { Ahead = 0 },
                new JobStatus("job-2", JobState.Queued, 0, 5, double.NaN, double.NaN, null, null, double.NaN, null, double.NaN) { Ahead = 3 }]),
            new JobList([]),
            new GetJobArtifacts("job-1"),
            new JobArtifacts("job-1", JobState.Succeeded, new Dictionary<string, byte[]> { ["metrics.json"] = [1, 2, 3], ["forecast.png"] = [] }),
            new JobArtifacts("job-1", JobState.Running, new Dictionary<string, byte[]>()),
            new GetJobHistory("job-1"),
            new JobHistory("job-1", JobState.Running, [1, 2, 3], [0.5, 0.25, 0.125], [0.75, 0.5, 0.4]),
            new JobHistory("job-1", JobState.Queued, [], [], []),
            new JobStatus("job-4", JobState.Queued, 0, 5, double.NaN, double.NaN, null, null, double.NaN, null, double.NaN) { Group = "group-3" },
            new GroupStatus("group-3", JobState.Running, "per-series", null,
            [
                new GroupMemberStatus("MSFT", "job-4", JobState.Succeeded, 5, 5, 0.9, null),
                new GroupMemberStatus("GOOG", null, JobState.Failed, 0, 0, double.NaN, "skipped: too short"),
            ]) { Data = "vega.csv", Target = "price", Owner = "alice", Submitted = new DateTimeOffset(2026, 11, 29, 3, 0, 0, TimeSpan.Zero) },
            new SubmitSweep(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value", Hidden = 8 },
                new SweepRequest(["hidden=4,8", "lr=1e-2"], Eta: 2, MinEpochs: 1, FinalEpochs: 4, MaxTrials: 8), "date,value\n2020-01-01,1\n", 2, 1, TrainingMode.Sync, null, null,
                BatchSampling.GlobalSliced, "alice"),
            new SubmitSweep(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value" }, new SweepRequest(["hidden=4,8"])),
            ListGroups.Instance,
            new GroupList([new GroupStatus("group-9", JobState.Succeeded, "sweep", null,
                [new GroupMemberStatus("r1 #1 hidden=4", "job-10", JobState.Succeeded, 2, 2, 0.8, null) { Trial = 1, Round = 1, ValidationMase = 0.7 }])
            {
                Sweep = new SweepStatus(1, 2, [new SweepParameterStatus("hidden", ["4", "8"])], [new SweepRoundStatus(1, 2, 2), new SweepRoundStatus(2, 1, 4)],
                    [new SweepTrialStatus(1, 1, ["4"], 1, 2, 2, 2, 0.7, 1.1, 0.8, "job-10", null, "best"),
                     new SweepTrialStatus(2, 2, ["8"], 1, 2, 0, 0, double.NaN, double.NaN, double.NaN, null, "diverged", "failed: diverged")], "job-10", 2),
            }]),
            new StartTraining(setup, [ActorRefs.Nobody, ActorRefs.Nobody], ActorRefs.Nobody),
            new TrainingStarted("job-1", ActorRefs.Nobody),
            new StopTraining("job-1"),
            new JoinWorker("job-1.2", ActorRefs.Nobody),
            new CheckpointTaken("job-1.2", Checkpoint),
            new CheckpointTaken("job-1", Checkpoint with
            {
                Optimizer = Checkpoint.Optimizer with { SecondMoment = null }, Stopping = new EarlyStoppingState(0, double.PositiveInfinity, false, 0, 0.5, null),
                History = [],
            }),
            new StartTraining(setup with { Resume = Checkpoint }, [ActorRefs.Nobody], ActorRefs.Nobody),
        };
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_survives_a_round_trip_through_the_serializer(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<LstmClusterSerializer>(serializer);
        var manifested = (LstmClusterSerializer)serializer;
        var bytes = manifested.ToBinary(message);
        var back = manifested.FromBinary(bytes, manifested.Manifest(message));
        Assert.Equal(message.GetType(), back.GetType());
        // Records holding arrays compare by reference: compare their JSON instead, which lists every value.
        Assert.Equal(Json(message), Json(back));
    }

    [Fact]
    public void Float_vectors_are_written_raw_little_endian()
    {
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(new Weights("j", 1, [1f]));
        var bytes = serializer.ToBinary(new Weights("j", 1, [1f, -2f]));
        // "j" (2 bytes), version (8), length (4), then the two floats, 4 bytes each.
        Assert.Equal(2 + 8 + 4 + 8, bytes.Length);
        Assert.Equal(BitConverter.GetBytes(1f), bytes[14..18]);
        Assert.Equal(new byte[] { 0, 0, 0, 0xC0 }, bytes[18..22]);
    }

    [Theory]
    [InlineData("j")]
    [InlineData("job-é-ü-数据")]
    [InlineData(200)]       // a 400-byte UTF-8 id: a two-byte length prefix
    [InlineData(20_000)]    // 40,000 bytes: three
    public void Weights_and_gradients_are_written_into_an_array_of_their_exact_size(object job)
    {
        // Model messages are written straight into an array sized by ExactSize, and the serializer refuses to return one
        // whose size it got wrong: each of the four kinds with job ids whose length prefix takes one to three bytes.
        string id = job as string ?? new string('é', (int)job);
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(new Weights("j", 1, [1f]));
        foreach (object message in new object[]
        {
            new Weights(id, 17, Vector), new Gradient(id, 17, 3, Vector, 16, 0.125),
            new LocalRound(id, 4, Vector, 3, 0.01), new LocalWeights(id, 4, 2, Vector, 48, 0.5),
        })
        {
            var bytes = serializer.ToBinary(message);
            Assert.Equal(LstmClusterSerializer.ExactSize(message), bytes.Length);
            Assert.Equal(Json(message), Json(serializer.FromBinary(bytes, serializer.Manifest(message))));
        }
    }

    [Fact]
    public void A_broadcast_instance_is_serialized_once_and_an_equal_new_one_again()
    {
        var weights = new Weights("job-1", 17, Vector);
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(weights);
        var first = serializer.ToBinary(weights);
        // The same instance told to a second worker: the bytes already made.
        Assert.Same(first, serializer.ToBinary(weights));
        // An equal record that is another instance (records compare by value) is serialized on its own, to the same bytes.
        var equal = new Weights("job-1", 17, Vector);
        Assert.Equal(weights, equal);
        var again = serializer.ToBinary(equal);
        Assert.NotSame(first, again);
        Assert.Equal(first, again);
        // The next round's weights are never served the previous round's bytes.
        var next = serializer.ToBinary(new Weights("job-1", 18, Vector));
        Assert.Equal(18, ((Weights)serializer.FromBinary(next, "w")).Version);
        var round = new LocalRound("job-1", 4, Vector, 3, 0.01);
        Assert.Same(serializer.ToBinary(round), serializer.ToBinary(round));
    }

    [Fact]
    public void An_actor_ref_in_a_message_resolves_to_the_same_actor()
    {
        var message = new SubmitTraining(new TrainingSetup("j", TestSupport.TinySpec, Windows, Windows, Options, new EngineOptions(), null), TestActor);
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(message);
        var back = (SubmitTraining)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
        Assert.Equal(TestActor, back.Listener);
    }

    [Theory]
    [InlineData("sync", TrainingMode.Sync)]
    [InlineData("async", TrainingMode.Async)]
    [InlineData("local-sgd", TrainingMode.LocalSgd)]
    public void Modes_parse_from_their_command_line_spelling(string text, TrainingMode mode) =>
        Assert.Equal(mode, EngineOptions.ParseMode(text));

    [Fact]
    public void An_unknown_mode_names_the_valid_ones() =>
        Assert.Contains("sync, async or local-sgd", Assert.Throws<ArgumentException>(() => EngineOptions.ParseMode("fast")).Message);

    [Theory]
    [InlineData(BatchSampling.Global)]
    [InlineData(BatchSampling.GlobalSliced)]
    [InlineData(BatchSampling.ShardLocal)]
    [InlineData(null)]
    public void A_jobs_sampling_travels_to_the_coordinator_and_null_keeps_the_engines(BatchSampling? sampling)
    {
        var job = new SubmitJob(TestSupport.SineRun(), null, Mode: TrainingMode.Sync, SyncPeriod: 8, Sampling: sampling, Owner: "alice");
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(job);
        var back = (SubmitJob)serializer.FromBinary(serializer.ToBinary(job), serializer.Manifest(job));
        Assert.Equal((sampling, 8, "alice"), (back.Sampling, back.SyncPeriod, back.Owner));

        // Over an engine whose own sampling is neither of the others: the job's when it names one, the engine's otherwise.
        var engine = new EngineOptions { Sampling = BatchSampling.GlobalSliced, Mode = TrainingMode.LocalSgd };
        var applied = back.Apply(engine);
        Assert.Equal(sampling ?? BatchSampling.GlobalSliced, applied.Sampling);
        Assert.Equal(applied.Sampling, applied.RunSampling());
        // Sampling is sync mode's: an async job walks its own shards whatever it asked for.
        Assert.Equal(BatchSampling.ShardLocal, (back with { Mode = TrainingMode.Async }).Apply(engine).RunSampling());
    }

    [Fact]
    public void An_unknown_manifest_is_a_serialization_exception()
    {
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(new JobAccepted("j"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([], "nope"));
    }

    [Fact]
    public void The_serializer_identifier_is_outside_akkas_reserved_range()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new JobAccepted("j"));
        Assert.True(serializer.Identifier > 100);
        Assert.Equal(LstmClusterSerializer.SerializerId, serializer.Identifier);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    // Nobody travels as dead letters; a real ref keeps its path (Actor_refs_keep_their_path).
    private static string Ref(IActorRef r) => r.IsNobody() ? "nobody" : r.Path.ToString();

    [Fact]
    public void Actor_refs_keep_their_path()
    {
        var message = new StartTraining(new TrainingSetup("j", TestSupport.TinySpec, Windows, Windows, Options, new EngineOptions(), null),
            [TestActor], TestActor);
        var serializer = (LstmClusterSerializer)Sys.Serialization.FindSerializerFor(message);
        var back = (StartTraining)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
        Assert.Equal(TestActor, Assert.Single(back.Workers));
        Assert.Equal(TestActor, back.ReportTo);
    }

    private static string Json(object o) => o switch
    {
        SubmitTraining s => JsonSerializer.Serialize(s.Setup, JsonOptions) + s.Priority,
        // Actor refs by path; dictionaries in name order (the wire keeps no insertion order).
        StartTraining s => JsonSerializer.Serialize(s.Setup, JsonOptions) + string.Join(",", s.Workers.Select(Ref)) + Ref(s.ReportTo),
        TrainingStarted s => s.Job + Ref(s.Server),
        JoinWorker j => j.Job + Ref(j.Worker),
        JobArtifacts a => a.Job + a.State + string.Join(",", a.Files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + ":" + Convert.ToBase64String(f.Value))),
        _ => JsonSerializer.Serialize(o, o.GetType(), JsonOptions),
    };
}
