using System.Globalization;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

// Job groups: a submission over several series of a long-format file (--symbol all or a list) becomes one member job per
// series, each an ordinary journaled job the scheduler runs like any other (up to MaxConcurrentJobs at once, each on its
// own workers); the group answers status, cancel and delete as a whole and writes its summary once every member ended.
public sealed partial class CoordinatorActor
{
    private readonly Dictionary<string, GroupRecord> groups = [];

    /// <summary>Groups whose symbols are being read, not yet journaled: the submission, who waits, the data's label and upload.</summary>
    private readonly Dictionary<string, PendingGroup> resolving = [];

    /// <summary>Groups whose every member ended and whose summary is being written.</summary>
    private readonly HashSet<string> reporting = [];

    private sealed record PendingGroup(SubmitJob Submit, IActorRef Sender, string Label, string? Upload, string Strategy);

    private sealed record GroupResolved(string Group, string[] Symbols) : INoSerializationVerificationNeeded;

    private sealed record GroupResolveFailed(string Group, string Reason) : INoSerializationVerificationNeeded;

    private sealed record GroupReported(string Group, JobState State, string? Reason, string? Problem) : INoSerializationVerificationNeeded;

    private void RecoverGroups()
    {
        Recover<GroupSubmitted>(e =>
        {
            groups[e.Group.Id] = e.Group;
            sequence = Math.Max(sequence, e.Group.Sequence);
        });
        Recover<GroupDeleted>(e => groups.Remove(e.Group));
        Recover<GroupMemberSkipped>(e => ApplyGroup(e.Group, e));
        Recover<GroupCancelRequested>(e => ApplyGroup(e.Group, e));
        Recover<GroupFinished>(e => ApplyGroup(e.Group, e));
    }

    private void CommandGroups()
    {
        Command<GroupResolved>(OnGroupResolved);
        Command<GroupResolveFailed>(OnGroupResolveFailed);
        Command<GroupReported>(OnGroupReported);
    }

    private void ApplyGroup(string id, IJobEvent e)
    {
        if (groups.TryGetValue(id, out var group)) groups[id] = GroupEvents.Apply(group, e);
    }

    /// <summary>Applies a group event now and journals it; <paramref name="then"/> runs once it is stored.</summary>
    private void RecordGroup(string id, IJobEvent e, Action? then = null)
    {
        ApplyGroup(id, e);
        Persist(e, _ =>
        {
            then?.Invoke();
            AfterPersist();
        });
    }

    // --- submission ---

    /// <summary>
    /// A submission over several series: checked like a job, its upload stored once in the group's folder, and its symbols
    /// read off the actor; the group is accepted (<see cref="JobAccepted"/> with its id) once they are known.
    /// </summary>
    private void SubmitGroup(SubmitJob m, string label)
    {
        string id = $"group-{sequence + 1}";
        sequence++;
        try
        {
            m.Options.Validate();
            if (m.Workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {m.Workers})");
            m.Apply(engine).Validate();
        }
        catch (ArgumentException e)
        {
            Sender.Tell(new JobRejected(JobBudget.Bounded(e.Message)));
            return;
        }
        string? upload = null;
        var options = m.Options;
        if (m.CsvText is not null)
        {
            try
            {
                string path = store.SaveUpload(id, label, m.CsvText);
                options = options with { Data = options.Data with { Path = path } };
                upload = label;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                DeleteFiles(id);
                Sender.Tell(new JobRejected($"could not store the uploaded data: {e.Message}"));
                return;
            }
        }
        resolving[id] = new PendingGroup(m, Sender, label, upload, SeriesSelection.Name(m.Options.Strategy));
        string selection = m.Options.Data.Symbol!;
        var data = options.Data;
        string? stored = upload is null ? null : data.Path;
        Task.Run(() => new GroupResolved(id, [.. SeriesSelection.Resolve(selection, CsvSeriesLoader.Symbols(data), data.Path)]))
            .PipeTo(Self, failure: e => new GroupResolveFailed(id, JobPreparation.ReasonFor(e, stored, label)));
    }

    private void OnGroupResolveFailed(GroupResolveFailed m)
    {
        if (!resolving.Remove(m.Group, out var pending)) return;
        DeleteFiles(m.Group);
        pending.Sender.Tell(new JobRejected(JobBudget.Bounded(m.Reason)));
    }

