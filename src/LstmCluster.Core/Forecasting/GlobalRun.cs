using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Forecasting;

/// <summary>One series of a global model: its symbol, its options (the data naming that symbol) and its own prepared data.</summary>
public sealed record GlobalMember(string Symbol, RunOptions Options, PreparedData Data);

/// <summary>A global model's training, and each series' result through it (its own split, baselines, MASE scale and forecast).</summary>
public sealed record GlobalResult(TrainingResult Training, int TrainWindows, IReadOnlyList<(string Symbol, RunResult Result)> Series);

/// <summary>
/// <c>--strategy global</c>: one LSTM over several series. Each series is prepared alone (<see cref="PreparedData.Build(TimeSeries, PreprocessingOptions)"/>:
/// its split, its normalization fitted on its own training split, its windows), so no window crosses from one series into
/// the next and no series' scale leaks into another's; the training and validation windows of all are joined and trained on
/// as one set; then every series is evaluated on its own validation and test windows and forecast, in its own units.
/// </summary>
public static class GlobalRun
{
    public static GlobalResult Execute(RunOptions options, IReadOnlyList<GlobalMember> members, Trainer engine, Action<EpochReport>? progress,
        CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) throw new ArgumentException("a global model needs at least one series", nameof(members));
        // A quantile head's calibration is fitted per series on validation windows; one shared head has no single fit.
        if (options.Quantiles is { Length: > 0 }) throw new ArgumentException("quantiles are not supported with strategy global: train per-series");
        var first = members[0].Data;
        var joined = first.WithTraining(WindowSet.Concat([.. members.Select(m => m.Data.Train)]), WindowSet.Concat([.. members.Select(m => m.Data.Validation)]));
        var spec = options.Spec(first.Series.Columns.Length);
        using var model = ForecastModel.Create(spec, options.Training.Seed);
        var training = engine(model, joined, options.Training, progress, cancel);
        var weights = ParameterVector.Flatten(model);
        var results = new List<(string, RunResult)>();
        foreach (var member in members)
        {
            var data = member.Data;
            var validation = ForecastRun.Evaluate(model, data, data.Validation, options.Season, out _);
            var test = ForecastRun.Evaluate(model, data, data.Test, options.Season, out var testPredictions);
            var forecast = ForecastRun.Forecast(model, data.Preprocessor, data.Series);
            // Each series' model directory holds the shared weights with that series' preprocessing: `forecast` uses it alone.
            var stored = new StoredModel(spec, data.Preprocessor, weights, ForecastRun.Metadata(member.Options, data, training));
            results.Add((member.Symbol, new RunResult(data, stored, training, validation, test, testPredictions, forecast)));
        }
        return new GlobalResult(training, joined.Train.Count, results);
    }
}
