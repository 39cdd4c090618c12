namespace LstmCluster.Actors.Protocol;

/// <summary>One member of a job group: the series it trains and where its job stands.</summary>
public sealed record GroupMemberStatus(string Symbol, string? Job, JobState State, int Epoch, int Epochs, double TestMase, string? Reason)
{
    /// <summary>A sweep's member: its trial (from 1) and round; null in a group over several series.</summary>
    public int? Trial { get; init; }

    public int? Round { get; init; }

    /// <summary>A succeeded sweep member's validation MASE (what ranks it); NaN otherwise.</summary>
    public double ValidationMase { get; init; } = double.NaN;
}

/// <summary>
/// Where a job group stands (the answer to <see cref="GetJobStatus"/>, <see cref="CancelJob"/> and <see cref="DeleteJob"/>
/// for a group's id, <c>group-N</c>): its state (the aggregate of its members: running while any runs or waits, then
/// succeeded when at least one series trained, failed when none did, cancelled on request), every member, the series
/// skipped before training with the reason, and the counts. Its files (summary.json, series.csv, forecast.csv, grid.png)
/// come with <see cref="GetJobArtifacts"/> once it succeeded.
/// </summary>
public sealed record GroupStatus(string Group, JobState State, string Strategy, string? Reason, GroupMemberStatus[] Members) : IJobMessage
{
    public string? Data { get; init; }

    public string? Target { get; init; }

    public string? Owner { get; init; }

    public DateTimeOffset? Submitted { get; init; }

    public DateTimeOffset? Finished { get; init; }

    /// <summary>A sweep group's rounds and leaderboard (strategy <c>sweep</c>); null for a group over several series.</summary>
    public SweepStatus? Sweep { get; init; }

    /// <summary>Members in <paramref name="state"/> (skipped series count as failed: they never trained).</summary>
    public int Count(JobState state) => Members.Count(m => m.State == state);

    /// <summary>
    /// Epochs done over epochs planned, over every member that trains or trained (0 to 1); for a sweep, over every round of
    /// its plan (a member that ended counts its round's epochs), so it does not start over with each round.
    /// </summary>
    public double Progress
    {
        get
        {
            if (Sweep is { Rounds.Length: > 0 } sweep)
            {
                if (State is JobState.Succeeded) return 1;
                double planned = sweep.Rounds.Sum(r => (double)r.Trials * r.Epochs);
                double done = Members.Where(m => m.Round is { } r && r >= 1 && r <= sweep.Rounds.Length).Sum(m =>
                    m.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled ? sweep.Rounds[m.Round!.Value - 1].Epochs
                    : Math.Min(m.Epoch, sweep.Rounds[m.Round!.Value - 1].Epochs));
                return planned > 0 ? Math.Min(1, done / planned) : 0;
            }
            var training = Members.Where(m => m.Job is not null && m.Epochs > 0).ToList();
            if (training.Count == 0) return State is JobState.Succeeded ? 1 : 0;
            return training.Sum(m => m.State is JobState.Succeeded ? 1.0 : Math.Min(1.0, m.Epoch / (double)m.Epochs)) / training.Count;
        }
    }
}
