using System.Runtime.Serialization;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Serialization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Tests.Protocol;

/// <summary>The coordinator's journal events and snapshot: what a restarted coordinator reads back years later.</summary>
public sealed class JobEventSerializerTests() : TestKit(TestSupport.Config)
{
    private static readonly DateTimeOffset At = new(2026, 11, 29, 21, 0, 0, TimeSpan.Zero);

    private static JobRecord Record => new()
    {
        Id = "job-7", Sequence = 7, Priority = 2, Workers = 0, Options = TestSupport.SineRun(3), Upload = "sine.csv",
        Mode = TrainingMode.LocalSgd, SyncPeriod = 4, Data = "sine.csv", Target = "value", Submitted = At, Epochs = 3,
    };

    public static TheoryData<IJobEvent> Events() => new()
    {
        new JobSubmitted(Record),
        new JobSubmitted(Record with { Owner = "alice" }),
        new JobSubmitted(Record with { Mode = TrainingMode.Sync, SyncPeriod = null, Sampling = BatchSampling.GlobalSliced }),
        new JobStarted("job-7", 2, At, 3),
        new JobStarted("job-7", 3, At, 2, FromEpoch: 5, FromRound: 50),
        new JobCheckpointed("job-7", new CheckpointRef(6, 2, 52, new string('a', 64), At)),
        new JobProgressed("job-7", 4, 50, 0.25, double.NaN, 120, 5000.5, 3),
        new JobRequeued("job-7", "the coordinator restarted during attempt 1"),
        new JobSucceeded("job-7", At, new JobProgressed("job-7", 50, 50, 0.1, 0.2, 1000, 4000, 2), [1.5, double.NaN], ["2020-01", "2020-02"],
            0.8, "seasonal_naive", 1.2),
        new JobSucceeded("job-8", At, new JobProgressed("job-8", 5, 5, 0.1, 0.2, 100, 400, 3), [1.5], ["2020-01"],
            0.8, "seasonal_naive", 1.2, "global, the lowest validation error of window validation MASE 0.9, test 1; global validation MASE 0.8, test 0.95"),
        // Strategy global: the job lists the group's series, and its success carries each series' figures.
        new JobSubmitted(Record with
        {
            Group = "group-9", Options = TestSupport.SineRun(3) with
            {
                Data = TestSupport.SineRun().Data with { Symbol = "MSFT,IBM" }, Strategy = SeriesStrategy.Global, SeriesId = SeriesIdFeature.OneHot,
            },
        }),
        new JobSucceeded("job-10", At, new JobProgressed("job-10", 5, 5, 0.1, 0.2, 100, 400, 2), [], [], 0.95, null, double.NaN)
        {
            Series = [new SeriesFigures("MSFT", 0.9, 0.83, "naive", 0.83, [28.5], ["2010-04-01"]), new SeriesFigures("IBM", double.NaN, 1.07, null, double.NaN, [], [])],
        },
        new JobFailed("job-7", At, "the parameter server stopped before the job ended"),
        new JobCancelled("job-7", At, "cancelled on request"),
        new JobDeleted("job-7"),
        new JobSubmitted(Record with { Group = "group-6", Options = TestSupport.SineRun(3) with { Data = TestSupport.SineRun().Data with { Symbol = "MSFT" } } }),
        new GroupSubmitted(new GroupRecord
        {
            Id = "group-6", Sequence = 6, Owner = "alice", Data = "vega.csv", Target = "price", Upload = "vega.csv", Submitted = At,
            Members = [new GroupMember("MSFT", "job-7"), new GroupMember("GOOG", "job-8")],
        }),
        new GroupMemberSkipped("group-6", "GOOG", "too short"),
        new GroupCancelRequested("group-6"),
        new GroupFinished("group-6", At, JobState.Succeeded, null),
        new GroupDeleted("group-6"),
        new JobSucceeded("job-9", At, new JobProgressed("job-9", 4, 4, 0.1, 0.2, 40, 400, 1), [1.5], ["2020-01"], 0.8, "naive", 1.2)
        {
            Validation = new ValidationFigures(0.7, 1.1, 4, 3),
        },
        new GroupSubmitted(new GroupRecord
        {
            Id = "group-9", Sequence = 9, Strategy = "sweep", Data = "sine.csv", Target = "value", Upload = "sine.csv", Submitted = At,
            Members = [new GroupMember("r1 #1 hidden=4", "job-10") { Trial = 1, Round = 1 }, new GroupMember("r1 #2 hidden=8", null, "bad") { Trial = 2, Round = 1 }],
            Sweep = new SweepRecord(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value" }, new SweepRequest(["hidden=4,8"], 2, 1, 4, 8))
            {
                Workers = 1, Priority = 3, Round = 1,
            },
        }),
        new GroupSubmitted(new GroupRecord
        {
            Id = "group-10", Sequence = 10, Strategy = "sweep", Data = "sine.csv", Target = "value", Submitted = At,
            Members = [new GroupMember("r1 #1 hidden=4", "job-12") { Trial = 1, Round = 1 }],
            Sweep = new SweepRecord(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value" }, new SweepRequest(["hidden=4,8"]))
            {
                Mode = TrainingMode.Sync, Sampling = BatchSampling.ShardLocal,
            },
        }),
        new SweepRoundEnded("group-9", 1, [new SweepScore(1, 1, "job-10", 0.7, 1.1, 0.8, 2, 2, null), new SweepScore(2, 1, null, double.NaN, double.NaN, double.NaN, 0, 0, "skipped: bad")],
            [new GroupMember("r2 #1 hidden=4", "job-11") { Trial = 1, Round = 2 }]),
        new RegistrySnapshot(9, [Record]) { Groups = [new GroupRecord { Id = "group-6", Sequence = 6, Members = [new GroupMember("A", null, "too short")] }] },
        new RegistrySnapshot(9, [Record, Record with { Id = "job-8", Sequence = 8, State = JobState.Succeeded, Forecast = [2.0] },
            Record with { Id = "job-9", Sequence = 9, State = JobState.Running, Checkpoint = new CheckpointRef(2, 0, 20, "ab", At), ResumedFrom = 1 }]),
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void Every_journal_event_survives_a_round_trip_as_json(IJobEvent e)
    {
        var serializer = Assert.IsType<JobEventSerializer>(Sys.Serialization.FindSerializerFor(e));
        var bytes = serializer.ToBinary(e);
        var back = serializer.FromBinary(bytes, serializer.Manifest(e));
        // Records hold arrays: compare what they say, as JSON, rather than by reference.
        Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes), System.Text.Encoding.UTF8.GetString(serializer.ToBinary(back)));
        Assert.Equal(e.GetType(), back.GetType());
    }

    [Fact]
    public void Applying_the_events_of_a_run_gives_the_status_a_restarted_coordinator_answers()
    {
        var job = Record;
        foreach (var e in (IJobEvent[])[new JobStarted("job-7", 1, At, 2), new JobProgressed("job-7", 3, 50, 0.3, 0.4, 30, 900, 2),
                     new JobRequeued("job-7", "restarted"), new JobStarted("job-7", 2, At, 2)])
            job = JobEvents.Apply(job, e);
        // A new attempt trains from the start: its progress too.
        Assert.Equal((JobState.Running, 2, 0, 0L), (job.State, job.Attempts, job.Epoch, job.Round));
        job = JobEvents.Apply(job, new JobSucceeded("job-7", At, new JobProgressed("job-7", 50, 50, 0.1, 0.2, 500, 1000, 2), [4.0], ["t"], 0.7, "naive", 1.0, "window, ..."));
        Assert.Equal((JobState.Succeeded, 50, 500L, 0.7, "window, ..."), (job.State, job.Epoch, job.Round, job.TestMase, job.Normalization));
        Assert.True(job.Ended);
    }

    [Fact]
    public void An_attempt_resumed_from_a_checkpoint_starts_where_the_checkpoint_stands_and_an_ended_job_drops_it()
    {
        var job = Record;
        var checkpoint = new CheckpointRef(6, 0, 60, "ab", At);
        foreach (var e in (IJobEvent[])[new JobStarted("job-7", 1, At, 2), new JobProgressed("job-7", 7, 50, 0.3, 0.4, 70, 900, 2),
                     new JobCheckpointed("job-7", checkpoint), new JobRequeued("job-7", "parameter server lost"),
                     new JobStarted("job-7", 2, At, 2, FromEpoch: 5, FromRound: 60)])
            job = JobEvents.Apply(job, e);
        Assert.Equal((JobState.Running, 2, 5, 60L, 5, checkpoint), (job.State, job.Attempts, job.Epoch, job.Round, job.ResumedFrom, job.Checkpoint));
        job = JobEvents.Apply(job, new JobCancelled("job-7", At, "cancelled on request"));
        Assert.Null(job.Checkpoint);
    }

    [Fact]
    public void A_job_journaled_before_owners_were_kept_reads_back_without_an_owner()
    {
        var serializer = (JobEventSerializer)Sys.Serialization.FindSerializerFor(new JobSubmitted(Record));
        string json = System.Text.Encoding.UTF8.GetString(serializer.ToBinary(new JobSubmitted(Record)));
        Assert.Contains("\"Owner\":null,", json);
        var old = System.Text.Encoding.UTF8.GetBytes(json.Replace("\"Owner\":null,", ""));
        var back = Assert.IsType<JobSubmitted>(serializer.FromBinary(old, serializer.Manifest(new JobSubmitted(Record))));
        Assert.Null(back.Job.Owner);
        Assert.Equal("job-7", back.Job.Id);
    }

    [Fact]
    public void A_job_and_a_sweep_keep_their_sampling_and_those_journaled_before_jobs_chose_one_read_back_without()
    {
        var job = new JobSubmitted(Record with { Sampling = BatchSampling.ShardLocal });
        var sweep = new GroupSubmitted(new GroupRecord
        {
            Id = "group-3", Sequence = 3, Strategy = "sweep", Members = [],
            Sweep = new SweepRecord(new Core.Configuration.RunOptionValues { Data = "sine.csv", Target = "value" }, new SweepRequest(["hidden=4,8"]))
            {
                Sampling = BatchSampling.GlobalSliced,
            },
        });
        var serializer = (JobEventSerializer)Sys.Serialization.FindSerializerFor(job);
        T Read<T>(T e, Func<string, string> edit) => Assert.IsType<T>(serializer.FromBinary(
            System.Text.Encoding.UTF8.GetBytes(edit(System.Text.Encoding.UTF8.GetString(serializer.ToBinary(e!)))), serializer.Manifest(e!)));

        Assert.Equal(BatchSampling.ShardLocal, Read(job, json => json).Job.Sampling);
        Assert.Equal(BatchSampling.GlobalSliced, Read(sweep, json => json).Group.Sweep!.Sampling);
        // An older journal has no such key at all: the job then trains with the engine's sampling, as it did.
        string Without(string json)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            var record = node["Job"] ?? node["Group"]!["Sweep"]!;
            Assert.True(record.AsObject().Remove("Sampling"), json);
            return node.ToJsonString();
        }
        var oldJob = Read(job, Without);
        Assert.Null(oldJob.Job.Sampling);
        Assert.Equal((TrainingMode.LocalSgd, 4), (oldJob.Job.Mode!.Value, oldJob.Job.SyncPeriod!.Value));
        var oldSweep = Read(sweep, Without);
        Assert.Null(oldSweep.Group.Sweep!.Sampling);
        Assert.Equal("group-3", oldSweep.Group.Id);
    }

    [Fact]
    public void A_foreign_or_corrupt_event_is_a_serialization_error_naming_it()
    {
        var serializer = (JobEventSerializer)Sys.Serialization.FindSerializerFor(new JobDeleted("job-1"));
        Assert.Contains("unknown job event manifest 'zz'", Assert.Throws<SerializationException>(() => serializer.FromBinary([], "zz")).Message);
        Assert.Contains("corrupt job event 'jd'", Assert.Throws<SerializationException>(() => serializer.FromBinary("{not json"u8.ToArray(), "jd")).Message);
    }
}
