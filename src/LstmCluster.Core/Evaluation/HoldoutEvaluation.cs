namespace LstmCluster.Core.Evaluation;

/// <summary>
/// Scores a model's forecasts from one or more origins against the held-out truth, next to every baseline
/// forecasting from the same origins with the same history.
/// </summary>
public static class HoldoutEvaluation
{
    /// <summary>
    /// <paramref name="origins"/>[i] is the index T of the last observed point of window i (T + horizon &lt; series length);
    /// <paramref name="modelForecasts"/>[i] holds the model's <paramref name="horizon"/> values for series[T+1..T+horizon].
    /// All (origin, step) points are pooled into one set of metrics, so every step weighs the same.
    /// </summary>
    public static EvaluationReport Evaluate(
        ReadOnlySpan<double> series, IReadOnlyList<int> origins, IReadOnlyList<double[]> modelForecasts,
        int horizon, int season, double maseScale)
    {
        ArgumentNullException.ThrowIfNull(origins);
        ArgumentNullException.ThrowIfNull(modelForecasts);
        if (horizon < 1)
            throw new ArgumentException($"horizon must be at least 1 (got {horizon}).", nameof(horizon));
        if (season < 1)
            throw new ArgumentException($"season must be at least 1 (got {season}).", nameof(season));
        if (origins.Count == 0)
            throw new ArgumentException("no origins to evaluate.", nameof(origins));
        if (modelForecasts.Count != origins.Count)
            throw new ArgumentException(
                $"{origins.Count} origin(s) but {modelForecasts.Count} model forecast(s); there must be one forecast per origin.",
                nameof(modelForecasts));

        var points = origins.Count * horizon;
        var actual = new double[points];
        var model = new double[points];
        var baselines = new double[Baselines.All.Count][];
        for (var b = 0; b < baselines.Length; b++)
            baselines[b] = new double[points];

        for (var i = 0; i < origins.Count; i++)
        {
            var origin = origins[i];
            if (origin < 0 || origin + horizon >= series.Length)
                throw new ArgumentException(
                    $"origin {i} is index {origin}, but origins must lie in 0..{series.Length - horizon - 1} so that "
                    + $"{horizon} step(s) after it fall inside the series of length {series.Length}.",
                    nameof(origins));
            var forecast = modelForecasts[i]
                ?? throw new ArgumentException($"model forecast {i} is null.", nameof(modelForecasts));
            if (forecast.Length != horizon)
                throw new ArgumentException(
                    $"model forecast {i} has {forecast.Length} value(s) but the horizon is {horizon}.", nameof(modelForecasts));

            var offset = i * horizon;
            series.Slice(origin + 1, horizon).CopyTo(actual.AsSpan(offset));
            forecast.CopyTo(model.AsSpan(offset));
            var history = series[..(origin + 1)];
            for (var b = 0; b < baselines.Length; b++)
            {
                Baselines.Forecast(Baselines.All[b], history, horizon, season).CopyTo(baselines[b].AsSpan(offset));
            }
        }

        var baselineMetrics = new Dictionary<string, ErrorMetrics>(baselines.Length);
        for (var b = 0; b < baselines.Length; b++)
            baselineMetrics[Baselines.Name(Baselines.All[b])] = Metrics.Compute(actual, baselines[b], maseScale);
        return new EvaluationReport(Metrics.Compute(actual, model, maseScale), baselineMetrics, points, origins.Count);
    }

    /// <summary>
    /// As <see cref="Evaluate"/>, but one report per forecast step (element k scores step k + 1 over every origin): how
    /// the error grows with the lead time, for the model and each baseline alike.
    /// </summary>
    public static IReadOnlyList<EvaluationReport> EvaluateByStep(
        ReadOnlySpan<double> series, IReadOnlyList<int> origins, IReadOnlyList<double[]> modelForecasts,
        int horizon, int season, double maseScale)
    {
        // The pooled evaluation checks every argument.
        Evaluate(series, origins, modelForecasts, horizon, season, maseScale);
        int n = origins.Count;
        var forecasts = new double[Baselines.All.Count][][];
        for (var b = 0; b < forecasts.Length; b++)
        {
            forecasts[b] = new double[n][];
            for (var i = 0; i < n; i++) forecasts[b][i] = Baselines.Forecast(Baselines.All[b], series[..(origins[i] + 1)], horizon, season);
        }
        var reports = new EvaluationReport[horizon];
        var actual = new double[n];
        var model = new double[n];
        var baseline = new double[n];
        for (var k = 0; k < horizon; k++)
        {
            for (var i = 0; i < n; i++)
            {
                actual[i] = series[origins[i] + 1 + k];
                model[i] = modelForecasts[i][k];
            }
            var baselineMetrics = new Dictionary<string, ErrorMetrics>(forecasts.Length);
            for (var b = 0; b < forecasts.Length; b++)
            {
                for (var i = 0; i < n; i++) baseline[i] = forecasts[b][i][k];
                baselineMetrics[Baselines.Name(Baselines.All[b])] = Metrics.Compute(actual, baseline, maseScale);
            }
            reports[k] = new EvaluationReport(Metrics.Compute(actual, model, maseScale), baselineMetrics, n, n);
        }
        return reports;
    }
}
