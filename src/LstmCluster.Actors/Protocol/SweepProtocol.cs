using LstmCluster.Core.Configuration;
using LstmCluster.Core.Sweeps;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Protocol;

/// <summary>
/// A sweep's grid and its successive-halving plan as submitted (<c>lstmcluster sweep --grid ... --eta --min-epochs --max-epochs
/// --max-trials</c>): checked by <see cref="Parse"/>, the same checks and messages as the in-process sweep.
/// </summary>
public sealed record SweepRequest(string[] Grid, int Eta = 3, int MinEpochs = 2, int FinalEpochs = 50, int MaxTrials = SweepGrid.DefaultMaxTrials)
{
    public SuccessiveHalving Halving() => new(Eta, FinalEpochs, MinEpochs);

    /// <summary>The plan and the grid, checked against <paramref name="values"/>; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public SweepGrid Parse(RunOptionValues values)
    {
        Halving().Validate();
        return SweepGrid.Parse(Grid, values, MaxTrials);
    }
}

/// <summary>
/// A sweep over the cluster (<c>POST /sweeps</c>): every combination of <paramref name="Sweep"/>'s grid over
/// <paramref name="Values"/> is a trial, each trial of each successive-halving round a member job of one job group
/// (<c>group-N</c>, strategy <c>sweep</c>) that the coordinator schedules, scores (validation MASE) and promotes itself. The
/// data is <paramref name="Values"/>' file, or <paramref name="CsvText"/> when given (the path is then only a label). The
/// sender gets <see cref="JobAccepted"/> with the group's id or <see cref="JobRejected"/>; the group's status is a
/// <see cref="GroupStatus"/> with its <see cref="GroupStatus.Sweep"/>.
/// </summary>
public sealed record SubmitSweep(RunOptionValues Values, SweepRequest Sweep, string? CsvText = null, int Priority = 0, int? Workers = null,
    TrainingMode? Mode = null, int? Staleness = null, int? SyncPeriod = null, BatchSampling? Sampling = null, string? Owner = null) : IJobMessage;

/// <summary>Every job group the coordinator knows (answered with <see cref="GroupList"/>), newest first.</summary>
public sealed record ListGroups : IJobMessage
{
    public static ListGroups Instance { get; } = new();
    private ListGroups() { }
}

public sealed record GroupList(GroupStatus[] Groups) : IJobMessage;

/// <summary>One round of a sweep: how many trials train in it and for how many epochs.</summary>
public sealed record SweepRoundStatus(int Round, int Trials, int Epochs);

/// <summary>A swept option and its values.</summary>
public sealed record SweepParameterStatus(string Name, string[] Values);

/// <summary>
/// A trial on the leaderboard: the last round it was scored in and how, <paramref name="Values"/> in the order of
/// <see cref="SweepStatus.Parameters"/>; <paramref name="Job"/> is the member job of that round.
/// </summary>
public sealed record SweepTrialStatus(int Rank, int Trial, string[] Values, int Round, int EpochsPlanned, int EpochsRun, int BestEpoch,
    double ValidationMase, double NaiveValidationMase, double TestMase, string? Job, string? Error, string Status);

/// <summary>
/// Where a sweep group stands: the round being trained (<paramref name="Round"/> of <see cref="Rounds"/>), and the leaderboard
/// of every trial scored so far, ranked as <see cref="Core.Sweeps.Sweep.Rank"/> ranks (later round first, then validation
/// MASE). Once the group succeeded, <paramref name="Best"/> names the best trial's job, whose files (model included) are the
/// group's too.
/// </summary>
public sealed record SweepStatus(int Round, int Eta, SweepParameterStatus[] Parameters, SweepRoundStatus[] Rounds, SweepTrialStatus[] Leaderboard,
    string? Best, int Trials);
