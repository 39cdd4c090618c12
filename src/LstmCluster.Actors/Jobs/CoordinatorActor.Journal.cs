using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Jobs;

// The registry's journal, the ends of jobs, retention, and the requests about jobs that exist (status, files, cancel, delete).
public sealed partial class CoordinatorActor
{
    /// <summary>Journals how the job ended, then tells whoever waits for it.</summary>
    private void Complete(RegisteredJob job, IJobEvent end, Action? after = null)
    {
        // Finished jobs stay answerable, but without their windows and data.
        job.Prepared = null;
        job.Global = null;
        job.Setup = null;
        job.Resume = null;
        Record(job, end, () =>
        {
            if (job.Durable) DeleteCheckpoint(job.Id);
            var status = job.Status();
            // An Ask (the HTTP API) has had its answer (JobAccepted) and its temporary actor is gone: no dead letter per job.
            if (!IsTemporary(job.Submitter) && !job.Submitter.IsNobody()) job.Submitter.Tell(status);
            if (job.Listener is not null && !job.Listener.Equals(job.Submitter)) job.Listener.Tell(status);
            after?.Invoke();
            if (job.Record.Group is { } group) CheckGroup(group);
            Retain();
        });
    }

    // --- journal ---

    /// <summary>
    /// Applies an event to the job's record now (the scheduler acts on it at once) and journals it; <paramref name="then"/>
    /// runs once it is stored (commands wait meanwhile), so no reply ever gets ahead of the journal.
    /// </summary>
    /// <remarks><paramref name="async"/>: commands go on while it is stored (PersistAsync), for events nobody waits on.</remarks>
    private void Record(RegisteredJob job, IJobEvent e, Action? then = null, bool async = false)
    {
        job.Record = JobEvents.Apply(job.Record, e);
        if (!job.Durable || !job.Recorded)
        {
            then?.Invoke();
            return;
        }
        void Stored(IJobEvent _)
        {
            then?.Invoke();
            AfterPersist();
        }
        if (async) PersistAsync(e, Stored);
        else Persist(e, Stored);
    }

    private void AfterPersist()
    {
        if (settings.SnapshotEvery > 0 && LastSequenceNr % settings.SnapshotEvery == 0)
            SaveSnapshot(new RegistrySnapshot(sequence, [.. jobs.Values.Where(j => j.Durable && j.Recorded).Select(j => j.Record)]) { Groups = [.. groups.Values] });
    }

    private static string? JobOf(IJobEvent e) => e switch
    {
        JobSubmitted s => s.Job.Id,
        JobStarted s => s.Job,
        JobProgressed p => p.Job,
        JobRequeued r => r.Job,
        JobSucceeded s => s.Job,
        JobFailed f => f.Job,
        JobCancelled c => c.Job,
        JobDeleted d => d.Job,
        JobCheckpointed c => c.Job,
        _ => null,
    };

    // --- retention and files ---

    /// <summary>
    /// Keeps the history bounded by count and age: the oldest finished jobs are deleted with their files. A finished group
    /// goes as one, with its members and all their files (a member is never deleted alone while its group is known, and an
    /// open group's members stay); it counts as itself and its members against <see cref="CoordinatorSettings.History"/>.
    /// </summary>
    private void Retain()
    {
        var cutoff = settings.KeepFor is { } keep ? DateTimeOffset.UtcNow - keep : DateTimeOffset.MinValue;
        var units = jobs.Values.Where(j => j.Record.Ended && (j.Record.Group is not { } g || !groups.ContainsKey(g)))
            .Select(j => (j.Record.Sequence, j.Record.Finished, Size: 1, Job: (RegisteredJob?)j, Group: (GroupRecord?)null))
            .Concat(groups.Values.Where(g => g.Ended).Select(g => (g.Sequence, g.Finished,
                Size: 1 + g.Members.Count(m => m.Job is { } id && jobs.ContainsKey(id)), Job: (RegisteredJob?)null, Group: (GroupRecord?)g)))
            .OrderBy(u => u.Sequence).ToList();
        int excess = jobs.Count + groups.Count - settings.History;
        foreach (var unit in units)
        {
            if (excess <= 0 && !(unit.Finished < cutoff)) continue;
            if (unit.Group is { } group) RemoveGroup(group);
            else Remove(unit.Job!);
            excess -= unit.Size;
        }
    }

