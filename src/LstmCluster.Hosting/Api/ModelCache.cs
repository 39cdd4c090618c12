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

/// <summary>One served model: its files as stored and the network built from them, used by one request at a time.</summary>
public sealed class ServedModel(string id, StoredModel stored) : IDisposable
{
    private readonly object gate = new();
    private readonly ForecastModel model = stored.Build();
    private bool disposed;

    public string Id { get; } = id;

    public StoredModel Stored { get; } = stored;

    /// <summary>
    /// The next H values after the last row of <paramref name="series"/>; null when the model was dropped from the cache
    /// meanwhile (the caller loads it again). One forward pass at a time: a model is a libtorch module with its own buffers.
    /// </summary>
    public IReadOnlyList<ForecastPoint>? Forecast(TimeSeries series)
    {
        lock (gate)
        {
            if (disposed) return null;
            return ForecastRun.Forecast(model, Stored.Preprocessor, series);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            model.Dispose();
        }
    }
}
