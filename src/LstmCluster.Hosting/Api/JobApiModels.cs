using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// A job as the API shows it; losses and MASE that do not exist yet (NaN) are null. <paramref name="Owner"/> is the name of
/// the token that submitted it (null on an open API).
/// </summary>
public sealed record JobView(
    string Id,
    string State,
    int Epoch,
    int Epochs,
    long Round,
    double? TrainLoss,
    double? ValidationLoss,
    double? SamplesPerSecond,
    int Workers,
    string? Data,
    string? Target,
    string? Reason,
    DateTimeOffset? Submitted,
    DateTimeOffset? Started,
    DateTimeOffset? Finished,
    double?[]? Forecast,
    string[]? ForecastTimes,
    double? TestMase,
    string? BestBaseline,
    double? BestBaselineMase,
    int Attempts = 0,
    int ResumedFrom = 0,
    string? Owner = null,
    string? Normalization = null)
{
    public static JobView From(JobStatus s) => new(
        s.Job, s.State.ToString(), s.Epoch, s.Epochs, s.Round, Finite(s.TrainLoss), Finite(s.ValidationLoss),
        s.State == JobState.Queued ? null : Finite(s.SamplesPerSecond), s.Workers, s.Data, s.Target, s.Reason,
        s.Submitted, s.Started, s.Finished, s.Forecast?.Select(Finite).ToArray(), s.ForecastTimes,
        Finite(s.TestMase), s.BestBaseline, Finite(s.BestBaselineMase), s.Attempts, s.ResumedFrom, s.Owner, s.Normalization);

    /// <summary>True once the job will not change any more.</summary>
    [JsonIgnore]
    public bool Ended => State is "Succeeded" or "Failed" or "Cancelled";

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}

/// <summary>One epoch's losses (null when not finite).</summary>
public sealed record EpochLossView(int Epoch, double? TrainLoss, double? ValidationLoss);

/// <summary><c>GET /jobs/{id}/history</c>: losses per epoch so far, and where they come from (<c>coordinator</c> or <c>metrics.json</c>).</summary>
public sealed record HistoryView(string Id, string State, IReadOnlyList<EpochLossView> Epochs, string Source);

public sealed record JobListView(IReadOnlyList<JobView> Jobs);

public sealed record SubmittedView(string Id);

public sealed record ErrorView(string Error);

public sealed record ForecastPointView(int Step, string Time, double? Value)
{
    /// <summary>A quantile head's value at each level (<c>q0.1</c>, <c>q0.5</c>, ...), the intervals calibrated; absent for a point head.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, double?>? Quantiles { get; init; }

    /// <summary>The <see cref="Quantiles"/> of step <paramref name="step"/> (0-based): levels and, per level, values step by step.</summary>
    public static IReadOnlyDictionary<string, double?>? QuantilesAt(IReadOnlyList<double>? levels, IReadOnlyList<double[]>? values, int step) =>
        levels is { Count: > 0 } && values is not null && values.Count == levels.Count && values.All(v => step < v.Length)
            ? levels.Select((level, i) => KeyValuePair.Create(LstmCluster.Core.Model.QuantileLevels.ColumnName(level),
                double.IsFinite(values[i][step]) ? values[i][step] : (double?)null)).ToDictionary()
            : null;
}

public sealed record ForecastView(string Job, string? Target, IReadOnlyList<ForecastPointView> Points);

/// <summary><c>/health</c>: alive or unhealthy, and each liveness check's status.</summary>
public sealed record HealthView(string Status, IReadOnlyDictionary<string, string>? Checks = null);

/// <summary><c>/ready</c>: whether a job could run, why not, Up members per role, the members, and each readiness check's status.</summary>
public sealed record ReadyView(bool Ready, string Detail, IReadOnlyDictionary<string, int> Roles, bool Converged,
    IReadOnlyList<Node.MemberState> Members, IReadOnlyDictionary<string, string> Checks);

/// <summary>The API's JSON: snake_case names (as metrics.json), states as in the protocol (Queued, Running, Succeeded, Failed, Cancelled).</summary>
public static class JobApiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Reasons quote names ('x'); JSON for programs and curl readers, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
