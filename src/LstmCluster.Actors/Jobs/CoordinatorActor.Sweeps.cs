using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Sweeps;

namespace LstmCluster.Actors.Jobs;

// Sweep groups (POST /sweeps): successive halving run by the coordinator. Each round's trials are member jobs of one group,
// queued at once and scheduled like any job (up to MaxConcurrentJobs at once, each on its own workers); when every member of
// the round ended, the round is scored by validation MASE, journaled with the next round's members (the best 1/eta), and
// those are queued. After the last round the group writes leaderboard.csv and sweep.json and takes the best trial's files
// (its model included) as its own: /groups/{id}/files/..., /jobs/{id}/model and POST /models/{id}/forecast serve them.
public sealed partial class CoordinatorActor
{
    /// <summary>Sweeps whose data is being checked, not yet journaled.</summary>
    private readonly Dictionary<string, PendingSweep> checkingSweeps = [];

    /// <summary>Each sweep group's grid, trials and rounds, computed once from its record.</summary>
    private readonly Dictionary<string, SweepPlan> sweepPlans = [];

    private sealed record PendingSweep(SubmitSweep Submit, IActorRef Sender, string Label, string? Upload);

    private sealed record SweepChecked(string Group) : INoSerializationVerificationNeeded;

    private sealed record SweepCheckFailed(string Group, string Reason) : INoSerializationVerificationNeeded;

    private sealed record SweepReported(string Group, JobState State, string? Reason) : INoSerializationVerificationNeeded;

    private void RecoverSweeps() => Recover<SweepRoundEnded>(ApplySweep);

    private void CommandSweeps()
    {
        Command<SubmitSweep>(OnSubmitSweep);
        Command<SweepChecked>(OnSweepChecked);
        Command<SweepCheckFailed>(OnSweepCheckFailed);
        Command<SweepReported>(OnSweepReported);
        Command<ListGroups>(_ => Sender.Tell(new GroupList([.. groups.Values.OrderByDescending(g => g.Sequence).Select(StatusOf)])));
    }

    private void ApplySweep(SweepRoundEnded e)
    {
        if (groups.TryGetValue(e.Group, out var group) && group.Sweep is { } sweep)
            groups[e.Group] = group with
            {
                Members = [.. group.Members, .. e.Next],
                Sweep = sweep with { Scores = [.. sweep.Scores, .. e.Scores], Round = e.Next.Length > 0 ? e.Round + 1 : e.Round },
            };
    }

    /// <summary>The grid, trials and rounds of a sweep group (null when its grid no longer parses: the group then fails).</summary>
    private SweepPlan? PlanOf(GroupRecord group)
    {
        if (sweepPlans.TryGetValue(group.Id, out var plan)) return plan;
        if (group.Sweep is not { } sweep) return null;
        try
        {
            plan = SweepPlan.Of(sweep);
        }
        catch (ArgumentException e)
        {
            log.Warning("sweep {0}: its grid cannot be read again: {1}", group.Id, e.Message);
            return null;
        }
        sweepPlans[group.Id] = plan;
        return plan;
    }

    // --- submission ---

    /// <summary>
    /// A sweep: its options, plan and grid checked as the in-process sweep checks them (a bad grid is refused with the same
    /// message), its upload stored once in the group's folder, its data read off the actor; accepted once that loads.
    /// </summary>
    private void OnSubmitSweep(SubmitSweep m)
    {
        if ((QueueRefusal(1, "trials", m.Owner) ?? StorageRefusal(m.Owner, UploadBytes(m.CsvText))) is { } full)
        {
            Sender.Tell(full);
            return;
        }
        int trials;
        Core.Forecasting.RunOptions options;
        try
        {
            if (SeriesSelection.IsMany(m.Values.Symbol))
                throw new ArgumentException("a sweep trains one series: give one symbol, not all or a list");
            options = m.Values.ToRunOptions();
            options.Validate();
            if (m.Workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {m.Workers})");
            if (settings.FixedPool && (m.Workers ?? 1) > pool.Total)
                throw new ArgumentException($"each trial asks for {m.Workers} workers but the pool has {pool.Total}");
            new SubmitJob(options, null, 0, null, m.Mode, m.Staleness, m.SyncPeriod, m.Sampling).Apply(engine).Validate();
            trials = m.Sweep.Parse(m.Values).Trials().Count;
        }
        catch (Exception e) when (e is ArgumentException or DataException)
        {
            Sender.Tell(new JobRejected(JobBudget.Bounded(e.Message)));
            return;
        }
        if (QueueRefusal(trials, "trials", m.Owner) is { } over)
        {
            Sender.Tell(over);
            return;
        }
        string id = $"group-{sequence + 1}";
        sequence++;
        string label = JobBudget.Bounded(m.Values.Data is { Length: > 0 } path ? Path.GetFileName(path) : "inline.csv");
        string? upload = null;
        var data = options.Data;
        if (m.CsvText is not null)
        {
            try
            {
                data = data with { Path = store.SaveUpload(id, label, m.CsvText) };
                upload = label;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                DeleteFiles(id);
                Sender.Tell(new JobRejected($"could not store the uploaded data: {e.Message}"));
                return;
            }
        }
        checkingSweeps[id] = new PendingSweep(m, Sender, label, upload);
        string? stored = upload is null ? null : data.Path;
        // The data must load (file, target, dates); a trial whose windows do not fit it fails alone later.
        Task.Run(() =>
            {
                _ = CsvSeriesLoader.Load(data);
                return new SweepChecked(id);
            })
            .PipeTo(Self, failure: e => new SweepCheckFailed(id, JobPreparation.ReasonFor(e, stored, label)));
    }

