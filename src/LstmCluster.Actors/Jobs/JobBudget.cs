using System.Globalization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// What one submitted job may cost, checked before it is accepted: a job within the allowed option ranges can still ask
/// for billions of parameters or weeks of training and hold the only job slot. The defaults fit a 2-core node (see each);
/// a node raises them with its options. A refusal names the limit, the job's value and the option that raises it.
/// </summary>
public sealed record JobBudget
{
    /// <summary>Model parameters: 4 M is a 2-layer LSTM of 700 units, far beyond what trains on 2 cores in a day.</summary>
    public long MaxParameters { get; init; } = 4_000_000;

    /// <summary>
    /// Training work as parameters × training windows × epochs (≈ multiply-adds per forward pass over the data): 4·10¹³ is
    /// about a day at the 5·10⁸ parameter-samples a second a 2-core node trains.
    /// </summary>
    public double MaxWork { get; init; } = 4e13;

    /// <summary>Bytes of the windowed data a job holds (inputs and targets of every split, as float32): 2 GiB.</summary>
    public long MaxDataBytes { get; init; } = 2L << 30;

    /// <summary>Jobs waiting (queued or loading) before a submission is refused as busy (429): each holds its upload.</summary>
    public int MaxQueuedJobs { get; init; } = 100;

    /// <summary>
    /// Jobs one owner (the job API's token name) may have waiting, or null for no limit of its own: on a node several
    /// tokens share, one client's burst (a CI loop, a sweep of 100 trials) would otherwise fill the whole queue and have
    /// everybody else's submissions refused as busy. Jobs submitted without a token name share the node's limit alone.
    /// </summary>
    public int? MaxQueuedPerOwner { get; init; }

    /// <summary>
    /// Jobs one owner may have training at once, or null for no limit of its own: the turns share who starts next, but a
    /// token whose jobs train for hours would still hold every job slot while another's wait. Over it an owner's jobs wait
    /// in the queue and other owners' jobs behind them start. Jobs submitted without a token name share the node's slots alone.
    /// </summary>
    public int? MaxRunningPerOwner { get; init; }

    /// <summary>
    /// Bytes one owner's jobs and groups may hold in the state directory (uploads, checkpoints, models, forecasts and plots),
    /// or null for no limit of its own: retention (<c>--keep-jobs</c>, <c>--keep-days</c>) bounds the disk for all owners
    /// together, so one token that keeps every model it trains would fill it for everyone. A submission that would take the
    /// owner over it is refused until the owner deletes jobs it no longer needs. What a job writes while it trains counts
    /// from then on, so an owner can end above the limit by its last job's outputs, never by more.
    /// </summary>
    public long? MaxStoredBytesPerOwner { get; init; }

    /// <summary>Longest reason or name kept in a job's record: the rest is cut, with its length said.</summary>
    public const int MaxTextLength = 2000;

    /// <summary>Why the job is over budget, or null.</summary>
    public string? Check(ModelSpec spec, PreparedData data, TrainingOptions training)
    {
        long parameters = spec.Parameters;
        if (parameters > MaxParameters)
            return $"the model has {N(parameters)} parameters, over this node's limit of {N(MaxParameters)} (--max-job-parameters)";
        long bytes = 4L * (Floats(data.Train) + Floats(data.Validation) + Floats(data.Test));
        if (bytes > MaxDataBytes)
            return $"the windowed data takes {N(bytes)} bytes, over this node's limit of {N(MaxDataBytes)} (lower --lookback or give less data)";
        double work = (double)parameters * data.Train.Count * training.Epochs;
        if (work > MaxWork)
            return $"training would take {work:0.#e0} parameter-samples ({N(parameters)} parameters × {N(data.Train.Count)} windows × "
                + $"{N(training.Epochs)} epochs), over this node's limit of {MaxWork:0.#e0} (--max-job-work): fewer epochs or a smaller model";
        return null;
    }

    public void Validate()
    {
        if (MaxParameters < 1) throw new ArgumentException($"max job parameters must be positive (got {MaxParameters})");
        if (!(MaxWork > 0)) throw new ArgumentException($"max job work must be positive (got {MaxWork})");
        if (MaxDataBytes < 1) throw new ArgumentException($"max job data must be positive (got {MaxDataBytes})");
        if (MaxQueuedJobs < 1) throw new ArgumentException($"max queued jobs must be at least 1 (got {MaxQueuedJobs})");
        if (MaxQueuedPerOwner < 1) throw new ArgumentException($"max queued jobs per owner must be at least 1 (got {MaxQueuedPerOwner})");
        if (MaxStoredBytesPerOwner < 1) throw new ArgumentException($"max stored bytes per owner must be positive (got {MaxStoredBytesPerOwner})");
        if (MaxRunningPerOwner < 1) throw new ArgumentException($"max running jobs per owner must be at least 1 (got {MaxRunningPerOwner})");
    }

    /// <summary>Text kept in a record: at most <see cref="MaxTextLength"/> characters, the rest said by its length.</summary>
    public static string Bounded(string text) =>
        text.Length <= MaxTextLength ? text : $"{text[..MaxTextLength]}... (cut: {N(text.Length)} characters in all)";

    private static long Floats(WindowSet w) => (long)w.Inputs.Length + w.Targets.Length;

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
