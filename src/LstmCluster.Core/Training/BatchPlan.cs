namespace LstmCluster.Core.Training;

/// <summary>
/// Which training windows go into each step, for K shards (workers). The training windows are
/// dealt round-robin into K disjoint shards; every epoch each shard is reshuffled with a seed
/// derived from (job seed, epoch, shard); step s takes slice s of every shard, B/K windows each
/// (the last slice of an epoch takes what remains). The global batch of a step is the union of
/// its K slices, so the single-process reference trainer, run with the same plan, computes the
/// same gradient as K synchronous workers.
/// </summary>
public sealed class BatchPlan
{
    private readonly int[][] shards;

    public BatchPlan(int windowCount, int shardCount, int globalBatchSize, long seed)
    {
        if (windowCount < 1) throw new ArgumentException("no training windows");
        if (shardCount < 1) throw new ArgumentException($"shard count must be at least 1 (got {shardCount})");
        if (shardCount > windowCount)
            throw new ArgumentException($"{shardCount} workers but only {windowCount} training windows: use at most {windowCount} workers");
        if (globalBatchSize < shardCount)
            throw new ArgumentException($"batch size {globalBatchSize} is smaller than the {shardCount} workers sharing it");
        Seed = seed;
        shards = Split(windowCount, shardCount);
        PerShardBatch = globalBatchSize / shardCount;
        StepsPerEpoch = Math.Max(1, (int)Math.Ceiling(shards.Min(s => s.Length) / (double)PerShardBatch));
    }

    public long Seed { get; }
    public int ShardCount => shards.Length;
    public int PerShardBatch { get; }
    public int StepsPerEpoch { get; }

    /// <summary>Window indices of shard <paramref name="shard"/> (disjoint from every other shard).</summary>
    public IReadOnlyList<int> Shard(int shard) => shards[shard];

    /// <summary>Round-robin split of 0..count-1 into k shards whose sizes differ by at most one.</summary>
    public static int[][] Split(int count, int k) =>
        Enumerable.Range(0, k).Select(s => Enumerable.Range(0, count).Where(i => i % k == s).ToArray()).ToArray();

    /// <summary>The shard's windows in the order of the given 1-based epoch.</summary>
    public int[] EpochOrder(int shard, int epoch)
    {
        var order = (int[])shards[shard].Clone();
        // System.Random with an explicit seed is a fixed algorithm: same order on every run and node.
        var rng = new Random(unchecked((int)Mix(Seed, epoch, shard)));
        rng.Shuffle(order);
        return order;
    }

    /// <summary>Slice <paramref name="step"/> (0-based) of a shard's epoch order.</summary>
    public int[] Slice(int[] epochOrder, int step)
    {
        int start = step * PerShardBatch;
        int end = step == StepsPerEpoch - 1 ? epochOrder.Length : Math.Min(epochOrder.Length, start + PerShardBatch);
        return start >= end ? [] : epochOrder[start..end];
    }

    private static long Mix(long seed, int epoch, int shard)
    {
        unchecked
        {
            ulong h = (ulong)seed * 0x9E3779B97F4A7C15UL;
            h ^= (ulong)epoch * 0xBF58476D1CE4E5B9UL;
            h ^= (ulong)shard * 0x94D049BB133111EBUL;
            h ^= h >> 31;
            return (long)(h & 0x7FFFFFFF);
        }
    }
}