    private void OnSweepCheckFailed(SweepCheckFailed m)
    {
        if (!checkingSweeps.Remove(m.Group, out var pending)) return;
        DeleteFiles(m.Group);
        pending.Sender.Tell(new JobRejected(JobBudget.Bounded(m.Reason)));
    }

    /// <summary>The data loads: the group is journaled with the first round's members (every trial), which are then queued.</summary>
    private void OnSweepChecked(SweepChecked m)
    {
        if (!checkingSweeps.Remove(m.Group, out var pending)) return;
        var s = pending.Submit;
        var sweep = new SweepRecord(s.Values, s.Sweep)
        {
            Priority = s.Priority, Workers = s.Workers, Mode = s.Mode, Staleness = s.Staleness, SyncPeriod = s.SyncPeriod, Sampling = s.Sampling,
        };
        var group = new GroupRecord
        {
            Id = m.Group, Sequence = long.Parse(m.Group.AsSpan("group-".Length), CultureInfo.InvariantCulture), Strategy = "sweep",
            Owner = s.Owner, Data = pending.Label, Target = s.Values.Target, Upload = pending.Upload, Submitted = DateTimeOffset.UtcNow,
            Sweep = sweep,
        };
        if (PlanOf(group) is not { } plan)
        {
            DeleteFiles(m.Group);
            pending.Sender.Tell(new JobRejected("the grid cannot be read"));
            return;
        }
        var (members, created) = TrialJobs(group, plan.Rounds[0], plan.Trials);
        group = group with { Members = members };
        groups[group.Id] = group;
        log.Info("sweep {0}: {1} trials of {2}, rounds {3}", group.Id, plan.Trials.Count, pending.Label,
            string.Join(", ", plan.Rounds.Select(r => $"{r.Trials} × {r.Epochs} epochs")));
        Persist(new GroupSubmitted(group), _ =>
        {
            pending.Sender.Tell(new JobAccepted(group.Id));
            Enqueue(created);
            CheckSweep(group.Id);
            AfterPersist();
        });
    }

    /// <summary>
    /// One member job per trial of <paramref name="round"/>: the trial's options over the sweep's, the round's epochs. A trial
    /// whose options do not combine is a member skipped with why (its round scores it as failed).
    /// </summary>
    private (GroupMember[] Members, List<RegisteredJob> Jobs) TrialJobs(GroupRecord group, SweepRound round, IEnumerable<SweepTrial> trials)
    {
        var sweep = group.Sweep!;
        var now = DateTimeOffset.UtcNow;
        var members = new List<GroupMember>();
        var created = new List<RegisteredJob>();
        foreach (var trial in trials)
        {
            string name = $"r{round.Number} #{trial.Number} {trial.Label}";
            Core.Forecasting.RunOptions options;
            try
            {
                options = trial.Apply(sweep.Values).With("epochs", round.Epochs.ToString(CultureInfo.InvariantCulture)).ToRunOptions();
                options.Validate();
            }
            catch (ArgumentException e)
            {
                members.Add(new GroupMember(name, null, JobBudget.Bounded(e.Message)) { Trial = trial.Number, Round = round.Number });
                continue;
            }
            var job = NewTrialJob(group, $"job-{sequence + 1}", options, round, now, keepSequence: false);
            created.Add(job);
            members.Add(new GroupMember(name, job.Id) { Trial = trial.Number, Round = round.Number });
        }
        return ([.. members], created);
    }

