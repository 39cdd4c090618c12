using LstmCluster.Actors.Training;

namespace LstmCluster.Actors.Tests.Training;

public sealed class ContributionLedgerTests
{
    [Fact]
    public void A_round_takes_one_contribution_per_active_worker_for_the_open_version_and_names_why_it_drops_the_rest()
    {
        var ledger = new ContributionLedger(3);
        Assert.True(ledger.TakeForRound(0, contributed: 5, open: 5, active: true, alreadyIn: false));
        Assert.False(ledger.TakeForRound(0, 4, 5, active: true, alreadyIn: false));   // computed for an earlier round
        Assert.False(ledger.TakeForRound(1, 6, 5, active: true, alreadyIn: false));   // for a version not yet open
        Assert.False(ledger.TakeForRound(2, 5, 5, active: false, alreadyIn: false));  // a worker no longer in the round
        Assert.False(ledger.TakeForRound(0, 5, 5, active: true, alreadyIn: true));    // the same worker again
        Assert.Equal((1, 2, 1), (ledger.Late, ledger.Stale, ledger.Duplicates));
        Assert.Equal(0, ledger.Applied);   // taking is not applying: the round applies what it closes with
        Assert.Equal([2L, 1, 1], ledger.Figures().Select(f => f.Dropped));
    }

    [Fact]
    public void Async_takes_a_version_of_a_worker_once_and_only_within_the_staleness_bound()
    {
        var ledger = new ContributionLedger(2);
        Assert.True(ledger.FirstAsync(0, 7));
        Assert.False(ledger.FirstAsync(0, 7));
        Assert.True(ledger.FirstAsync(1, 7));                          // another worker's gradient of the same version
        Assert.True(ledger.WithinStaleness(0, contributed: 7, current: 9, staleness: 2));
        Assert.False(ledger.WithinStaleness(0, 6, 9, 2));              // three versions behind a bound of two
        Assert.False(ledger.WithinStaleness(1, 10, 9, 2));             // from a version the server never sent
        Assert.Equal((1, 2), (ledger.Duplicates, ledger.Stale));
    }

    [Fact]
    public void Forgetting_old_versions_keeps_the_recent_ones_as_duplicates()
    {
        var ledger = new ContributionLedger(1);
        for (long v = 0; v < 10; v++) Assert.True(ledger.FirstAsync(0, v));
        ledger.ForgetBefore(current: 10, staleness: 2);
        // Versions 7..9 are still within reach and so still remembered; 0..6 can never be taken again and are forgotten.
        Assert.False(ledger.FirstAsync(0, 9));
        Assert.False(ledger.FirstAsync(0, 7));
        Assert.True(ledger.FirstAsync(0, 6));
    }

    [Fact]
    public void Applied_contributions_add_up_per_worker_including_one_that_joined_later()
    {
        var ledger = new ContributionLedger(1);
        ledger.Apply(0, 32);
        ledger.AddWorker();
        ledger.Apply(1, 32);
        ledger.Apply(1, 16);
        Assert.Equal(3, ledger.Applied);
        Assert.Equal(2, ledger.Workers);
        var figures = ledger.Figures();
        Assert.Equal((0, 1L, 32L, 0L), (figures[0].Worker, figures[0].Rounds, figures[0].Samples, figures[0].Dropped));
        Assert.Equal((1, 2L, 48L, 0L), (figures[1].Worker, figures[1].Rounds, figures[1].Samples, figures[1].Dropped));
    }
}