    private void Remove(RegisteredJob job)
    {
        jobs.Remove(job.Id);
        DeleteFiles(job.Id);
        if (job.Durable && job.Recorded) Persist(new JobDeleted(job.Id), _ => AfterPersist());
    }

    private void DeleteCheckpoint(string id)
    {
        try
        {
            store.DeleteCheckpoint(id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("could not delete the checkpoint of {0}: {1}", id, e.Message);
        }
    }

    private void DeleteFiles(string id)
    {
        storage.Forget(id);
        try
        {
            store.Delete(id);
        }
        catch (IOException e)
        {
            log.Warning("could not delete the files of {0}: {1}", id, e.Message);
        }
    }

    // --- queries, cancel and delete ---

    private void OnGetJobStatus(GetJobStatus m)
    {
        if (TryGroupStatus(m.Job)) return;
        if (jobs.TryGetValue(m.Job, out var job)) Sender.Tell(StatusWithPlace(job));
        else Sender.Tell(new UnknownJob(m.Job));
    }

    private void OnGetJobHistory(GetJobHistory m)
    {
        if (jobs.TryGetValue(m.Job, out var job)) Sender.Tell(job.History());
        else Sender.Tell(new UnknownJob(m.Job));
    }

    private void OnCancelJob(string id)
    {
        if (TryCancelGroup(id)) return;
        if (!jobs.TryGetValue(id, out var job))
        {
            Sender.Tell(new UnknownJob(id));
            return;
        }
        if (job.Record.Ended)
        {
            Sender.Tell(job.Status());
            return;
        }
        queue.Remove(job);
        if (job.Record.State == JobState.Running)
        {
            // Its runner stops the server, which releases its workers' shards (PostStop): the workers are free again at
            // once. A job evaluating has freed them already; its runner just ends.
            job.Runner?.Tell(CancelRun.Instance);
            EndTraining(job, afterRunner: true);
        }
        var sender = Sender;
        Complete(job, new JobCancelled(job.Id, DateTimeOffset.UtcNow, "cancelled on request"), () => sender.Tell(job.Status()));
        Schedule();
    }

    /// <summary>A queued or running job is cancelled; a finished one is deleted with its files.</summary>
    private void OnDeleteJob(DeleteJob m)
    {
        if (TryDeleteGroup(m.Job)) return;
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            Sender.Tell(new UnknownJob(m.Job));
            return;
        }
        if (!job.Record.Ended)
        {
            OnCancelJob(m.Job);
            return;
        }
        Remove(job);
        Sender.Tell(new JobRemoved(job.Id));
    }

    private void OnGetJobArtifacts(GetJobArtifacts m)
    {
        if (TryGroupArtifacts(m.Job)) return;
        if (!jobs.TryGetValue(m.Job, out var job))
        {
            Sender.Tell(new UnknownJob(m.Job));
            return;
        }
        IReadOnlyDictionary<string, byte[]> files = new Dictionary<string, byte[]>();
        if (job.Record.State == JobState.Succeeded)
        {
            try
            {
                files = store.ReadFiles(job.Id);
            }
            catch (IOException e)
            {
                log.Warning("could not read the files of {0}: {1}", job.Id, e.Message);
            }
        }
        // Files (model, plots) can outgrow one frame: through the chunked path.
        wire.Tell(Sender, new JobArtifacts(job.Id, job.Record.State, files), Self);
    }

    private static bool IsTemporary(IActorRef actor) => actor.Path.Elements.FirstOrDefault() == "temp";
}
