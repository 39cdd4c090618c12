using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Telemetry;

/// <summary>
/// The product's own instruments (<see cref="System.Diagnostics.Metrics"/>, meter <see cref="MeterName"/>): what the
/// parameter servers, the serializer and the coordinator of this process do. The node exports them with OpenTelemetry
/// (Prometheus text at <c>/metrics</c>: a counter <c>lstmcluster.rounds</c> is scraped as <c>lstmcluster_rounds_total</c>).
/// Recording costs a few nanoseconds when nothing listens, so the actors record unconditionally.
/// </summary>
public static class ClusterMetrics
{
    public const string MeterName = "LstmCluster";

    private static readonly Meter Meter = new(MeterName, typeof(ClusterMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> Rounds = Meter.CreateCounter<long>("lstmcluster.rounds", "{round}",
        "Training rounds the parameter servers of this node closed (a step of the optimizer, or an applied async gradient)");

    private static readonly Counter<long> Samples = Meter.CreateCounter<long>("lstmcluster.samples", "{sample}",
        "Training samples (windows) whose gradients the parameter servers of this node applied");

    private static readonly Histogram<double> RoundDuration = Meter.CreateHistogram<double>("lstmcluster.round.duration", "s",
        "Time from a round's opening (weights sent) to its close (every gradient in and averaged), sync rounds",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] });

    private static readonly Histogram<double> RoundHandOver = Meter.CreateHistogram<double>("lstmcluster.round.hand_over", "s",
        "Part of a sync or local-SGD round outside its slowest worker's compute: the weights' and gradients' ways (serialization, " +
        "network, mailboxes, thread wake-ups)",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] });

    private static readonly Counter<long> Dropped = Meter.CreateCounter<long>("lstmcluster.gradients.dropped", "{gradient}",
        "Gradients a parameter server dropped: late (an older round), stale (a newer round or an inactive worker), duplicate");

    private static readonly Counter<double> ServerBusy = Meter.CreateCounter<double>("lstmcluster.parameter_server.busy", "s",
        "Time the parameter servers of this node spent averaging gradients and stepping the optimizer");

    private static readonly Counter<long> Checkpoints = Meter.CreateCounter<long>("lstmcluster.checkpoints", "{checkpoint}",
        "Training checkpoints the parameter servers of this node took");

    private static readonly Counter<long> WireBytes = Meter.CreateCounter<long>("lstmcluster.wire", "By",
        "Bytes of the product's messages serialized (direction=sent) and deserialized (direction=received) by this node, by message kind");

    /// <summary>What each coordinator of this process last published: jobs by state and the queue's length.</summary>
    private static readonly ConcurrentDictionary<string, JobCounts> Coordinators = new();

    static ClusterMetrics()
    {
        Meter.CreateObservableGauge("lstmcluster.jobs", ObserveJobs, "{job}", "Jobs the coordinator holds, by state");
        Meter.CreateObservableGauge("lstmcluster.queue.length", () => Coordinators.Values.Sum(c => (long)c.Queued), "{job}",
            "Jobs waiting for workers or a slot");
    }

    /// <param name="opened">A sync or local-SGD round's time from its weights going out to its step done; null for an async gradient.</param>
    /// <param name="handOver">The part of it outside the slowest worker's compute and before the step (<see cref="RoundTimes.HandOver"/>).</param>
    public static void RoundClosed(TimeSpan? opened, long samples, TimeSpan? handOver = null)
    {
        Rounds.Add(1);
        if (samples > 0) Samples.Add(samples);
        if (opened is { } duration) RoundDuration.Record(duration.TotalSeconds);
        if (handOver is { } way) RoundHandOver.Record(way.TotalSeconds);
    }

    /// <summary>One dropped gradient; <paramref name="reason"/> is <c>late</c>, <c>stale</c> or <c>duplicate</c>.</summary>
    public static void GradientDropped(string reason) => Dropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public static void ServerWork(TimeSpan busy) => ServerBusy.Add(busy.TotalSeconds);

    public static void CheckpointTaken() => Checkpoints.Add(1);

    public static void Serialized(string kind, long bytes) =>
        WireBytes.Add(bytes, new KeyValuePair<string, object?>("direction", "sent"), new KeyValuePair<string, object?>("message", kind));

    public static void Deserialized(string kind, long bytes) =>
        WireBytes.Add(bytes, new KeyValuePair<string, object?>("direction", "received"), new KeyValuePair<string, object?>("message", kind));

    /// <summary>A coordinator's jobs by state and its queue length, replacing what it published before.</summary>
    public static void PublishJobs(string coordinator, IReadOnlyDictionary<JobState, int> byState, int queued) =>
        Coordinators[coordinator] = new JobCounts(byState, queued);

    /// <summary>The coordinator stopped (or moved away): its jobs are no longer this process's to report.</summary>
    public static void WithdrawJobs(string coordinator) => Coordinators.TryRemove(coordinator, out _);

    private static IEnumerable<Measurement<long>> ObserveJobs()
    {
        var snapshot = Coordinators.Values.ToList();
        // Every state, zeros included: a dashboard's "failed" panel shows 0, not "no data".
        foreach (var state in Enum.GetValues<JobState>())
            yield return new Measurement<long>(snapshot.Sum(c => c.ByState.GetValueOrDefault(state)),
                new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
    }

    private sealed record JobCounts(IReadOnlyDictionary<JobState, int> ByState, int Queued);
}
