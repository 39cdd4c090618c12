using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LstmCluster.Contracts;

/// <summary>
/// A job as the API shows it; losses and MASE that do not exist yet (NaN) are null. <paramref name="Owner"/> is the name of
/// the token that submitted it (null on an open API); <paramref name="Group"/> the job group it trains one series of (null for a job of its own);
/// <paramref name="Ahead"/>, while it waits in the queue, how many waiting jobs start before it in the queue's order now (0: next).
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
    string? Group = null,
    string? Normalization = null,
    int? Ahead = null)
{
    /// <summary>True once the job will not change any more.</summary>
    [JsonIgnore]
    public bool Ended => Vocabulary.JobStates.IsEnded(State);
}

/// <summary>One epoch's losses (null when not finite).</summary>
public sealed record EpochLossView(int Epoch, double? TrainLoss, double? ValidationLoss);

/// <summary><c>GET /jobs/{id}/history</c>: losses per epoch so far, and where they come from (<c>coordinator</c> or <c>metrics.json</c>).</summary>
public sealed record HistoryView(string Id, string State, IReadOnlyList<EpochLossView> Epochs, string Source);

public sealed record JobListView(IReadOnlyList<JobView> Jobs);

public sealed record SubmittedView(string Id);

public sealed record ErrorView(string Error);

/// <summary>What DELETE answers for a finished job or group: it is deleted with its files (<paramref name="State"/> is "Deleted").</summary>
public sealed record DeletedView(string Id, string State)
{
    public static DeletedView Of(string id) => new(id, "Deleted");
}

public sealed record ForecastPointView(int Step, string Time, double? Value)
{
    /// <summary>A quantile head's value at each level (<c>q0.1</c>, <c>q0.5</c>, ...), the intervals calibrated; absent for a point head.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, double?>? Quantiles { get; init; }
}

public sealed record ForecastView(string Job, string? Target, IReadOnlyList<ForecastPointView> Points);

/// <summary><c>/health</c>: alive or unhealthy, and each liveness check's status.</summary>
public sealed record HealthView(string Status, IReadOnlyDictionary<string, string>? Checks = null);

/// <summary>A cluster member as <c>/ready</c> lists it.</summary>
public sealed record MemberState(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable);

/// <summary><c>/ready</c>: whether a job could run, why not, Up members per role, the members, and each readiness check's status.</summary>
public sealed record ReadyView(bool Ready, string Detail, IReadOnlyDictionary<string, int> Roles, bool Converged,
    IReadOnlyList<MemberState> Members, IReadOnlyDictionary<string, string> Checks);

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