    /// <summary>The group's symbols are known: one member job per series, the group journaled, then each member's data prepared.</summary>
    private void OnGroupResolved(GroupResolved m)
    {
        if (!resolving.Remove(m.Group, out var pending)) return;
        if (pending.Submit.Options.Strategy == SeriesStrategy.Global)
        {
            ResolveGlobal(pending, m);
            return;
        }
        var s = pending.Submit;
        if (QueueRefusal(m.Symbols.Length, "series", s.Owner) is { } over)
        {
            DeleteFiles(m.Group);
            pending.Sender.Tell(over);
            return;
        }
        var now = DateTimeOffset.UtcNow;
        long groupSequence = long.Parse(m.Group.AsSpan("group-".Length), CultureInfo.InvariantCulture);
        var members = new List<RegisteredJob>();
        foreach (string symbol in m.Symbols)
        {
            members.Add(NewJob(new JobRecord
            {
                Id = $"job-{sequence + 1}", Sequence = sequence + 1, Priority = s.Priority,
                // A member takes one worker unless the submission named a count: the members share the pool and train at once.
                Workers = s.Workers ?? 1,
                Options = s.Options with { Data = s.Options.Data with { Symbol = symbol } },
                Owner = s.Owner, Mode = s.Mode, Staleness = s.Staleness, SyncPeriod = s.SyncPeriod, Sampling = s.Sampling, Data = pending.Label,
                Target = s.Options.Data.Target, Epochs = s.Options.Training.Epochs, Submitted = now, Group = m.Group, Upload = pending.Upload,
            }, ActorRefs.Nobody, durable: true));
        }
        var group = new GroupRecord
        {
            Id = m.Group, Sequence = groupSequence, Strategy = pending.Strategy, Owner = s.Owner, Data = pending.Label, Target = s.Options.Data.Target,
            Upload = pending.Upload, Submitted = now, Members = [.. members.Select(j => new GroupMember(j.Record.Options!.Data.Symbol!, j.Id))],
        };
        groups[group.Id] = group;
        log.Info("group {0}: {1} series of {2}, one job each ({3} to {4})", group.Id, members.Count, pending.Label, members[0].Id, members[^1].Id);
        Persist(new GroupSubmitted(group), _ =>
        {
            pending.Sender.Tell(new JobAccepted(group.Id));
            // In the queue at once, in series order: a member whose data is still loading holds the ones behind it, so the
            // series start in the group's order whichever loads first.
            foreach (var job in members)
            {
                queue.Add(job);
                Prepare(job);
            }
            AfterPersist();
        });
    }

    /// <summary>A member that cannot be trained (its data is too short, over budget, ...) is skipped; the group goes on.</summary>
    private void SkipMember(RegisteredJob job, string reason)
    {
        string group = job.Record.Group!;
        if (!groups.TryGetValue(group, out var record)) return;
        // The series the job trains: its one, or (strategy global) every series of the model not skipped already.
        var symbols = record.Members.Where(m => m.Job == job.Id).Select(m => m.Symbol).ToList();
        if (symbols.Count == 0) CheckGroup(group);
        foreach (string symbol in symbols)
        {
            log.Warning("group {0}: series '{1}' skipped: {2}", group, symbol, reason);
            RecordGroup(group, new GroupMemberSkipped(group, symbol, JobBudget.Bounded(reason)), symbol == symbols[^1] ? () => CheckGroup(group) : null);
        }
    }

    // --- status, cancel, delete, files ---

    private GroupStatus StatusOf(GroupRecord g)
    {
        var members = g.Members.Select(m =>
        {
            if (m.Skipped is { } why) return new GroupMemberStatus(m.Symbol, null, JobState.Failed, 0, 0, double.NaN, $"skipped: {why}");
            if (m.Job is not { } id || !jobs.TryGetValue(id, out var job))
                return new GroupMemberStatus(m.Symbol, m.Job, JobState.Failed, 0, 0, double.NaN, "its job is gone");
            var r = job.Record;
            return new GroupMemberStatus(m.Symbol, id, r.State, r.Epoch, r.Epochs, GlobalGroups.TestMase(r, m.Symbol), r.Reason);
        }).ToArray();
        var state = g.Ended ? g.State
            : members.Any(m => m.State == JobState.Running) || members.Any(m => m.State != JobState.Queued) ? JobState.Running
            : JobState.Queued;
        return WithSweep(g, new GroupStatus(g.Id, state, g.Strategy, g.Reason, members)
        {
            Data = g.Data, Target = g.Target, Owner = g.Owner, Submitted = g.Submitted, Finished = g.Finished,
        });
    }

    private bool TryGroupStatus(string id)
    {
        if (!groups.TryGetValue(id, out var group)) return false;
        Sender.Tell(StatusOf(group));
        return true;
    }

    /// <summary>Cancels every member that has not ended (queued, preparing or running); the group ends Cancelled once they have.</summary>
    private bool TryCancelGroup(string id)
    {
        if (!groups.TryGetValue(id, out var group)) return false;
        if (group.Ended || group.CancelRequested)
        {
            Sender.Tell(StatusOf(group));
            return true;
        }
        var sender = Sender;
        RecordGroup(id, new GroupCancelRequested(id), () =>
        {
            CancelMembers(id);
            if (groups.TryGetValue(id, out var now)) sender.Tell(StatusOf(now));
            CheckGroup(id);
        });
        return true;
    }

