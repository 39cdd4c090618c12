using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Forecasting;

/// <summary>One series of a global model: its symbol, its options (the data naming that symbol) and its own prepared data.</summary>
public sealed record GlobalMember(string Symbol, RunOptions Options, PreparedData Data);

/// <summary>A series of a global model that could not be used (too few rows for the windows, ...), and why.</summary>
public sealed record SkippedSeries(string Symbol, string Reason);

/// <summary>
/// The series of a global model, each prepared alone, and those that could not be. <see cref="Joined"/> is what the model
/// trains on: every usable series' training and validation windows joined (null when none is usable).
/// </summary>
public sealed record GlobalPreparation(IReadOnlyList<GlobalMember> Members, IReadOnlyList<SkippedSeries> Skipped)
{
    public PreparedData? Joined { get; } = Members.Count == 0 ? null
        : Members[0].Data.WithTraining(WindowSet.Concat([.. Members.Select(m => m.Data.Train)]), WindowSet.Concat([.. Members.Select(m => m.Data.Validation)]));

    /// <summary>Why no series is usable, each one's reason (for <paramref name="file"/> as the user named it).</summary>
    public string NoneUsable(string file) =>
        $"{file}: no series is usable for the global model: {string.Join("; ", Skipped.Select(s => $"{s.Symbol}: {s.Reason}"))}";
}

/// <summary>A global model's training, and each series' result through it (its own split, baselines, MASE scale and forecast).</summary>
public sealed record GlobalResult(TrainingResult Training, int TrainWindows, IReadOnlyList<(string Symbol, RunResult Result)> Series);

/// <summary>
/// <c>--strategy global</c>: one LSTM over several series. Each series is prepared alone (<see cref="PreparedData.Build(TimeSeries, PreprocessingOptions)"/>:
/// its split, its normalization fitted on its own training split, its windows), so no window crosses from one series into
/// the next and no series' scale leaks into another's; the training and validation windows of all are joined and trained on
/// as one set; then every series is evaluated on its own validation and test windows and forecast, in its own units.
/// <para>
/// The steps are apart so that a cluster runs the same code: <see cref="Prepare"/> when the job's data loads, the training
/// on its parameter server and workers (the joined windows are the job's windows, sharded like any job's), then
/// <see cref="Evaluate"/> with the trained weights. <see cref="Execute"/> is the three in one process.
/// </para>
/// </summary>
public static class GlobalRun
{
    /// <summary>
    /// Each of <paramref name="symbols"/> prepared alone with <paramref name="options"/> naming it; a series whose data
    /// cannot be used (<see cref="DataException"/>: too short, a bad value) is skipped with its reason. With
    /// <see cref="SeriesIdFeature.OneHot"/> each usable series' windows carry its index among the usable ones.
    /// </summary>
    public static GlobalPreparation Prepare(RunOptions options, IReadOnlyList<string> symbols)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(symbols);
        var members = new List<GlobalMember>();
        var skipped = new List<SkippedSeries>();
        foreach (string symbol in symbols)
        {
            var member = options with { Data = options.Data with { Symbol = symbol } };
            try
            {
                members.Add(new GlobalMember(symbol, member, ForecastRun.Prepare(member)));
            }
            catch (DataException e)
            {
                skipped.Add(new SkippedSeries(symbol, e.Problem));
            }
        }
        if (options.SeriesId == SeriesIdFeature.OneHot)
            members = [.. members.Select((m, i) => m with { Data = m.Data.WithSeriesId(i, members.Count) })];
        return new GlobalPreparation(members, skipped);
    }

    /// <summary>Trains one model on every member's joined windows through <paramref name="engine"/>, then <see cref="Evaluate"/>.</summary>
    public static GlobalResult Execute(RunOptions options, IReadOnlyList<GlobalMember> members, Trainer engine, Action<EpochReport>? progress,
        CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) throw new ArgumentException("a global model needs at least one series", nameof(members));
        CheckOptions(options);
        var joined = new GlobalPreparation(members, []).Joined!;
        using var model = ForecastModel.Create(options.Spec(joined.Preprocessor.InputSize), options.Training.Seed);
        var training = engine(model, joined, options.Training, progress, cancel);
        return Evaluate(options, members, training);
    }

    /// <summary>
    /// Each member evaluated on its own validation and test windows and forecast by the model with <paramref name="trained"/>'s
    /// best weights (trained here or on a cluster); its <see cref="RunResult.Model"/> holds those shared weights with that
    /// series' own preprocessing, so it forecasts the series alone.
    /// </summary>
    public static GlobalResult Evaluate(RunOptions options, IReadOnlyList<GlobalMember> members, TrainingResult trained)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(trained);
        if (members.Count == 0) throw new ArgumentException("a global model needs at least one series", nameof(members));
        CheckOptions(options);
        var spec = options.Spec(members[0].Data.Preprocessor.InputSize);
        using var model = new ForecastModel(spec);
        ParameterVector.Load(model, trained.BestWeights);
        var results = new List<(string, RunResult)>();
        foreach (var member in members)
        {
            var data = member.Data;
            var validation = ForecastRun.Evaluate(model, data, data.Validation, options.Season, out _);
            var test = ForecastRun.Evaluate(model, data, data.Test, options.Season, out var testPredictions);
            var forecast = ForecastRun.Forecast(model, data.Preprocessor, data.Series);
            // Each series' model directory holds the shared weights with that series' preprocessing: `forecast` uses it alone.
            var stored = new StoredModel(spec, data.Preprocessor, trained.BestWeights, ForecastRun.Metadata(member.Options, data, trained));
            results.Add((member.Symbol, new RunResult(data, stored, trained, validation, test, testPredictions, forecast)));
        }
        return new GlobalResult(trained, members.Sum(m => m.Data.Train.Count), results);
    }

    private static void CheckOptions(RunOptions options)
    {
        // A quantile head's calibration is fitted per series on validation windows; one shared head has no single fit.
        if (options.Quantiles is { Length: > 0 }) throw new ArgumentException("quantiles are not supported with strategy global: train per-series");
    }
}
