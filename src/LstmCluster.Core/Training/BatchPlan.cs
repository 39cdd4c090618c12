namespace LstmCluster.Core.Training;

/// <summary>How the windows of a step's global batch are chosen (see <see cref="BatchPlan"/>).</summary>
public enum BatchSampling
{
    /// <summary>Every epoch all windows are shuffled with (seed, epoch) alone; the global batch does not depend on K.</summary>
    Global,

    /// <summary>Every epoch each shard is shuffled on its own; the global batch is the union of one slice per shard, so it depends on K.</summary>
    ShardLocal,

    /// <summary>
    /// The global batches of <see cref="Global"/>, but every worker holds every window and computes an even slice of each
    /// batch (B/K, the sizes differing by at most one): the same model for any K without global sampling's per-round
    /// imbalance, at the cost of sending every worker the whole training split.
    /// </summary>
    GlobalSliced,
}

/// <summary>
/// Which training windows go into each step, for K shards (workers). The training windows are
/// dealt round-robin into K disjoint shards (window i belongs to shard i mod K).
/// <para>
/// <see cref="BatchSampling.Global"/>: every epoch all windows are shuffled with a seed derived from
/// (job seed, epoch) alone and step s takes the s-th run of B windows (the last step what remains);
/// each shard computes the members of that batch that lie in it (its <see cref="Part"/>, about B/K,
/// varying a little from step to step). The sequence of global batches is the one the 1-shard plan
/// gives, whatever K, so K synchronous workers take the optimizer steps of the single-process
/// reference trainer (<c>shards: 1</c>).
/// </para>
/// <para>
/// <see cref="BatchSampling.ShardLocal"/>: every epoch each shard is reshuffled with a seed derived
/// from (job seed, epoch, shard); step s takes slice s of every shard, B/K windows each (the last
/// slice of an epoch takes what remains). The global batch of a step is the union of its K slices,
/// which the reference trainer reproduces only when run with the same K (<c>shards: K</c>).
/// </para>
/// <para>
/// <see cref="BatchSampling.GlobalSliced"/>: the global batches of <see cref="BatchSampling.Global"/>; every shard is every
/// window, and shard k computes the k-th of K even slices of each batch (its <see cref="Part"/>), so a round waits for
/// B/K windows per worker, never for a larger share.
/// </para>
/// With one shard every sampling gives the same batches.
/// </summary>
public sealed class BatchPlan
{
    private readonly int[][] shards;
    private readonly int windowCount;
    private readonly int globalBatchSize;

    public BatchPlan(int windowCount, int shardCount, int globalBatchSize, long seed, BatchSampling sampling = BatchSampling.ShardLocal)
    {
        if (windowCount < 1) throw new ArgumentException("no training windows");
        if (shardCount < 1) throw new ArgumentException($"shard count must be at least 1 (got {shardCount})");
        if (shardCount > windowCount)
            throw new ArgumentException($"{shardCount} workers but only {windowCount} training windows: use at most {windowCount} workers");
        if (globalBatchSize < shardCount)
            throw new ArgumentException($"batch size {globalBatchSize} is smaller than the {shardCount} workers sharing it");
        Seed = seed;
        Sampling = sampling;
        this.windowCount = windowCount;
        this.globalBatchSize = globalBatchSize;
        shards = sampling == BatchSampling.GlobalSliced
            ? Enumerable.Repeat(Enumerable.Range(0, windowCount).ToArray(), shardCount).ToArray()
            : Split(windowCount, shardCount);
        PerShardBatch = globalBatchSize / shardCount;
        StepsPerEpoch = IsGlobal
            ? Math.Max(1, (int)Math.Ceiling(windowCount / (double)globalBatchSize))
            : Math.Max(1, (int)Math.Ceiling(shards.Min(s => s.Length) / (double)PerShardBatch));
    }

    public long Seed { get; }
    public BatchSampling Sampling { get; }
    public int ShardCount => shards.Length;
    public int PerShardBatch { get; }
    public int StepsPerEpoch { get; }

    /// <summary>Whether the global batches come from the seed alone (<see cref="BatchSampling.Global"/> or <see cref="BatchSampling.GlobalSliced"/>), so they do not depend on K.</summary>
    public bool IsGlobal => Sampling is BatchSampling.Global or BatchSampling.GlobalSliced;

    /// <summary>Window indices of shard <paramref name="shard"/>: disjoint from every other shard, or every window with <see cref="BatchSampling.GlobalSliced"/>.</summary>
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

    /// <summary>Slice <paramref name="step"/> (0-based) of a shard's epoch order (shard-local sampling).</summary>
    public int[] Slice(int[] epochOrder, int step) => Cut(epochOrder, step, PerShardBatch);

    /// <summary>
    /// Every window in the order of the given 1-based epoch, from (seed, epoch) alone: the same for any number of
    /// shards, and the order of the one shard of a 1-shard plan.
    /// </summary>
    public int[] GlobalOrder(int epoch)
    {
        var order = Enumerable.Range(0, windowCount).ToArray();
        new Random(unchecked((int)Mix(Seed, epoch, 0))).Shuffle(order);
        return order;
    }

    /// <summary>The whole batch of <paramref name="step"/> in a <see cref="GlobalOrder"/> (global sampling).</summary>
    public int[] GlobalBatch(int[] globalOrder, int step) => Cut(globalOrder, step, globalBatchSize);

    /// <summary>
    /// The order shard <paramref name="shard"/>'s worker walks in <paramref name="epoch"/>: <see cref="GlobalOrder"/> with
    /// global sampling (the same for every shard), its own <see cref="EpochOrder"/> with shard-local sampling.
    /// </summary>
    public int[] WalkOrder(int shard, int epoch) => IsGlobal ? GlobalOrder(epoch) : EpochOrder(shard, epoch);

    /// <summary>
    /// The windows shard <paramref name="shard"/> computes at <paramref name="step"/> of a <see cref="WalkOrder"/>: the
    /// members of the global batch that lie in the shard (global sampling; possibly none), the shard-th of K even slices
    /// of the global batch (global-sliced), or the shard's slice (shard-local).
    /// </summary>
    public int[] Part(int shard, int[] walkOrder, int step)
    {
        if (Sampling == BatchSampling.ShardLocal) return Slice(walkOrder, step);
        int k = shards.Length;
        if (Sampling == BatchSampling.GlobalSliced)
        {
            var batch = GlobalBatch(walkOrder, step);
            // Slice boundaries at ⌊j·n/K⌋: sizes differ by at most one, and the K slices are the batch in its order.
            return batch[(int)((long)shard * batch.Length / k)..(int)((long)(shard + 1) * batch.Length / k)];
        }
        return k == 1 ? GlobalBatch(walkOrder, step) : Array.FindAll(GlobalBatch(walkOrder, step), i => i % k == shard);
    }

    private int[] Cut(int[] order, int step, int width)
    {
        int start = step * width;
        int end = step == StepsPerEpoch - 1 ? order.Length : Math.Min(order.Length, start + width);
        return start >= end ? [] : order[start..end];
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
