namespace LstmCluster.Core.Sweeps;

/// <summary>
/// How one trial's training of one round ended: its validation MASE (what ranks it), its test MASE (reported only, never
/// used to choose), the epochs it ran, or the error that stopped it. <see cref="Handle"/> is the runner's own: the trained
/// result in process, the job id on a cluster.
/// </summary>
public sealed record TrialOutcome(double ValidationMase, double TestMase, int EpochsRun, int BestEpoch)
{
    public string? Error { get; init; }
    public object? Handle { get; init; }
    /// <summary>The naive forecast's validation MASE on the same windows (the yardstick a trial is read against).</summary>
    public double NaiveValidationMase { get; init; } = double.NaN;

    public static TrialOutcome Failed(string error) => new(double.NaN, double.NaN, 0, 0) { Error = error };

    /// <summary>Ranks first by validation MASE; a failed or non-finite trial ranks last.</summary>
    public double RankKey => Error is null && double.IsFinite(ValidationMase) ? ValidationMase : double.PositiveInfinity;
}

/// <summary>Trains <paramref name="trial"/> for <paramref name="epochs"/> epochs and scores it on validation.</summary>
public delegate Task<TrialOutcome> TrialRunner(SweepTrial trial, SweepRound round, CancellationToken cancel);

/// <summary>A trial in the leaderboard: the last round it trained in and how that ended.</summary>
public sealed record LeaderboardEntry(int Rank, SweepTrial Trial, SweepRound Round, TrialOutcome Outcome);

/// <summary>The rounds a sweep ran and its leaderboard; the winner is the first entry.</summary>
public sealed record SweepResult(IReadOnlyList<SweepRound> Rounds, IReadOnlyList<LeaderboardEntry> Leaderboard)
{
    public LeaderboardEntry Best => Leaderboard[0];
}

/// <summary>Runs a grid's trials through <see cref="SuccessiveHalving"/> with a <see cref="TrialRunner"/> (in process or on a cluster).</summary>
public static class Sweep
{
    /// <param name="parallel">trials of a round trained at once (a cluster runs them on its free workers).</param>
    /// <param name="finished">called as each trial of each round ends (progress).</param>
    public static async Task<SweepResult> RunAsync(IReadOnlyList<SweepTrial> trials, SuccessiveHalving plan, TrialRunner runner, int parallel,
        Action<SweepRound, SweepTrial, TrialOutcome>? finished, CancellationToken cancel)
    {
        if (parallel < 1) throw new ArgumentException($"parallel must be at least 1 (got {parallel})");
        var rounds = plan.Rounds(trials.Count);
        var last = new Dictionary<int, (SweepRound Round, TrialOutcome Outcome)>();
        IReadOnlyList<SweepTrial> running = trials;
        using var gate = new SemaphoreSlim(parallel);
        for (int r = 0; r < rounds.Count; r++)
        {
            var round = rounds[r];
            var outcomes = await Task.WhenAll(running.Select(async trial =>
            {
                await gate.WaitAsync(cancel);
                try
                {
                    TrialOutcome outcome;
                    try
                    {
                        outcome = await runner(trial, round, cancel);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
                    {
                        // One trial failing (it diverged, its data window does not fit) costs that trial only.
                        outcome = TrialOutcome.Failed(e.GetBaseException().Message);
                    }
                    finished?.Invoke(round, trial, outcome);
                    return (trial, outcome);
                }
                finally
                {
                    gate.Release();
                }
            }));
            foreach (var (trial, outcome) in outcomes) last[trial.Number] = (round, outcome);
            if (r + 1 < rounds.Count) running = Promote(outcomes, rounds[r + 1].Trials);
        }
        return new SweepResult(rounds, Rank(trials.Select(t => (t, last[t.Number].Round, last[t.Number].Outcome))));
    }

    /// <summary>The trials of a round that go on to the next: the best <paramref name="count"/> by validation MASE (ties by trial number).</summary>
    public static IReadOnlyList<SweepTrial> Promote(IEnumerable<(SweepTrial Trial, TrialOutcome Outcome)> outcomes, int count) =>
        [.. outcomes.OrderBy(o => o.Outcome.RankKey).ThenBy(o => o.Trial.Number).Take(count).Select(o => o.Trial)];

    /// <summary>
    /// The leaderboard: trials that reached a later round first, then by validation MASE (failed last), then by trial number.
    /// Each trial appears once, with the last round it trained in.
    /// </summary>
    public static IReadOnlyList<LeaderboardEntry> Rank(IEnumerable<(SweepTrial Trial, SweepRound Round, TrialOutcome Outcome)> last) =>
        [.. last
            .OrderByDescending(e => e.Round.Number)
            .ThenBy(e => e.Outcome.RankKey)
            .ThenBy(e => e.Trial.Number)
            .Select((e, i) => new LeaderboardEntry(i + 1, e.Trial, e.Round, e.Outcome))];
}
