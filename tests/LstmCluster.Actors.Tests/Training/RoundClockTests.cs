using LstmCluster.Actors.Training;

namespace LstmCluster.Actors.Tests.Training;

public sealed class RoundClockTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void Nothing_recorded_gives_no_summary() => Assert.Null(new RoundClock().Summary());

    [Fact]
    public void Each_part_is_the_median_of_its_own_column_and_the_hand_over_is_the_round_outside_the_slowest_compute()
    {
        var clock = new RoundClock();
        clock.Record(Ms(10), Ms(8), Ms(1));     // hand-over 2
        clock.Record(Ms(12), Ms(11.5), Ms(3));  // 0.5
        clock.Record(Ms(30), Ms(9), Ms(2));     // 21: a round the server's validation held up
        var t = clock.Summary()!;
        Assert.Equal(3, t.Measured);
        Assert.Equal(12, t.Round.TotalMilliseconds, 6);
        Assert.Equal(9, t.Compute.TotalMilliseconds, 6);
        Assert.Equal(2, t.HandOver.TotalMilliseconds, 6);
        Assert.Equal(2, t.ServerStep.TotalMilliseconds, 6);
    }

    [Fact]
    public void A_compute_longer_than_its_round_counts_as_the_whole_round_and_no_hand_over()
    {
        var clock = new RoundClock();
        clock.Record(Ms(5), Ms(7), Ms(1));
        clock.Record(Ms(5), TimeSpan.FromTicks(-3), Ms(1));
        var t = clock.Summary()!;
        // (5 + 0) / 2 for the compute, (0 + 5) / 2 for the hand-over.
        Assert.Equal(2.5, t.Compute.TotalMilliseconds, 6);
        Assert.Equal(2.5, t.HandOver.TotalMilliseconds, 6);
    }

    [Fact]
    public void Only_the_last_rounds_count_so_a_long_jobs_early_rounds_drop_out()
    {
        var clock = new RoundClock();
        for (int i = 0; i < RoundClock.Capacity; i++) clock.Record(Ms(100), Ms(90), Ms(5));   // slow start-up rounds
        for (int i = 0; i < RoundClock.Capacity; i++) clock.Record(Ms(10), Ms(9), Ms(1));
        var t = clock.Summary()!;
        Assert.Equal(2L * RoundClock.Capacity, clock.Recorded);
        Assert.Equal(RoundClock.Capacity, t.Measured);
        Assert.Equal((10.0, 9.0, 1.0, 1.0), (Math.Round(t.Round.TotalMilliseconds, 6), Math.Round(t.Compute.TotalMilliseconds, 6),
            Math.Round(t.HandOver.TotalMilliseconds, 6), Math.Round(t.ServerStep.TotalMilliseconds, 6)));
    }
}
