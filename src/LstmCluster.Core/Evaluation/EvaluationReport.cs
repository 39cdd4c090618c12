namespace LstmCluster.Core.Evaluation;

/// <summary>
/// The model's errors next to each baseline's (keyed by <see cref="Evaluation.Baselines.Name"/>), over
/// <paramref name="Points"/> pooled (origin, step) points from <paramref name="Origins"/> forecast origins.
/// </summary>
public sealed record EvaluationReport(
    ErrorMetrics Model, IReadOnlyDictionary<string, ErrorMetrics> Baselines, int Points, int Origins)
{
    /// <summary>A quantile head's pinball losses and interval coverage on the same points (the model's point forecast is its median); null for a point head.</summary>
    public QuantileReport? Quantiles { get; init; }

    /// <summary>
    /// The baseline with the lowest MASE. Ties, and reports whose MASE is NaN (zero scale), are settled by MAE
    /// (the same order, since every entry shares one scale), then by the order of <see cref="Evaluation.Baselines.All"/>.
    /// </summary>
    public string BestBaseline
    {
        get
        {
            if (Baselines.Count == 0)
                throw new InvalidOperationException("the report has no baselines to choose from.");
            return Baselines
                .OrderBy(b => double.IsNaN(b.Value.Mase) ? double.PositiveInfinity : b.Value.Mase)
                .ThenBy(b => double.IsNaN(b.Value.Mae) ? double.PositiveInfinity : b.Value.Mae)
                .ThenBy(b => KnownOrder(b.Key))
                .ThenBy(b => b.Key, StringComparer.Ordinal)
                .First().Key;
        }
    }

    /// <summary>
    /// Whether the model's MASE is strictly below the named baseline's. False when either MASE is NaN:
    /// with no scale there is no claim to make.
    /// </summary>
    public bool Beats(string baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (!Baselines.TryGetValue(baseline, out var metrics))
            throw new ArgumentException(
                $"no baseline named '{baseline}' in the report; it has: {string.Join(", ", Baselines.Keys)}.",
                nameof(baseline));
        return Model.Mase < metrics.Mase;
    }

    private static int KnownOrder(string name)
    {
        // The record's Baselines property hides the static class of the same name, hence the qualification.
        var all = global::LstmCluster.Core.Evaluation.Baselines.All;
        for (var i = 0; i < all.Count; i++)
        {
            if (global::LstmCluster.Core.Evaluation.Baselines.Name(all[i]) == name)
                return i;
        }
        return all.Count;
    }
}
