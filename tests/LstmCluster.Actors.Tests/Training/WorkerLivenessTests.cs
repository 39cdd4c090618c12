using Akka.Actor;
using Akka.Remote;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Training;

/// <summary>
/// The parameter server's liveness child, under the test actor as its parent: it reports <see cref="WorkerLiveness.Lost"/>
/// once per worker that stopped, or whose node's connection closed (a <see cref="DisassociatedEvent"/> for its address)
/// and that did not answer the probe; a worker that answers stays.
/// </summary>
public sealed class WorkerLivenessTests(ITestOutputHelper output) : TestKit(TestSupport.Config, output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    // Short, so the silent worker's test is quick; only the silent worker is meant to miss it (its mailbox is held).
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(300);

    /// <summary>The child, started: it has answered an Identify, so its PreStart (the event stream subscription) ran.</summary>
    private async Task<IActorRef> Liveness()
    {
        var liveness = ChildActorOf(WorkerLiveness.Props(ProbeTimeout));
        await liveness.Ask<ActorIdentity>(new Identify(null), Wait);
        return liveness;
    }

    private void ConnectionClosed(IActorRef worker) =>
        Sys.EventStream.Publish(new DisassociatedEvent(worker.Path.Address, worker.Path.Address, inbound: false));

    [Fact]
    public async Task A_worker_that_stops_is_reported_once_as_terminated()
    {
        var liveness = await Liveness();
        var worker = CreateTestProbe("worker");
        liveness.Tell(new WorkerLiveness.Watch(worker.Ref));
        liveness.Tell(new WorkerLiveness.Watch(worker.Ref));   // watched twice: still reported once
        Sys.Stop(worker.Ref);
        var lost = await ExpectMsgAsync<WorkerLiveness.Lost>(Wait);
        Assert.Equal(worker.Ref, lost.Worker);
        Assert.Equal("terminated", lost.Why);
        // Another worker's loss comes next, not a second report of the first.
        var other = CreateTestProbe("other");
        liveness.Tell(new WorkerLiveness.Watch(other.Ref));
        Sys.Stop(other.Ref);
        Assert.Equal(other.Ref, (await ExpectMsgAsync<WorkerLiveness.Lost>(Wait)).Worker);
    }

    [Fact]
    public async Task A_worker_that_answers_the_probe_after_its_connection_closed_stays()
    {
        var liveness = await Liveness();
        var worker = CreateTestProbe("worker");
        liveness.Tell(new WorkerLiveness.Watch(worker.Ref));
        await EventFilter.Info(contains: "answered the probe").ExpectOneAsync(() =>
        {
            ConnectionClosed(worker.Ref);
            return Task.CompletedTask;
        });
        // Still watched: its stop is its first loss, reported as such.
        Sys.Stop(worker.Ref);
        var lost = await ExpectMsgAsync<WorkerLiveness.Lost>(Wait);
        Assert.Equal(worker.Ref, lost.Worker);
        Assert.Equal("terminated", lost.Why);
    }

    [Fact]
    public async Task A_worker_that_does_not_answer_the_probe_in_time_is_lost_once()
    {
        var liveness = await Liveness();
        using var hold = new ManualResetEventSlim();
        var worker = Sys.ActorOf(Props.Create(() => new HeldActor(hold)), "silent");
        worker.Tell("hold");   // its mailbox now waits behind this message: the probe's Identify is not answered
        liveness.Tell(new WorkerLiveness.Watch(worker));
        ConnectionClosed(worker);
        var lost = await ExpectMsgAsync<WorkerLiveness.Lost>(Wait);
        Assert.Equal(worker, lost.Worker);
        Assert.Contains("did not answer within 0.3 s", lost.Why);
        hold.Set();
        // Forgotten once lost: its stop afterwards reports nothing, so the next message is the probe's below.
        Sys.Stop(worker);
        var next = CreateTestProbe("next");
        liveness.Tell(new WorkerLiveness.Watch(next.Ref));
        Sys.Stop(next.Ref);
        Assert.Equal(next.Ref, (await ExpectMsgAsync<WorkerLiveness.Lost>(Wait)).Worker);
    }

    private sealed class HeldActor : ReceiveActor
    {
        public HeldActor(ManualResetEventSlim hold) => Receive<string>(_ => hold.Wait(Wait));
    }
}
