using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Training;

[Collection(TorchCollection.Name)]
public sealed class WorkerActorTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private static readonly TrainingOptions Options = new() { BatchSize = 8, Seed = 3 };

    [Fact]
    public async Task Worker_replies_with_the_gradient_of_its_slice_for_the_version_it_was_sent()
    {
        var data = TestSupport.SineData();
        var plan = new BatchPlan(data.Train.Count, 2, Options.BatchSize, Options.Seed);
        using var model = ForecastModel.Create(TestSupport.TinySpec, 11);
        var weights = ParameterVector.Flatten(model);
        var worker = Sys.ActorOf(WorkerActor.Props());

        worker.Tell(new AssignShard("job", 1, TestSupport.TinySpec, new PlanSpec(data.Train.Count, 2, Options.BatchSize, Options.Seed),
            data.Train.Select(plan.Shard(1)), Options));
        worker.Tell(new Weights("job", 7, weights));
        var first = await ExpectMsgAsync<Gradient>(TimeSpan.FromSeconds(20));
        worker.Tell(new Weights("job", 8, weights));
        var second = await ExpectMsgAsync<Gradient>(TimeSpan.FromSeconds(20));

        Assert.Equal(("job", 7L, 1, 4), (first.Job, first.Version, first.Worker, first.Samples));
        Assert.Equal(8L, second.Version);
        // Each reply carries the time the worker spent on it, for the server's account of its rounds (RoundTimes).
        Assert.True(first.Compute > TimeSpan.Zero && second.Compute > TimeSpan.Zero, $"{first.Compute} {second.Compute}");
        // The same numbers as computing slices 0 and 1 of shard 1's first epoch directly.
        var order = plan.EpochOrder(1, 1);
        var expected0 = Gradients.Compute(model, data.Train, plan.Slice(order, 0));
        var expected1 = Gradients.Compute(model, data.Train, plan.Slice(order, 1));
        Assert.True(TestSupport.MaxAbsDifference(expected0.Values, first.Values) < 1e-6f);
        Assert.True(TestSupport.MaxAbsDifference(expected1.Values, second.Values) < 1e-6f);
        Assert.Equal(expected0.Loss, first.Loss, 5);
    }

    [Fact]
    public async Task Worker_ignores_weights_of_a_job_it_does_not_hold()
    {
        var data = TestSupport.SineData();
        var plan = new BatchPlan(data.Train.Count, 1, Options.BatchSize, Options.Seed);
        var worker = Sys.ActorOf(WorkerActor.Props());
        var weights = new float[TestSupport.TinySpec.ParameterCount];

        worker.Tell(new AssignShard("job-a", 0, TestSupport.TinySpec, new PlanSpec(data.Train.Count, 1, Options.BatchSize, Options.Seed),
            data.Train.Select(plan.Shard(0)), Options));
        worker.Tell(new Weights("job-b", 0, weights));
        worker.Tell(new Weights("job-a", 1, weights));

        // Messages are handled in order: the first reply being job-a's proves job-b's was dropped.
        var reply = await ExpectMsgAsync<Gradient>(TimeSpan.FromSeconds(20));
        Assert.Equal(("job-a", 1L), (reply.Job, reply.Version));
    }

    [Fact]
    public async Task Worker_reports_a_shard_that_does_not_match_the_plan()
    {
        var data = TestSupport.SineData();
        var worker = Sys.ActorOf(WorkerActor.Props());
        worker.Tell(new AssignShard("job", 0, TestSupport.TinySpec, new PlanSpec(data.Train.Count, 2, 8, 1), data.Train, Options));
        var failed = await ExpectMsgAsync<WorkerFailed>(TimeSpan.FromSeconds(20));
        Assert.Contains("windows", failed.Reason);
    }
}