    private void CancelMembers(string id)
    {
        if (!groups.TryGetValue(id, out var group)) return;
        foreach (var member in group.Members)
        {
            if (member.Job is not { } jobId || !jobs.TryGetValue(jobId, out var job) || job.Record.Ended) continue;
            queue.Remove(job);
            if (!job.Recorded)
            {
                // Still loading its data: nothing of it is journaled; it ends as a skipped series (every series of a global model).
                jobs.Remove(job.Id);
                DeleteFiles(job.Id);
                foreach (var same in group.Members.Where(x => x.Job == job.Id))
                    RecordGroup(id, new GroupMemberSkipped(id, same.Symbol, "cancelled before its data was ready"));
                continue;
            }
            if (job.Record.State == JobState.Running)
            {
                job.Runner?.Tell(CancelRun.Instance);
                EndTraining(job, afterRunner: true);
            }
            Complete(job, new JobCancelled(job.Id, DateTimeOffset.UtcNow, "its group was cancelled"));
        }
        Schedule();
    }

    /// <summary>A group still running is cancelled; a finished one is deleted with every member and all their files.</summary>
    private bool TryDeleteGroup(string id)
    {
        if (!groups.TryGetValue(id, out var group)) return false;
        if (!group.Ended) return TryCancelGroup(id);
        foreach (var member in group.Members)
            if (member.Job is { } jobId && jobs.TryGetValue(jobId, out var job) && job.Record.Ended) Remove(job);
        groups.Remove(id);
        DeleteFiles(id);
        var sender = Sender;
        Persist(new GroupDeleted(id), _ =>
        {
            sender.Tell(new JobRemoved(id));
            AfterPersist();
        });
        return true;
    }

    private bool TryGroupArtifacts(string id)
    {
        if (!groups.TryGetValue(id, out var group)) return false;
        IReadOnlyDictionary<string, byte[]> files = new Dictionary<string, byte[]>();
        if (group.Ended)
        {
            try
            {
                files = store.ReadFiles(id);
            }
            catch (IOException e)
            {
                log.Warning("could not read the files of {0}: {1}", id, e.Message);
            }
        }
        wire.Tell(Sender, new JobArtifacts(id, StatusOf(group).State, files), Self);
        return true;
    }

    // --- the end of a group ---

    /// <summary>After recovery: a group cancelled before the restart cancels what is left of it; every open group is checked for its end.</summary>
    private void ResumeGroups()
    {
        foreach (var group in groups.Values.Where(g => !g.Ended).ToList())
        {
            // A member journaled in the group but never accepted (the coordinator stopped while its data loaded) is gone.
            foreach (var member in group.Members.Where(m => m.Job is { } id && !jobs.ContainsKey(id)).ToList())
                RecordGroup(group.Id, new GroupMemberSkipped(group.Id, member.Symbol, "the coordinator restarted before it was queued"));
            if (group.CancelRequested) CancelMembers(group.Id);
            CheckGroup(group.Id);
        }
    }

    /// <summary>Once every member of the group ended, its summary and files are written off the actor.</summary>
    private void CheckGroup(string id)
    {
        if (!groups.TryGetValue(id, out var group) || group.Ended || reporting.Contains(id)) return;
        if (group.Sweep is not null)
        {
            CheckSweep(id);
            return;
        }
        var members = group.Members.Select(m => (m.Symbol, m.Skipped, Job: m.Job is { } j ? jobs.GetValueOrDefault(j) : null)).ToList();
        if (members.Any(m => m.Job is { } job && (!job.Recorded || !job.Record.Ended))) return;
        reporting.Add(id);
        var inputs = members.Select(m => new GroupReport.Member(m.Symbol, m.Skipped, m.Job?.Record,
            m.Job is { Record.Options: not null } job ? JobPreparation.OptionsOf(job.Record, store) : null)).ToList();
        var writer = settings.GroupFiles;
        Task.Run(() => GroupReport.Write(group, inputs, store, writer))
            .PipeTo(Self, success: r => new GroupReported(id, r.State, r.Reason, null),
                failure: e => new GroupReported(id, JobState.Failed, null, e.GetBaseException().Message));
    }

    private void OnGroupReported(GroupReported m)
    {
        reporting.Remove(m.Group);
        if (!groups.ContainsKey(m.Group)) return;
        string? reason = m.Problem is { } problem ? $"the group's summary could not be written: {problem}" : m.Reason;
        var state = m.Problem is null ? m.State : JobState.Failed;
        log.Info("group {0} {1}{2}", m.Group, state.ToString().ToLowerInvariant(), reason is null ? "" : $": {reason}");
        RecordGroup(m.Group, new GroupFinished(m.Group, DateTimeOffset.UtcNow, state, reason is null ? null : JobBudget.Bounded(reason)));
    }
}
