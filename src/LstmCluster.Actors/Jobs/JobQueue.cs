namespace LstmCluster.Actors.Jobs;

/// <summary>
/// The jobs waiting to start, and the order they start in: the highest priority first; among equal priorities the owners
/// (API tokens) take turns, the one whose job started longest ago first, so one client's 50 queued jobs do not keep
/// another's single job waiting behind all of them; within one owner, first come first served. Jobs without an owner take
/// turns as one owner.
/// <para>
/// A plain class owned by the coordinator, as <see cref="WorkerPool"/> is: every scheduling decision reads the order and
/// takes the head in the same step. The turns need no events of their own: after a restart or a move of the singleton
/// <see cref="RestoreTurns"/> rebuilds them from when each owner's jobs last started, which their records hold
/// (<see cref="JobRecord.Started"/>). A job deleted since (on request, or by retention) no longer counts.
/// </para>
/// </summary>
/// <param name="maxRunningPerOwner">
/// <c>--max-running-per-owner</c>: how many jobs one owner may have training at once, or null for no limit of its own.
/// A job whose owner is at the limit waits, and the jobs of other owners behind it start meanwhile.
/// </param>
internal sealed class JobQueue(int? maxRunningPerOwner = null)
{
    private readonly List<RegisteredJob> waiting = [];

    /// <summary>When each owner's job last started (a count of starts); owners not in it have not been served yet.</summary>
    private readonly Dictionary<string, long> lastServed = [];

    private long starts;

    public int Count => waiting.Count;

    public bool Contains(RegisteredJob job) => waiting.Contains(job);

    public void Add(RegisteredJob job) => waiting.Add(job);

    public bool Remove(RegisteredJob job) => waiting.Remove(job);

    /// <summary>
    /// The waiting jobs in the order they would start if no other job came and none ended: each priority in turn, highest
    /// first; within it the owners take turns, the one served longest ago first (an owner never served before all others, in
    /// the order of their first jobs), each owner's jobs in the order they came. With a running limit per owner, an owner
    /// whose <paramref name="running"/> jobs (and those started before in this order) reach it has its other jobs at the
    /// end, in the same order: they start only once one of its own ends. O(n log n): a status query asks for it.
    /// </summary>
    public IEnumerable<RegisteredJob> Order(IReadOnlyDictionary<string, int>? running = null) => Walk(running).Select(w => w.Job);

    /// <summary>The job the scheduler starts next: the first of <see cref="Order"/> whose owner is under its running limit, or null.</summary>
    public RegisteredJob? Next(IReadOnlyDictionary<string, int>? running = null) =>
        Walk(running).Where(w => !w.Held).Select(w => w.Job).FirstOrDefault();

    private IEnumerable<(RegisteredJob Job, bool Held)> Walk(IReadOnlyDictionary<string, int>? running)
    {
        var served = new Dictionary<string, long>(lastServed);
        var busy = running is null ? [] : new Dictionary<string, int>(running);
        var held = new List<RegisteredJob>();
        long clock = starts;
        foreach (var level in waiting.GroupBy(j => j.Record.Priority).OrderByDescending(g => g.Key))
        {
            var byOwner = level.GroupBy(OwnerOf).ToDictionary(g => g.Key, g => new Queue<RegisteredJob>(g.OrderBy(j => j.Record.Sequence)));
            var turns = new PriorityQueue<string, (long Served, long Sequence)>(
                byOwner.Select(o => (o.Key, (served.GetValueOrDefault(o.Key, -1), o.Value.Peek().Record.Sequence))));
            while (turns.TryDequeue(out var owner, out _))
            {
                var jobs = byOwner[owner];
                if (AtLimit(owner, busy))
                {
                    held.AddRange(jobs);
                    continue;
                }
                yield return (jobs.Dequeue(), false);
                served[owner] = ++clock;
                busy[owner] = busy.GetValueOrDefault(owner) + 1;
                if (jobs.Count > 0) turns.Enqueue(owner, (clock, jobs.Peek().Record.Sequence));
            }
        }
        foreach (var job in held) yield return (job, true);
    }

    /// <summary>Each waiting job's place in <see cref="Order"/> (0: next).</summary>
    public Dictionary<RegisteredJob, int> Places(IReadOnlyDictionary<string, int>? running = null) =>
        Order(running).Select((job, place) => (job, place)).ToDictionary(p => p.job, p => p.place);

    /// <summary>Whether <paramref name="job"/> waits because its owner has as many jobs running as it may (<see cref="Next"/> passes it over).</summary>
    public bool Held(RegisteredJob job, IReadOnlyDictionary<string, int> running) => AtLimit(OwnerOf(job), running);

    // Jobs without an owner share the node's limits alone, as they do in the queue.
    private bool AtLimit(string owner, IReadOnlyDictionary<string, int> running) =>
        maxRunningPerOwner is { } limit && owner.Length > 0 && running.GetValueOrDefault(owner) >= limit;

    /// <summary><paramref name="job"/> leaves the queue to start: its owner's turn is taken.</summary>
    public void Started(RegisteredJob job)
    {
        waiting.Remove(job);
        lastServed[OwnerOf(job)] = ++starts;
    }

    /// <summary>
    /// After recovery, before any job is queued again: each owner's turn from the latest start among <paramref name="jobs"/>
    /// (the registry's records), in the order those starts happened. A job cut off by the restart counts as started then,
    /// as a job requeued after losing its parameter server does at run time.
    /// </summary>
    public void RestoreTurns(IEnumerable<RegisteredJob> jobs)
    {
        var latest = jobs.Where(j => j.Record.Started is not null).GroupBy(OwnerOf)
            .Select(g => (Owner: g.Key, Started: g.Max(j => j.Record.Started!.Value))).OrderBy(o => o.Started);
        foreach (var (owner, _) in latest) lastServed[owner] = ++starts;
    }

    private static string OwnerOf(RegisteredJob job) => job.Record.Owner ?? "";
}
