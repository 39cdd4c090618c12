namespace LstmCluster.Contracts;

/// <summary>One member of a job group as the API shows it.</summary>
/// <remarks>A sweep's member (<c>symbol</c> is then <c>r{round} #{trial} {parameters}</c>) also names its trial, round and validation MASE.</remarks>
public sealed record GroupMemberView(string Symbol, string? Job, string State, int Epoch, int Epochs, double? TestMase, string? Reason,
    int? Trial = null, int? Round = null, double? ValidationMase = null);

/// <summary>
/// A job group (<c>POST /jobs</c> with <c>symbol=all</c> or a list): its aggregate state, counts of members by state, its
/// progress (0 to 1) and every member. Its files (summary.json, series.csv, forecast.csv, grid.png) are at
/// <c>/groups/{id}/files/{name}</c> once it ended; each member's own at <c>/jobs/{job}/...</c>.
/// </summary>
public sealed record GroupView(string Id, string State, string Strategy, string? Reason, string? Data, string? Target, string? Owner,
    DateTimeOffset? Submitted, DateTimeOffset? Finished, int Series, int Queued, int Running, int Succeeded, int Failed, int Cancelled,
    double Progress, GroupMemberView[] Members, SweepView? Sweep = null);

/// <summary>Every job group, newest first (<c>GET /groups</c>).</summary>
public sealed record GroupListView(IReadOnlyList<GroupView> Groups);

/// <summary>One round of a sweep's successive halving: trials trained in it and the epochs each.</summary>
public sealed record SweepRoundView(int Round, int Trials, int Epochs);

/// <summary>A swept option and its values, in grid order.</summary>
public sealed record SweepParameterView(string Name, IReadOnlyList<string> Values);

/// <summary>
/// A trial on a sweep's leaderboard: its values (by parameter name), the last round it was scored in, its validation MASE
/// (what ranks it) beside naive's, its test MASE (shown, never used to choose), the member job of that round, and its status
/// (best, last round, out in round N, in round N, failed: why).
/// </summary>
public sealed record SweepTrialView(int Rank, int Trial, IReadOnlyDictionary<string, string> Parameters, int Round, int EpochsPlanned, int EpochsRun,
    int BestEpoch, double? ValidationMase, double? NaiveValidationMase, double? TestMase, string? Job, string? Error, string Status);

/// <summary>
/// A sweep group (<c>POST /sweeps</c>): the round being trained of <see cref="Rounds"/>, the leaderboard of every trial scored
/// so far, and once it succeeded <see cref="Best"/>, the best trial's job: its files (model included) are the group's too, so
/// <c>POST /models/{group}/forecast</c> and <c>/jobs/{group}/model</c> serve the best model.
/// </summary>
public sealed record SweepView(int Round, int Eta, int Trials, IReadOnlyList<SweepParameterView> Parameters, IReadOnlyList<SweepRoundView> Rounds,
    IReadOnlyList<SweepTrialView> Leaderboard, string? Best);