    private RegisteredJob NewTrialJob(GroupRecord group, string id, Core.Forecasting.RunOptions options, SweepRound round, DateTimeOffset now,
        bool keepSequence)
    {
        var sweep = group.Sweep!;
        long number = long.Parse(id.AsSpan("job-".Length), CultureInfo.InvariantCulture);
        long current = sequence;
        var job = NewJob(new JobRecord
        {
            Id = id, Sequence = number, Priority = sweep.Priority,
            // A trial takes one worker unless the sweep named a count: the round's trials share the pool and train at once.
            Workers = sweep.Workers ?? 1,
            Options = options, Owner = group.Owner, Mode = sweep.Mode, Staleness = sweep.Staleness, SyncPeriod = sweep.SyncPeriod, Sampling = sweep.Sampling,
            Data = group.Data, Target = options.Data.Target, Epochs = round.Epochs, Submitted = now, Group = group.Id, Upload = group.Upload,
        }, ActorRefs.Nobody, durable: true);
        // A member made again under its old id must not move the counter back (NewJob sets it to the job's number).
        if (keepSequence) sequence = Math.Max(current, number);
        return job;
    }

    /// <summary>Queued at once, in trial order; each member's data is prepared (its JobSubmitted is journaled once it loads).</summary>
    private void Enqueue(List<RegisteredJob> created)
    {
        foreach (var job in created)
        {
            queue.Add(job);
            Prepare(job);
        }
    }

    // --- recovery ---

