using LstmCluster.Core.Configuration;
using LstmCluster.Core.Sweeps;

namespace LstmCluster.Core.Tests.Sweeps;

/// <summary>The grid a sweep reads, the rounds of successive halving, and which trials each round keeps.</summary>
public sealed class SweepTests
{
    private static readonly RunOptionValues Base = new() { Data = "x.csv", Target = "value" };

    [Fact]
    public void A_grid_is_every_combination_the_last_parameter_fastest()
    {
        var grid = SweepGrid.Parse(["hidden=32,64", "lookback=24,48 lr=1e-3,3e-3"], Base);
        Assert.Equal(8, grid.Count);
        var trials = grid.Trials();
        Assert.Equal(["hidden=32 lookback=24 lr=1e-3", "hidden=32 lookback=24 lr=3e-3", "hidden=32 lookback=48 lr=1e-3"],
            trials.Take(3).Select(t => t.Label));
        Assert.Equal("hidden=64 lookback=48 lr=3e-3", trials[^1].Label);
        Assert.Equal(Enumerable.Range(1, 8), trials.Select(t => t.Number));
        var applied = trials[^1].Apply(Base);
        Assert.Equal((64, 48, 3e-3), (applied.Hidden, applied.Lookback, applied.Lr));
        Assert.Equal(8, trials.Select(t => t.Label).Distinct().Count());
    }

    [Theory]
    [InlineData("hiden=8,16", "unknown parameter 'hiden'; these can be swept: lookback, hidden")]
    [InlineData("epochs=5,10", "epochs cannot be swept: the sweep gives each trial its epochs")]
    [InlineData("target=a,b", "target cannot be swept: it chooses the data")]
    [InlineData("hidden", "'hidden' is not name=value,value")]
    [InlineData("hidden=8,,16", "hidden has an empty value")]
    [InlineData("hidden=8,8", "hidden lists 8 twice")]
    [InlineData("hidden=0,8", "grid: hidden=0: hidden size must be between 1 and 4096 (got 0)")]
    [InlineData("optimizer=adam,rmsprop", "grid: optimizer=rmsprop:")]
    [InlineData("lr=1e-3 lr=3e-3", "lr is given twice")]
    public void A_bad_grid_is_refused_saying_what_is_wrong(string grid, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => SweepGrid.Parse([grid], Base));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_grid_over_the_trial_limit_is_refused_with_its_size()
    {
        var e = Assert.Throws<ArgumentException>(() => SweepGrid.Parse(["hidden=8,16,32,64 lookback=4,8,12,16,20 lr=1e-3,2e-3,3e-3,4e-3"], Base));
        Assert.Equal("grid: 80 combinations (hidden 4 × lookback 5 × lr 4) is over the limit of 64 (--max-trials, at most 1024): sweep fewer values", e.Message);
        Assert.Equal(80, SweepGrid.Parse(["hidden=8,16,32,64 lookback=4,8,12,16,20 lr=1e-3,2e-3,3e-3,4e-3"], Base, maxTrials: 100).Count);
        Assert.Throws<ArgumentException>(() => SweepGrid.Parse(["hidden=8"], Base, maxTrials: 5000));
    }

    [Theory]
    [InlineData(27, 3, 54, 2, "27x2 9x6 3x18 1x54")]
    [InlineData(8, 3, 45, 2, "8x5 3x15 1x45")]
    [InlineData(8, 2, 40, 2, "8x5 4x10 2x20 1x40")]
    [InlineData(1, 3, 30, 2, "1x30")]
    [InlineData(27, 3, 6, 2, "27x2 1x6")] // rounds held at --min-epochs would train the same again: one round decides for them
    public void Each_round_keeps_a_third_and_trains_three_times_longer_the_last_to_max_epochs(int trials, int eta, int max, int min, string expected)
    {
        var rounds = new SuccessiveHalving(eta, max, min).Rounds(trials);
        Assert.Equal(expected, string.Join(" ", rounds.Select(r => $"{r.Trials}x{r.Epochs}")));
        Assert.Equal(Enumerable.Range(1, rounds.Count), rounds.Select(r => r.Number));
    }

    [Fact]
    public async Task Hopeless_trials_stop_after_the_first_round_and_the_best_by_validation_wins_whatever_the_test_says()
    {
        var trials = SweepGrid.Parse(["hidden=4,8,16 lr=1e-3,1e-2,1e-1"], Base).Trials();
        var trained = new List<(int Trial, int Epochs)>();
        // Validation falls with hidden and with epochs; the test split says the opposite, and must not matter.
        TrialRunner runner = (trial, round, _) =>
        {
            lock (trained) trained.Add((trial.Number, round.Epochs));
            var v = trial.Apply(Base);
            if (v.Lr == 1e-1) throw new InvalidOperationException("diverged");
            double validation = 1.0 / v.Hidden + 1.0 / round.Epochs + v.Lr;
            return Task.FromResult(new TrialOutcome(validation, 1 - validation, round.Epochs, round.Epochs));
        };
        var seen = new List<string>();
        var result = await Sweep.RunAsync(trials, new SuccessiveHalving(3, 27, 1), runner, parallel: 2,
            (round, trial, outcome) => { lock (seen) seen.Add($"{round.Number}:{trial.Number}:{outcome.Error}"); }, CancellationToken.None);

        Assert.Equal("9x3 3x9 1x27", string.Join(" ", result.Rounds.Select(r => $"{r.Trials}x{r.Epochs}")));
        Assert.Equal(9 + 3 + 1, trained.Count);
        Assert.Equal(13, seen.Count);
        // Round 2: the three with the lowest validation (hidden 16 at lr 1e-3 and 1e-2, hidden 8 at 1e-3); round 3: the best of them.
        Assert.Equal([4, 7, 8], trained.Where(t => t.Epochs == 9).Select(t => t.Trial).Order());
        Assert.Equal([(7, 27)], trained.Where(t => t.Epochs == 27));
        var best = result.Best;
        Assert.Equal("hidden=16 lr=1e-3", best.Trial.Label);
        Assert.Equal(3, best.Round.Number);
        Assert.Equal(result.Leaderboard.Select(e => e.Rank), Enumerable.Range(1, 9));
        // The diverged trials keep their reason and rank last.
        Assert.All(result.Leaderboard.TakeLast(3), e => Assert.Equal("diverged", e.Outcome.Error));
    }

    [Fact]
    public async Task Every_trial_failing_leaves_a_leaderboard_of_reasons()
    {
        var trials = SweepGrid.Parse(["hidden=4,8"], Base).Trials();
        var result = await Sweep.RunAsync(trials, new SuccessiveHalving(3, 4, 1), (_, _, _) => throw new InvalidOperationException("window does not fit"), 1, null, CancellationToken.None);
        Assert.All(result.Leaderboard, e => Assert.Equal("window does not fit", e.Outcome.Error));
        Assert.Equal(double.PositiveInfinity, result.Best.Outcome.RankKey);
    }
}
