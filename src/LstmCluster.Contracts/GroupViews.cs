namespace LstmCluster.Contracts;

/// <summary>One member of a job group as the API shows it.</summary>
public sealed record GroupMemberView(string Symbol, string? Job, string State, int Epoch, int Epochs, double? TestMase, string? Reason);

/// <summary>
/// A job group (<c>POST /jobs</c> with <c>symbol=all</c> or a list): its aggregate state, counts of members by state, its
/// progress (0 to 1) and every member. Its files (summary.json, series.csv, forecast.csv, grid.png) are at
/// <c>/groups/{id}/files/{name}</c> once it ended; each member's own at <c>/jobs/{job}/...</c>.
/// </summary>
public sealed record GroupView(string Id, string State, string Strategy, string? Reason, string? Data, string? Target, string? Owner,
    DateTimeOffset? Submitted, DateTimeOffset? Finished, int Series, int Queued, int Running, int Succeeded, int Failed, int Cancelled,
    double Progress, GroupMemberView[] Members);
