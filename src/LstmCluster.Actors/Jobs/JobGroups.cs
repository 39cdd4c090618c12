using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Jobs;

/// <summary>A member of a group: the series, and its job (null for a series skipped before it had one).</summary>
public sealed record GroupMember(string Symbol, string? Job, string? Skipped = null)
{
    /// <summary>A sweep's member: the trial (from 1) and the round it trains; null in a group over several series.</summary>
    public int? Trial { get; init; }

    public int? Round { get; init; }
}

/// <summary>
/// What the journal holds about a job group (a job over several series of one long-format file, <c>--symbol all</c> or a
/// list): its members by series and job id, the series skipped with why, and how it ended. The members are ordinary jobs
/// (their <see cref="JobRecord.Group"/> names the group), journaled, scheduled and resumed like any other.
/// </summary>
public sealed record GroupRecord
{
    public required string Id { get; init; }
    public required long Sequence { get; init; }
    public string Strategy { get; init; } = "per-series";
    public string? Owner { get; init; }
    public string? Data { get; init; }
    public string? Target { get; init; }
    /// <summary>The uploaded file's name inside the group's folder of the store, shared by every member; null for a file under the data root.</summary>
    public string? Upload { get; init; }
    public GroupMember[] Members { get; init; } = [];
    public DateTimeOffset? Submitted { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>Queued or Running while members train (Running once any started), then how it ended.</summary>
    public JobState State { get; init; } = JobState.Queued;
    public string? Reason { get; init; }
    /// <summary>Cancel was asked for: the group ends Cancelled whatever its members did.</summary>
    public bool CancelRequested { get; init; }
    /// <summary>A sweep group's grid, plan and scores so far (strategy <c>sweep</c>, see CoordinatorActor.Sweeps); null otherwise.</summary>
    public SweepRecord? Sweep { get; init; }

    public bool Ended => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}

/// <summary>A group was accepted: its members and their job ids (each member's own <see cref="JobSubmitted"/> follows once its data loads).</summary>
public sealed record GroupSubmitted(GroupRecord Group) : IJobEvent;

/// <summary>A member's series could not be trained (too few rows for the windows, ...) and is skipped; the rest of the group goes on.</summary>
public sealed record GroupMemberSkipped(string Group, string Symbol, string Reason) : IJobEvent;

/// <summary>Cancel of the whole group was asked for.</summary>
public sealed record GroupCancelRequested(string Group) : IJobEvent;

/// <summary>Every member ended; the group's files are in the store (when it succeeded).</summary>
public sealed record GroupFinished(string Group, DateTimeOffset At, JobState State, string? Reason) : IJobEvent;

/// <summary>The group, its members and their files were deleted.</summary>
public sealed record GroupDeleted(string Group) : IJobEvent;

public static class GroupEvents
{
    public static GroupRecord Apply(GroupRecord group, IJobEvent e) => e switch
    {
        GroupMemberSkipped s => group with
        {
            Members = [.. group.Members.Select(m => m.Symbol == s.Symbol ? m with { Job = null, Skipped = s.Reason } : m)],
        },
        GroupCancelRequested => group with { CancelRequested = true },
        GroupFinished f => group with { State = f.State, Finished = f.At, Reason = f.Reason },
        _ => group,
    };
}