    /// <summary>
    /// A group's members have job ids from the moment the group (or a sweep's round) is journaled, before their own
    /// JobSubmitted: recovery keeps those ids from being given to new jobs.
    /// </summary>
    private void ReserveMemberIds()
    {
        foreach (var member in groups.Values.SelectMany(g => g.Members))
            if (member.Job is { } id && id.StartsWith("job-", StringComparison.Ordinal)
                && long.TryParse(id.AsSpan("job-".Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
                sequence = Math.Max(sequence, n);
    }

    /// <summary>
    /// After recovery: a member of an open sweep's current round that the restart caught before its JobSubmitted was journaled
    /// (its data was loading) is made again under its id, so the round still trains every trial it promoted.
    /// </summary>
    private void ResumeSweeps()
    {
        foreach (var group in groups.Values.Where(g => g is { Ended: false, CancelRequested: false, Sweep: not null }).ToList())
        {
            if (PlanOf(group) is not { } plan) continue;
            var sweep = group.Sweep!;
            var round = plan.Rounds[sweep.Round - 1];
            var created = new List<RegisteredJob>();
            foreach (var member in group.Members.Where(m => m.Round == sweep.Round && m.Skipped is null && m.Job is { } id && !jobs.ContainsKey(id)))
            {
                var trial = plan.Trials[member.Trial!.Value - 1];
                var options = trial.Apply(sweep.Values).With("epochs", round.Epochs.ToString(CultureInfo.InvariantCulture)).ToRunOptions();
                created.Add(NewTrialJob(group, member.Job!, options, round, DateTimeOffset.UtcNow, keepSequence: true));
            }
            if (created.Count == 0) continue;
            log.Info("sweep {0}: {1} member(s) of round {2} were not queued yet at the restart; queued again", group.Id, created.Count, round.Number);
            Enqueue(created);
        }
    }

    // --- rounds ---

    /// <summary>
    /// Once every member of the sweep's current round ended: the round is scored and the best 1/eta go on to the next round
    /// as new members; after the last round the leaderboard and files are written. A sweep cancelled ends Cancelled.
    /// </summary>
    private void CheckSweep(string id)
    {
        if (!groups.TryGetValue(id, out var group) || group.Ended || reporting.Contains(id) || group.Sweep is not { } sweep) return;
        var current = group.Members.Where(m => m.Round == sweep.Round)
            .Select(m => (Member: m, Job: m.Job is { } j ? jobs.GetValueOrDefault(j) : null)).ToList();
        if (current.Any(m => m.Job is { } job && (!job.Recorded || !job.Record.Ended))) return;
        if (group.CancelRequested)
        {
            FinishSweep(id, JobState.Cancelled, "cancelled on request");
            return;
        }
        if (PlanOf(group) is not { } plan)
        {
            FinishSweep(id, JobState.Failed, "the sweep's grid cannot be read again (were the server's defaults changed?)");
            return;
        }
        var scores = current.Select(m => SweepBook.Score(m.Member, m.Job?.Record)).ToArray();
        var round = plan.Rounds[sweep.Round - 1];
        foreach (var score in scores)
            log.Info("sweep {0}: round {1}, trial {2}/{3}: {4}", id, round.Number, score.Trial, plan.Trials.Count,
                score.Error is { } error ? $"failed: {error}" : $"validation MASE {score.ValidationMase:0.####}");
        if (sweep.Round < plan.Rounds.Count)
        {
            var next = plan.Rounds[sweep.Round];
            var promoted = Sweep.Promote(scores.Select(s => (plan.Trials[s.Trial - 1], SweepBook.Outcome(s))), next.Trials);
            var (members, created) = TrialJobs(group, next, promoted);
            log.Info("sweep {0}: round {1} ended; trials {2} go on to round {3} ({4} epochs)", id, round.Number,
                string.Join(", ", promoted.Select(t => t.Number)), next.Number, next.Epochs);
            var ended = new SweepRoundEnded(id, round.Number, scores, members);
            ApplySweep(ended);
            Persist(ended, _ =>
            {
                Enqueue(created);
                Schedule();
                // A round whose every member was skipped is over at once.
                CheckSweep(id);
                AfterPersist();
            });
            return;
        }
        var last = new SweepRoundEnded(id, round.Number, scores, []);
        ApplySweep(last);
        Persist(last, _ =>
        {
            ReportSweep(id);
            AfterPersist();
        });
    }

    /// <summary>The last round is scored: leaderboard.csv, sweep.json and the best trial's files become the group's, off the actor.</summary>
    private void ReportSweep(string id)
    {
        if (!groups.TryGetValue(id, out var group) || group.Sweep is not { } sweep || PlanOf(group) is not { } plan) return;
        var result = SweepBook.ResultOf(sweep, plan);
        if (result.Leaderboard.Count == 0 || result.Best.Outcome.Error is not null || !double.IsFinite(result.Best.Outcome.ValidationMase))
        {
            string first = result.Leaderboard.Count == 0 ? "no trial was scored" : result.Best.Outcome.Error ?? "no finite validation MASE";
            FinishSweep(id, JobState.Failed, $"every trial failed; the first: {first}");
            return;
        }
        reporting.Add(id);
        string best = (string)result.Best.Outcome.Handle!;
        var parameters = plan.Grid.Parameters;
        int eta = sweep.Request.Eta;
        Task.Run(() =>
            {
                var files = new Dictionary<string, byte[]>(store.ReadFiles(best))
                {
                    ["leaderboard.csv"] = Encoding.UTF8.GetBytes(SweepReport.LeaderboardCsv(parameters, result)),
                    ["sweep.json"] = Encoding.UTF8.GetBytes(SweepReport.Json(parameters, eta, result).ToJsonString(new JsonSerializerOptions { WriteIndented = true })),
                };
                store.SaveFiles(id, files);
                return new SweepReported(id, JobState.Succeeded, null);
            })
            .PipeTo(Self, failure: e => new SweepReported(id, JobState.Failed, $"the sweep's files could not be written: {e.GetBaseException().Message}"));
    }

    private void OnSweepReported(SweepReported m)
    {
        reporting.Remove(m.Group);
        FinishSweep(m.Group, m.State, m.Reason);
    }

    private void FinishSweep(string id, JobState state, string? reason)
    {
        if (!groups.ContainsKey(id)) return;
        log.Info("sweep {0} {1}{2}", id, state.ToString().ToLowerInvariant(), reason is null ? "" : $": {reason}");
        RecordGroup(id, new GroupFinished(id, DateTimeOffset.UtcNow, state, reason is null ? null : JobBudget.Bounded(reason)), Retain);
    }

    /// <summary>A sweep group's status: each member's trial and round, and the rounds and leaderboard so far.</summary>
    private GroupStatus WithSweep(GroupRecord group, GroupStatus status) =>
        group.Sweep is null ? status
        : SweepBook.Status(group, status, PlanOf(group), job => jobs.TryGetValue(job, out var j) && j.Record.Validation is { } v ? v.Mase : double.NaN);

    // --- retention ---

    /// <summary>Deletes a finished group with every member and all their files (retention, or DELETE of a finished group).</summary>
    private void RemoveGroup(GroupRecord group)
    {
        foreach (var member in group.Members)
            if (member.Job is { } jobId && jobs.TryGetValue(jobId, out var job) && job.Record.Ended) Remove(job);
        groups.Remove(group.Id);
        sweepPlans.Remove(group.Id);
        DeleteFiles(group.Id);
        Persist(new GroupDeleted(group.Id), _ => AfterPersist());
    }
}
