using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Training;

public sealed class BatchPlanTests
{
    [Theory]
    [InlineData(103, 16)]
    [InlineData(96, 16)]
    [InlineData(10, 4)]
    public void Global_sampling_gives_the_one_shard_batches_whatever_the_number_of_shards(int windows, int batch)
    {
        var single = new BatchPlan(windows, 1, batch, seed: 9);
        for (int k = 1; k <= 4; k++)
        {
            var plan = new BatchPlan(windows, k, batch, seed: 9, BatchSampling.Global);
            Assert.Equal(single.StepsPerEpoch, plan.StepsPerEpoch);
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                var singleOrder = single.EpochOrder(0, epoch);
                Assert.Equal(singleOrder, plan.GlobalOrder(epoch));
                var orders = Enumerable.Range(0, k).Select(s => plan.WalkOrder(s, epoch)).ToArray();
                for (int step = 0; step < plan.StepsPerEpoch; step++)
                {
                    var expected = single.Slice(singleOrder, step);
                    var parts = Enumerable.Range(0, k).Select(s => plan.Part(s, orders[s], step)).ToArray();
                    // The parts partition the one-shard batch, each within its own shard.
                    Assert.Equal(expected.Order(), parts.SelectMany(p => p).Order());
                    for (int s = 0; s < k; s++) Assert.All(parts[s], i => Assert.Contains(i, plan.Shard(s)));
                }
            }
        }
    }

    [Theory]
    [InlineData(103, 16)]
    [InlineData(96, 16)]
    [InlineData(10, 4)]
    public void Global_sliced_sampling_cuts_the_one_shard_batches_into_even_slices_in_order(int windows, int batch)
    {
        var single = new BatchPlan(windows, 1, batch, seed: 9);
        for (int k = 1; k <= 4; k++)
        {
            var plan = new BatchPlan(windows, k, batch, seed: 9, BatchSampling.GlobalSliced);
            Assert.True(plan.IsGlobal);
            Assert.Equal(single.StepsPerEpoch, plan.StepsPerEpoch);
            // Every shard holds every window: any worker can compute any slice.
            for (int s = 0; s < k; s++) Assert.Equal(Enumerable.Range(0, windows), plan.Shard(s));
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                var singleOrder = single.EpochOrder(0, epoch);
                for (int step = 0; step < plan.StepsPerEpoch; step++)
                {
                    var parts = Enumerable.Range(0, k).Select(s => plan.Part(s, plan.WalkOrder(s, epoch), step)).ToArray();
                    // The slices, one after the other, are the one-shard batch itself (same windows, same order) ...
                    Assert.Equal(single.Slice(singleOrder, step), parts.SelectMany(p => p));
                    // ... and no worker computes more than one window over another's share.
                    Assert.True(parts.Max(p => p.Length) - parts.Min(p => p.Length) <= 1,
                        $"K = {k}, step {step}: slices of {string.Join(", ", parts.Select(p => p.Length))}");
                }
            }
        }
    }

    [Fact]
    public void Global_sampling_walks_every_window_once_per_epoch_and_reshuffles_each_epoch()
    {
        var plan = new BatchPlan(103, 3, 16, seed: 4, BatchSampling.Global);
        var first = plan.GlobalOrder(1);
        var batches = Enumerable.Range(0, plan.StepsPerEpoch).SelectMany(s => plan.GlobalBatch(first, s)).ToArray();
        Assert.Equal(Enumerable.Range(0, 103), batches.Order());
        Assert.Equal(7, plan.StepsPerEpoch);
        Assert.NotEqual(first, plan.GlobalOrder(2));
        Assert.NotEqual(first, new BatchPlan(103, 3, 16, seed: 5, BatchSampling.Global).GlobalOrder(1));
    }

    [Fact]
    public void Shard_local_sampling_depends_on_the_number_of_shards()
    {
        var two = new BatchPlan(103, 2, 16, seed: 9);
        var one = new BatchPlan(103, 1, 16, seed: 9);
        var first = Enumerable.Range(0, 2).SelectMany(s => two.Part(s, two.WalkOrder(s, 1), 0)).Order();
        Assert.NotEqual(one.Slice(one.EpochOrder(0, 1), 0).Order(), first);
    }
}
