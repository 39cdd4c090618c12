using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The models <c>POST /models/{id}/forecast</c> serves, loaded once and kept in memory, the least recently used dropped
/// beyond <see cref="Capacity"/>. A model is its job's: a job id names one model for ever (ids are never reused), so an
/// entry never goes stale. Concurrent first requests for one model load it once.
/// </summary>
public sealed class ModelCache(int capacity) : IDisposable
{
    private readonly object gate = new();
    private readonly Dictionary<string, LinkedListNode<ServedModel>> entries = new(StringComparer.Ordinal);
    private readonly LinkedList<ServedModel> recency = new();
    private readonly Dictionary<string, Task<ServedModel>> loading = new(StringComparer.Ordinal);
    private long hits, misses;

    public int Capacity { get; } = capacity >= 1 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), "at least one model");

    public long Hits => Interlocked.Read(ref hits);

    public long Misses => Interlocked.Read(ref misses);

    public int Count
    {
        get { lock (gate) return entries.Count; }
    }

    /// <summary>The model of job <paramref name="id"/>, from memory or through <paramref name="load"/> (then kept).</summary>
    public async Task<(ServedModel Model, bool Hit)> Get(string id, Func<Task<StoredModel>> load)
    {
        Task<ServedModel> pending;
        lock (gate)
        {
            if (entries.TryGetValue(id, out var node))
            {
                recency.Remove(node);
                recency.AddFirst(node);
                Interlocked.Increment(ref hits);
                return (node.Value, true);
            }
            if (!loading.TryGetValue(id, out pending!))
            {
                Interlocked.Increment(ref misses);
                pending = Load(id, load);
                loading[id] = pending;
            }
        }
        return (await pending, false);
    }

    private async Task<ServedModel> Load(string id, Func<Task<StoredModel>> load)
    {
        try
        {
            var stored = await load();
            var served = new ServedModel(id, stored);
            ServedModel? evicted = null;
            lock (gate)
            {
                entries[id] = recency.AddFirst(served);
                if (entries.Count > Capacity)
                {
                    var last = recency.Last!;
                    recency.RemoveLast();
                    entries.Remove(last.Value.Id);
                    evicted = last.Value;
                }
            }
            evicted?.Dispose();
            return served;
        }
        finally
        {
            lock (gate) loading.Remove(id);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var m in recency) m.Dispose();
            recency.Clear();
            entries.Clear();
        }
    }
}

/// <summary>
/// One served model: its files as stored and up to one network per core built from them. A network is a libtorch module
/// with its own buffers, used by one forward pass at a time; with one per core, concurrent requests on a multi-core node
/// run side by side instead of queueing behind a single lock.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly object gate = new();
    private readonly Stack<ModelNetworks> idle = new();
    private readonly SemaphoreSlim slots;
    private bool disposed;

    public ServedModel(string id, StoredModel stored, int replicas = 0)
    {
        Id = id;
        Stored = stored;
        Replicas = replicas > 0 ? replicas : Environment.ProcessorCount;
        slots = new SemaphoreSlim(Replicas, Replicas);
        // The first network now: a model whose files cannot be built fails its load, not its first request.
        idle.Push(ModelNetworks.Build(stored));
    }

    public string Id { get; }

    public StoredModel Stored { get; }

    /// <summary>Networks built at most (the node's cores unless told).</summary>
    public int Replicas { get; }

    /// <summary>
    /// The next H values after the last row of <paramref name="series"/>; null when the model was dropped from the cache
    /// meanwhile (the caller loads it again).
    /// </summary>
    public IReadOnlyList<ForecastPoint>? Forecast(TimeSeries series)
    {
        slots.Wait();
        ModelNetworks? network = null;
        try
        {
            lock (gate)
            {
                if (disposed) return null;
                if (!idle.TryPop(out network)) network = ModelNetworks.Build(Stored);
            }
            return network.Forecast(series);
        }
        finally
        {
            if (network is not null)
            {
                bool keep;
                lock (gate)
                {
                    keep = !disposed;
                    if (keep) idle.Push(network);
                }
                if (!keep) network.Dispose();
            }
            slots.Release();
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            // Networks in use are disposed by their request when it hands them back.
            while (idle.TryPop(out var network)) network.Dispose();
        }
    }
}
