using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace LstmCluster.Core.Sweeps;

/// <summary>
/// A finished sweep's files, the same whoever ran it (<c>lstmcluster sweep</c> in process, or a coordinator's sweep group):
/// leaderboard.csv (one row per trial, ranked) and sweep.json (grid, rounds, best trial, leaderboard). A trial's
/// <see cref="TrialOutcome.Handle"/> is written as its job when it is a job id (a string).
/// </summary>
public static class SweepReport
{
    /// <summary>How a leaderboard row ended: best, last round, out in round N, or failed with why.</summary>
    public static string Status(LeaderboardEntry e, int lastRound) =>
        e.Outcome.Error is { } error ? $"failed: {(error.Length > 80 ? error[..80] + "..." : error)}"
        : e.Rank == 1 ? "best"
        : e.Round.Number == lastRound ? "last round"
        : $"out in round {e.Round.Number}";

    public static string LeaderboardCsv(IReadOnlyList<SweepParameter> parameters, SweepResult result)
    {
        var sb = new StringBuilder("rank,trial," + string.Join(",", parameters.Select(p => p.Name)) + ",round,epochs_planned,epochs_run,best_epoch,validation_mase,naive_validation_mase,test_mase,status\n");
        int lastRound = result.Rounds[^1].Number;
        foreach (var e in result.Leaderboard)
        {
            var o = e.Outcome;
            sb.Append(CultureInfo.InvariantCulture, $"{e.Rank},{e.Trial.Number},{string.Join(",", e.Trial.Parameters.Select(p => Csv(p.Value)))},");
            sb.Append(CultureInfo.InvariantCulture, $"{e.Round.Number},{e.Round.Epochs},{o.EpochsRun},{o.BestEpoch},{CsvNum(o.ValidationMase)},{CsvNum(o.NaiveValidationMase)},{CsvNum(o.TestMase)},{Csv(Status(e, lastRound))}\n");
        }
        return sb.ToString();
    }

    public static JsonObject Json(IReadOnlyList<SweepParameter> parameters, int eta, SweepResult result) => new()
    {
        ["grid"] = new JsonObject(parameters.Select(p => KeyValuePair.Create(p.Name, (JsonNode?)new JsonArray([.. p.Values.Select(v => JsonValue.Create(v))])))),
        ["eta"] = eta,
        ["rounds"] = new JsonArray([.. result.Rounds.Select(r => new JsonObject { ["round"] = r.Number, ["trials"] = r.Trials, ["epochs"] = r.Epochs })]),
        ["ranked_by"] = "validation MASE (the test split is never used to choose)",
        ["best"] = new JsonObject { ["trial"] = result.Best.Trial.Number, ["parameters"] = result.Best.Trial.Label, ["job"] = result.Best.Outcome.Handle as string },
        ["leaderboard"] = new JsonArray([.. result.Leaderboard.Select(e => new JsonObject
        {
            ["rank"] = e.Rank,
            ["trial"] = e.Trial.Number,
            ["parameters"] = new JsonObject(e.Trial.Parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
            ["round"] = e.Round.Number,
            ["epochs_run"] = e.Outcome.EpochsRun,
            ["validation_mase"] = JsonNum(e.Outcome.ValidationMase),
            ["test_mase"] = JsonNum(e.Outcome.TestMase),
            ["job"] = e.Outcome.Handle as string,
            ["error"] = e.Outcome.Error,
        })]),
    };

    private static string CsvNum(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
    private static JsonNode? JsonNum(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
    private static string Csv(string text) => text.Contains(',') || text.Contains('"') ? $"\"{text.Replace("\"", "\"\"")}\"" : text;
}
