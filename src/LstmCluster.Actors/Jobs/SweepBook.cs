using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Sweeps;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// What the journal holds about a sweep group beside its <see cref="GroupRecord"/>: the base options and the grid as submitted
/// (the trials and rounds are computed from them again, so recovery needs nothing else), the members' engine choices, the
/// round being trained and every trial's score so far.
/// </summary>
public sealed record SweepRecord(RunOptionValues Values, SweepRequest Request)
{
    public int Priority { get; init; }
    public int? Workers { get; init; }
    public TrainingMode? Mode { get; init; }
    public int? Staleness { get; init; }
    public int? SyncPeriod { get; init; }
    /// <summary>The members' batch sampling; null keeps the engine's (and in journals written before sweeps chose it).</summary>
    public Core.Training.BatchSampling? Sampling { get; init; }
    /// <summary>The round whose members train now (from 1).</summary>
    public int Round { get; init; } = 1;
    public SweepScore[] Scores { get; init; } = [];
}

/// <summary>How one trial's member job of one round ended: its validation figures, or why it has none.</summary>
public sealed record SweepScore(int Trial, int Round, string? Job, double ValidationMase, double NaiveValidationMase, double TestMase,
    int EpochsRun, int BestEpoch, string? Error);

/// <summary>A sweep round's members all ended: their scores, and the members of the next round (none after the last).</summary>
public sealed record SweepRoundEnded(string Group, int Round, SweepScore[] Scores, GroupMember[] Next) : IJobEvent;

/// <summary>A sweep group's grid, trials and rounds, computed from its record (the journal keeps only what was submitted).</summary>
internal sealed record SweepPlan(SweepGrid Grid, IReadOnlyList<SweepTrial> Trials, IReadOnlyList<SweepRound> Rounds)
{
    /// <exception cref="ArgumentException">the grid no longer parses.</exception>
    public static SweepPlan Of(SweepRecord sweep)
    {
        var grid = sweep.Request.Parse(sweep.Values);
        var trials = grid.Trials();
        return new SweepPlan(grid, trials, sweep.Request.Halving().Rounds(trials.Count));
    }
}

/// <summary>
/// What the coordinator's sweep groups compute without touching its state: a round's scores from its member jobs' records,
/// the leaderboard (as the in-process <see cref="Sweep"/> ranks it) and the group's status. The coordinator
/// (<c>CoordinatorActor.Sweeps.cs</c>) journals and queues; this decides nothing on its own.
/// </summary>
internal static class SweepBook
{
    /// <summary>How a trial's member job of one round ended (<paramref name="job"/> null: its record is gone).</summary>
    public static SweepScore Score(GroupMember member, JobRecord? job)
    {
        int trial = member.Trial ?? 0, round = member.Round ?? 0;
        SweepScore Failed(string why) => new(trial, round, member.Job, double.NaN, double.NaN, double.NaN, 0, 0, why);
        if (member.Skipped is { } skipped) return Failed($"skipped: {skipped}");
        if (job is null) return Failed("its job is gone");
        if (job.State != JobState.Succeeded) return Failed(job.State == JobState.Cancelled ? "cancelled" : job.Reason ?? job.State.ToString().ToLowerInvariant());
        if (job.Validation is not { } v) return Failed("its validation figures are unknown (it ran without evaluation)");
        return new SweepScore(trial, round, job.Id, v.Mase, v.NaiveMase, job.TestMase, v.EpochsRun, v.BestEpoch, null);
    }

    public static TrialOutcome Outcome(SweepScore s) => new(s.ValidationMase, s.TestMase, s.EpochsRun, s.BestEpoch)
    {
        Error = s.Error,
        Handle = s.Job,
        NaiveValidationMase = s.NaiveValidationMase,
    };

    /// <summary>The leaderboard over every trial's last score (as <see cref="Sweep.RunAsync"/> ranks it).</summary>
    public static SweepResult ResultOf(SweepRecord sweep, SweepPlan plan)
    {
        var last = sweep.Scores.GroupBy(s => s.Trial).Select(g => g.MaxBy(s => s.Round)!)
            .Select(s => (plan.Trials[s.Trial - 1], plan.Rounds[s.Round - 1], Outcome(s)));
        return new SweepResult(plan.Rounds, Sweep.Rank(last));
    }

    /// <summary>
    /// A sweep group's status: each member's trial, round and validation MASE (<paramref name="validationMaseOf"/> a job id;
    /// NaN when it has none yet), and the rounds and leaderboard so far (without them when <paramref name="plan"/> is null).
    /// </summary>
    public static GroupStatus Status(GroupRecord group, GroupStatus status, SweepPlan? plan, Func<string, double> validationMaseOf)
    {
        if (group.Sweep is not { } sweep) return status;
        var members = status.Members.Select((m, i) =>
        {
            var record = group.Members[i];
            double validation = record.Job is { } job ? validationMaseOf(job) : double.NaN;
            return m with { Trial = record.Trial, Round = record.Round, ValidationMase = validation };
        }).ToArray();
        if (plan is null) return status with { Members = members };
        var result = ResultOf(sweep, plan);
        var training = group.Members.Where(m => m.Round == sweep.Round).Select(m => m.Trial).ToHashSet();
        int lastRound = plan.Rounds[^1].Number;
        var board = result.Leaderboard.Select(e =>
        {
            string state = group.State == JobState.Succeeded ? SweepReport.Status(e, lastRound)
                : e.Outcome.Error is { } error ? SweepReport.Status(e, lastRound)
                : !group.Ended && e.Round.Number < sweep.Round && training.Contains(e.Trial.Number) ? $"in round {sweep.Round}"
                : e.Round.Number < lastRound ? $"out in round {e.Round.Number}" : "last round";
            return new SweepTrialStatus(e.Rank, e.Trial.Number, [.. e.Trial.Parameters.Select(p => p.Value)], e.Round.Number, e.Round.Epochs,
                e.Outcome.EpochsRun, e.Outcome.BestEpoch, e.Outcome.ValidationMase, e.Outcome.NaiveValidationMase, e.Outcome.TestMase,
                e.Outcome.Handle as string, e.Outcome.Error, state);
        }).ToArray();
        string? best = group.State == JobState.Succeeded && result.Leaderboard.Count > 0 ? result.Best.Outcome.Handle as string : null;
        return status with
        {
            Members = members,
            Sweep = new SweepStatus(sweep.Round, sweep.Request.Eta, [.. plan.Grid.Parameters.Select(p => new SweepParameterStatus(p.Name, [.. p.Values]))],
                [.. plan.Rounds.Select(r => new SweepRoundStatus(r.Number, r.Trials, r.Epochs))], board, best, plan.Trials.Count),
        };
    }
}
