using Akka.Actor;
using LstmCluster.Actors.Jobs;

namespace LstmCluster.Actors.Tests.Jobs;

public sealed class JobQueueTests
{
    private static long sequence;

    private static RegisteredJob Job(string? owner, int priority = 0)
    {
        long n = Interlocked.Increment(ref sequence);
        return new RegisteredJob(new JobRecord { Id = $"job-{n}", Sequence = n, Priority = priority, Owner = owner }, ActorRefs.Nobody);
    }

    [Fact]
    public void Priority_comes_first_then_the_owners_take_turns_then_each_owners_jobs_in_submission_order()
    {
        var queue = new JobQueue();
        var (ci1, ci2, ci3, alice1, alice2, bob) = (Job("ci"), Job("ci"), Job("ci"), Job("alice"), Job("alice"), Job("bob", priority: 1));
        foreach (var job in new[] { ci1, ci2, ci3, alice1, alice2, bob }) queue.Add(job);

        // Nobody served yet: bob's priority, then ci and alice in turns, ci first as its first job came first.
        Assert.Equal([bob, ci1, alice1, ci2, alice2, ci3], queue.Order());
        // ci's first job starts; then alice was served longer ago than ci (never), and the turns go on from there.
        queue.Started(ci1);
        Assert.Equal([bob, alice1, ci2, alice2, ci3], queue.Order());
        queue.Started(bob);
        queue.Started(alice1);
        Assert.Equal([ci2, alice2, ci3], queue.Order());
        Assert.Equal(new Dictionary<RegisteredJob, int> { [ci2] = 0, [alice2] = 1, [ci3] = 2 }, queue.Places());

        // A job of a higher priority still goes first, and being served there counts for the turns below it.
        var alice3 = Job("alice", priority: 2);
        queue.Add(alice3);
        Assert.Equal([alice3, ci2, alice2, ci3], queue.Order());
        // The order is the scheduler's: starting the head each time gives it.
        var started = new List<RegisteredJob>();
        while (queue.Count > 0)
        {
            var next = queue.Order().First();
            queue.Started(next);
            started.Add(next);
        }
        Assert.Equal([alice3, ci2, alice2, ci3], started);
    }

    [Fact]
    public void Turns_restored_from_the_records_go_by_each_owners_latest_start_and_an_owner_never_started_goes_first()
    {
        var t0 = new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
        RegisteredJob Ran(string owner, int minutes)
        {
            var job = Job(owner);
            job.Record = job.Record with { Started = t0.AddMinutes(minutes) };
            return job;
        }
        // ci started at 8:00 and 8:30, alice at 8:10: alice was served longer ago than ci; bob never was.
        var queue = new JobQueue();
        queue.RestoreTurns([Ran("ci", 0), Ran("alice", 10), Ran("ci", 30), Job("bob")]);
        var (ci, alice, bob) = (Job("ci"), Job("alice"), Job("bob"));
        foreach (var job in new[] { ci, alice, bob }) queue.Add(job);
        Assert.Equal([bob, alice, ci], queue.Order());
    }

    [Fact]
    public void An_owner_at_its_running_limit_has_its_jobs_at_the_end_and_the_scheduler_passes_over_them()
    {
        var queue = new JobQueue(maxRunningPerOwner: 2);
        var (ci1, ci2, alice, none) = (Job("ci"), Job("ci"), Job("alice"), Job(null));
        foreach (var job in new[] { ci1, ci2, alice, none }) queue.Add(job);
        // ci has one job training: one more of its may start, then its second waits for one of its own to end.
        var running = new Dictionary<string, int> { ["ci"] = 1 };
        Assert.Equal([ci1, alice, none, ci2], queue.Order(running));
        Assert.Same(ci1, queue.Next(running));
        Assert.False(queue.Held(ci1, running));
        running["ci"] = 2;
        Assert.True(queue.Held(ci1, running));
        Assert.Same(alice, queue.Next(running));
        Assert.Equal([alice, none, ci1, ci2], queue.Order(running));
        // Only held jobs left: nothing to start.
        queue.Started(alice);
        queue.Started(none);
        Assert.Null(queue.Next(running));
        Assert.Equal([ci1, ci2], queue.Order(running));
        // Without a limit nothing is held.
        Assert.False(new JobQueue().Held(ci1, running));
    }

    [Fact]
    public void Jobs_without_an_owner_take_turns_as_one_owner_and_one_owner_alone_is_first_come_first_served()
    {
        var queue = new JobQueue();
        var (a, b, c) = (Job(null), Job(null), Job("ci"));
        foreach (var job in new[] { a, b, c }) queue.Add(job);
        queue.Started(a);
        Assert.Equal([c, b], queue.Order());
        Assert.False(queue.Contains(a));
        Assert.Equal(2, queue.Count);
    }
}
