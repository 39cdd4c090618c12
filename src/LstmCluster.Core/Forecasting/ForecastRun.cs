using System.Security.Cryptography;
using System.Text.Json;
using LstmCluster.Core.Data;
using LstmCluster.Core.Evaluation;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Forecasting;

/// <summary>Everything a training job is asked to do: which data, which model, how to train.</summary>
public sealed record RunOptions
{
    public required CsvSeriesOptions Data { get; init; }
    public PreprocessingOptions Preprocessing { get; init; } = new();
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public double Dropout { get; init; }
    public TrainingOptions Training { get; init; } = new();
    /// <summary>Seasonal period for MASE and the seasonal-naive baseline.</summary>
    public int Season { get; init; } = 1;
    /// <summary>
    /// <c>--normalize auto</c>: <see cref="ForecastRun.Execute(RunOptions, PreparedData, Trainer, Action{EpochReport}?, CancellationToken)"/>
    /// trains every candidate of <see cref="ForecastRun.NormalizationCandidates"/> and keeps the one with the lowest
    /// validation error. <see cref="PreprocessingOptions.Normalize"/> then holds the first candidate, what a path that
    /// trains one model alone (a cluster job, a backtest) uses.
    /// </summary>
    public bool AutoNormalize { get; init; }
    /// <summary>
    /// <c>--quantiles</c>: the levels (0.5 among them) an offset head forecasts beside the point head, trained on the pinball
    /// loss of the point's error (<see cref="QuantileHead.PointOffsets"/>), or null for the point head alone. The point head
    /// is trained on the mean squared error either way.
    /// </summary>
    public double[]? Quantiles { get; init; }
    /// <summary>
    /// With several series (<c>--symbol all</c> or a list): one model per series, or one over all of them
    /// (<see cref="GlobalRun"/>). A job of one series ignores it.
    /// </summary>
    public SeriesStrategy Strategy { get; init; }
    /// <summary><c>--series-id</c>, strategy global only: whether every window also carries a one-hot indicator of its series.</summary>
    public SeriesIdFeature SeriesId { get; init; }

    public ModelSpec Spec(int inputSize) => new(inputSize, Hidden, Layers, Preprocessing.Horizon, Dropout, Quantiles is { Length: > 0 } q ? q : null);

    /// <summary>Checks every option for an absurd value; throws <see cref="ArgumentException"/> naming it.</summary>
    public void Validate()
    {
        if (Preprocessing.Lookback is < 1 or > 10_000) throw new ArgumentException($"lookback must be between 1 and 10000 (got {Preprocessing.Lookback})");
        if (Season is < 1 or > 10_000) throw new ArgumentException($"season must be between 1 and 10000 (got {Season})");
        Spec(1 + Data.Features.Count).Validate();
        // A step-k price compounds k one-step returns; the quantile of their sum is not the sum of their quantiles.
        if (Quantiles is { Length: > 0 } && Preprocessing.Transform == TargetTransform.LogReturn && Preprocessing.Horizon > 1)
            throw new ArgumentException($"quantiles with transform log-return need horizon 1 (got {Preprocessing.Horizon}): a multi-step interval is not the compounding of one-step quantiles");
        if (SeriesId != SeriesIdFeature.None && Strategy != SeriesStrategy.Global)
            throw new ArgumentException($"series-id {SeriesSelection.Name(SeriesId)} applies to strategy global (one model over several series)");
        // A quantile head's calibration is fitted per series on validation windows; one shared head has no single fit.
        if (Strategy == SeriesStrategy.Global && Quantiles is { Length: > 0 })
            throw new ArgumentException("quantiles are not supported with strategy global: train per-series");
        Training.Validate();
    }
}

/// <summary>One forecast step after the last observation, in original units.</summary>
public sealed record ForecastPoint(int Step, string Time, double Position, double Value)
{
    /// <summary>A quantile head's value at each level, levels increasing and values never decreasing; empty for a point head.</summary>
    public IReadOnlyList<QuantileValue> Quantiles { get; init; } = [];
}

/// <summary>A forecast's value at one quantile level.</summary>
public readonly record struct QuantileValue(double Level, double Value);

/// <summary>The model's predictions on a split, in original units: per window origin, H values.</summary>
public sealed record SplitPredictions(int[] Origins, double[][] Values)
{
    /// <summary>A quantile head's predictions: per window, per level (<see cref="Levels"/>), H values, sorted across levels at each step; null for a point head.</summary>
    public double[][][]? Quantiles { get; init; }
    /// <summary>The levels of <see cref="Quantiles"/>.</summary>
    public double[]? Levels { get; init; }
}

/// <summary>The outcome of a training job.</summary>
public sealed record RunResult(
    PreparedData Data,
    StoredModel Model,
    TrainingResult Training,
    EvaluationReport Validation,
    EvaluationReport Test,
    SplitPredictions TestPredictions,
    IReadOnlyList<ForecastPoint> Forecast)
{
    /// <summary>
    /// With <see cref="RunOptions.AutoNormalize"/>: every normalization trained, in order, then their <see cref="Ensemble"/>
    /// when at least two may join it, one of them <c>Chosen</c>; else empty.
    /// </summary>
    public IReadOnlyList<NormalizationCandidate> Candidates { get; init; } = [];

    /// <summary>The model's predictions on the validation windows, in original units (what an ensemble of candidates is scored on).</summary>
    public SplitPredictions? ValidationPredictions { get; init; }

    /// <summary>For an <see cref="Ensemble"/>'s run: the normalizations of its members, in order; else empty.</summary>
    public IReadOnlyList<Normalization> EnsembleMembers { get; init; } = [];

    /// <summary>With <see cref="RunOptions.AutoNormalize"/>: the candidates not trained because they equal another (<see cref="ForecastRun.LeftOut"/>).</summary>
    public IReadOnlyList<LeftOutCandidate> LeftOut { get; init; } = [];
}

/// <summary>
/// A normalization <c>--normalize auto</c> did not train because on this series it gives the windows of
/// <paramref name="SameAs"/>, bit for bit, and so the same model: <paramref name="Reason"/> says why, for a person.
/// </summary>
public sealed record LeftOutCandidate(Normalization Normalize, Normalization SameAs, string Reason);

/// <summary>
/// One normalization <c>--normalize auto</c> trained: its validation and test errors (original units) and how its training
/// ended. Only <see cref="Validation"/> takes part in the choice; <see cref="Test"/> is reported so the choice can be judged.
/// </summary>
public sealed record NormalizationCandidate(Normalization Normalize, EvaluationReport Validation, EvaluationReport Test,
    int BestEpoch, int EpochsRun, StopReason Stop, bool Chosen)
{
    /// <summary>
    /// The mean of the other candidates' forecasts (<see cref="Forecasting.Ensemble"/>), not a normalization of its own:
    /// <see cref="Normalize"/>, <see cref="BestEpoch"/>, <see cref="EpochsRun"/> and <see cref="Stop"/> are then those of
    /// the member with the lowest validation error.
    /// </summary>
    public bool IsEnsemble { get; init; }

    /// <summary>The ensemble's members (<see cref="Forecasting.Ensemble.Members"/>); empty for a single candidate.</summary>
    public IReadOnlyList<Normalization> Members { get; init; } = [];
}

/// <summary>
/// Signature of a training engine: the single-process reference trainer, or (later) the
/// distributed engine. It trains <c>model</c> in place and leaves the best weights loaded.
/// </summary>
public delegate TrainingResult Trainer(ForecastModel model, PreparedData data, TrainingOptions options,
    Action<EpochReport>? progress, CancellationToken cancel);

/// <summary>
/// The forecasting job end to end, engine-agnostic: load and validate data, prepare windows,
/// train, evaluate on validation and test against naive baselines, forecast the next H values.
/// </summary>
public static class ForecastRun
{
    public static readonly Trainer ReferenceEngine = (model, data, options, progress, cancel) =>
        ReferenceTrainer.Train(model, data.Train, data.Validation, options, shards: 1, progress, cancel);

    /// <summary>
    /// The reference trainer with <paramref name="torchThreads"/> libtorch intra-op threads, set on the thread that trains:
    /// OpenMP's count is per thread, so a count set on the thread that parsed the command line does not reach training
    /// run on another (a live progress display, a task).
    /// </summary>
    public static Trainer ReferenceEngineWith(int torchThreads)
    {
        if (torchThreads is < 1 or > 1024) throw new ArgumentException($"torch threads must be between 1 and 1024 (got {torchThreads})");
        return (model, data, options, progress, cancel) =>
        {
            if (TorchSharp.torch.get_num_threads() != torchThreads) TorchSharp.torch.set_num_threads(torchThreads);
            return ReferenceEngine(model, data, options, progress, cancel);
        };
    }

    public static PreparedData Prepare(RunOptions options)
    {
        options.Validate();
        var series = CsvSeriesLoader.Load(options.Data);
        return PreparedData.Build(series, options.Preprocessing);
    }

    public static RunResult Execute(RunOptions options, Trainer? engine = null, Action<EpochReport>? progress = null,
        CancellationToken cancel = default)
    {
        var data = Prepare(options);
        return Execute(options, data, engine ?? ReferenceEngine, progress, cancel);
    }

    /// <summary>
    /// Trains and evaluates; with <see cref="RunOptions.AutoNormalize"/> once per candidate normalization (sequentially,
    /// through <paramref name="engine"/>), keeping the candidate with the lowest validation MAE (the numerator of MASE,
    /// in original units). The test split is evaluated for every candidate but never consulted for the choice.
    /// </summary>
    public static RunResult Execute(RunOptions options, PreparedData data, Trainer engine, Action<EpochReport>? progress,
        CancellationToken cancel)
    {
        if (!options.AutoNormalize) return ExecuteOne(options, data, engine, progress, cancel);
        var runs = new List<RunResult>();
        foreach (var (candidate, candidateData) in Candidates(options, data))
            runs.Add(ExecuteOne(candidate, candidateData, engine, progress, cancel));
        return Choose(runs, LeftOut(options, data));
    }

    /// <summary>
    /// What <c>--normalize auto</c> trains: per candidate of <see cref="NormalizationCandidates"/>, the options with that
    /// normalization fixed and the data windowed for it (on <paramref name="data"/>'s split; <paramref name="data"/> itself
    /// for the normalization it was prepared with). A cluster job trains these as sub-runs. Candidates that would train the
    /// same model as another (<see cref="LeftOut"/>) are not among them.
    /// </summary>
    public static IReadOnlyList<(RunOptions Options, PreparedData Data)> Candidates(RunOptions options, PreparedData data)
    {
        var leftOut = LeftOut(options, data);
        return [.. NormalizationCandidates(options.Preprocessing).Where(n => !leftOut.Any(l => l.Normalize == n)).Select(normalize =>
        {
            var candidate = options with { AutoNormalize = false, Preprocessing = options.Preprocessing with { Normalize = normalize } };
            return (candidate, data.Preprocessor.Normalize == normalize ? data : PreparedData.Build(data.Series, candidate.Preprocessing, data.Split));
        })];
    }

    /// <summary>
    /// The candidates of <see cref="NormalizationCandidates"/> that <c>--normalize auto</c> leaves out on <paramref name="data"/>'s
    /// series and split because they would train the model another one trains: window-seasonal when seasonal naive beat the
    /// last value at no forecast step on the training split (<see cref="Preprocessor.SeasonalSteps"/> all false). Its windows
    /// are then window's, bit for bit (same scale, every target measured from the last value), so training it cost 39 % of
    /// auto's training samples on co2 at horizon 1 (lookback 48, hidden 128) for a twin row in the table.
    /// </summary>
    public static IReadOnlyList<LeftOutCandidate> LeftOut(RunOptions options, PreparedData data)
    {
        var all = NormalizationCandidates(options.Preprocessing);
        if (!all.Contains(Normalization.WindowSeasonal) || !all.Contains(Normalization.Window)) return [];
        var seasonal = data.Preprocessor.Normalize == Normalization.WindowSeasonal
            ? data.Preprocessor
            : Preprocessor.Fit(data.Series.Columns, data.Split.TrainEnd, options.Preprocessing with { Normalize = Normalization.WindowSeasonal }, data.Series.Source);
        if (seasonal.SeasonalSteps.Any(s => s)) return [];
        string steps = options.Preprocessing.Horizon == 1 ? "the forecast step" : $"any of the {options.Preprocessing.Horizon} forecast steps";
        return [new LeftOutCandidate(Normalization.WindowSeasonal, Normalization.Window,
            $"seasonal naive (season {options.Preprocessing.Season}) did not beat the last value at {steps} on the training split, so window-seasonal gives window's windows")];
    }

    /// <summary>
    /// The run with the lowest validation MAE (<see cref="ChooseOnValidation"/>) among <paramref name="runs"/> (one per
    /// candidate, in <see cref="Candidates"/>' order) and their <see cref="Ensemble"/> (last, so a single candidate wins a
    /// tie), carrying every candidate's figures, which one was chosen, and the candidates <paramref name="leftOut"/> untrained.
    /// </summary>
    public static RunResult Choose(IReadOnlyList<RunResult> runs, IReadOnlyList<LeftOutCandidate>? leftOut = null)
    {
        int lead = ChooseOnValidation([.. runs.Select(r => r.Validation)]);
        var ensemble = Forecasting.Ensemble.Of(runs, lead);
        IReadOnlyList<RunResult> all = ensemble is null ? runs : [.. runs, ensemble];
        int chosen = ChooseOnValidation([.. all.Select(r => r.Validation)]);
        var candidates = all.Select((r, i) => new NormalizationCandidate(r.Data.Preprocessor.Normalize, r.Validation, r.Test,
            r.Training.BestEpoch, r.Training.Epochs.Count, r.Training.Stop, i == chosen) { IsEnsemble = i == runs.Count, Members = r.EnsembleMembers }).ToArray();
        return all[chosen] with { Candidates = candidates, LeftOut = leftOut ?? [] };
    }

    /// <summary>Which of <paramref name="runs"/> trained the model <see cref="Choose"/> kept: the chosen candidate, or for an ensemble its lead member.</summary>
    public static int KeptTraining(RunResult chosen, IReadOnlyList<RunResult> runs)
    {
        int i = chosen.Candidates.Select((c, k) => c.Chosen ? k : -1).FirstOrDefault(k => k >= 0, 0);
        if (i < runs.Count) return i;
        return ChooseOnValidation([.. runs.Select(r => r.Validation)]);
    }

    /// <summary>
    /// Evaluates a model trained elsewhere (a cluster job's parameter server): <paramref name="trained"/>'s best weights
    /// loaded into a model of <paramref name="options"/>' spec, then evaluated and forecast as <see cref="Execute(RunOptions, PreparedData, Trainer, Action{EpochReport}?, CancellationToken)"/>
    /// does after training (calibration included). <paramref name="options"/> names one normalization (not auto).
    /// </summary>
    public static RunResult Evaluate(RunOptions options, PreparedData data, TrainingResult trained) =>
        ExecuteOne(options with { AutoNormalize = false }, data, (model, _, _, _, _) =>
        {
            ParameterVector.Load(model, trained.BestWeights);
            return trained;
        }, null, CancellationToken.None);

    /// <summary>
    /// What <c>--normalize auto</c> tries, the rule's old pick first (it wins ties): window-seasonal when a season is given,
    /// window, and global.
    /// </summary>
    public static IReadOnlyList<Normalization> NormalizationCandidates(PreprocessingOptions options)
    {
        var first = PreprocessingOptions.Auto(options.Season, options.Transform);
        var all = new List<Normalization> { first, Normalization.Window };
        if (options.Season > 1) all.Add(Normalization.WindowSeasonal);
        all.Add(Normalization.Global);
        return all.Distinct().ToArray();
    }

    /// <summary>The index of the lowest validation MAE (the first on a tie; a non-finite error never wins over a finite one).</summary>
    public static int ChooseOnValidation(IReadOnlyList<EvaluationReport> validation)
    {
        int best = 0;
        for (int i = 1; i < validation.Count; i++)
        {
            double mae = validation[i].Model.Mae, bestMae = validation[best].Model.Mae;
            if (double.IsFinite(mae) && (!double.IsFinite(bestMae) || mae < bestMae)) best = i;
        }
        return best;
    }

    private static RunResult ExecuteOne(RunOptions options, PreparedData data, Trainer engine, Action<EpochReport>? progress,
        CancellationToken cancel)
    {
        var spec = options.Spec(data.Preprocessor.InputSize);
        using var model = ForecastModel.Create(spec, options.Training.Seed);
        var training = engine(model, data, options.Training, progress, cancel);
        // A quantile head's intervals are calibrated on validation; the test split is scored with and without it.
        QuantileCalibration.FitOffsetHead(model, data);
        var preprocessor = QuantileCalibration.Calibrate(model, data);
        var stored = new StoredModel(spec, preprocessor, ParameterVector.Flatten(model), Metadata(options, data, training));
        var validation = Evaluate(model, data, preprocessor, data.Validation, options.Season, out var validationPredictions);
        var test = Evaluate(model, data, preprocessor, data.Test, options.Season, out var testPredictions);
        if (test.Quantiles is { } calibrated && !ReferenceEquals(preprocessor, data.Preprocessor))
            test = test with { Quantiles = calibrated with { Uncalibrated = Evaluate(model, data, data.Test, options.Season, out _).Quantiles } };
        var forecast = Forecast(model, preprocessor, data.Series);
        return new RunResult(data, stored, training, validation, test, testPredictions, forecast) { ValidationPredictions = validationPredictions };
    }

    /// <summary>Model and baselines on a split's windows, in original units.</summary>
    public static EvaluationReport Evaluate(ForecastModel model, PreparedData data, WindowSet windows, int season,
        out SplitPredictions predictions) => Evaluate(model, data, data.Preprocessor, windows, season, out predictions);

    /// <summary>As <see cref="Evaluate(ForecastModel, PreparedData, WindowSet, int, out SplitPredictions)"/> through <paramref name="preprocessor"/> (a calibrated copy of the data's).</summary>
    public static EvaluationReport Evaluate(ForecastModel model, PreparedData data, Preprocessor preprocessor, WindowSet windows, int season,
        out SplitPredictions predictions)
    {
        predictions = Predict(model, preprocessor, data.Series.Columns, windows);
        double scale = data.MaseScale(season);
        return Score(data.Series.Target, predictions, model.Spec, season, scale);
    }

    /// <summary>
    /// <paramref name="predictions"/> against the truth next to every baseline; for a quantile head also the pinball loss of
    /// each level and the coverage of each central interval.
    /// </summary>
    public static EvaluationReport Score(double[] target, SplitPredictions predictions, ModelSpec spec, int season, double maseScale)
    {
        var report = HoldoutEvaluation.Evaluate(target, predictions.Origins, predictions.Values, spec.Horizon, season, maseScale);
        return predictions.Quantiles is { } q && predictions.Levels is { } levels
            ? report with { Quantiles = QuantileEvaluation.Evaluate(target, predictions.Origins, q, levels, spec.Horizon) }
            : report;
    }

    /// <summary>
    /// The model's forecasts from each window of <paramref name="windows"/>, in original units: the point values and, for a
    /// quantile head, every level's (see <see cref="DecodeQuantiles"/>).
    /// </summary>
    public static SplitPredictions Predict(ForecastModel model, Preprocessor preprocessor, double[][] columns, WindowSet windows)
    {
        var spec = model.Spec;
        var outputs = Gradients.Predict(model, windows);
        var values = new double[windows.Count][];
        var quantiles = spec.IsQuantile ? new double[windows.Count][][] : null;
        for (int w = 0; w < windows.Count; w++)
        {
            var output = outputs.AsSpan(w * spec.Outputs, spec.Outputs);
            values[w] = preprocessor.Decode(columns, windows.Origins[w], output[..spec.Horizon]);
            if (quantiles is not null) quantiles[w] = DecodeQuantiles(spec, preprocessor, columns, windows.Origins[w], output);
        }
        return new SplitPredictions(windows.Origins, values) { Quantiles = quantiles, Levels = spec.Quantiles };
    }

    /// <summary>
    /// A quantile model's levels for one window in original units, [level][step]. Each level's block is shifted by the
    /// calibration's offsets (<see cref="Preprocessor.QuantileOffsets"/>) and decoded as a point
    /// forecast would be: every normalization maps back through an increasing affine map (its scale is positive: a fitted
    /// standard deviation, range or mean step, never zero or negative), and a one-step log return through exp, so the
    /// order of the levels survives decoding. The values are then sorted across levels at each step: the model's levels
    /// never cross, but a calibration that narrows an interval by more than its half-width would (and a model of format 1,
    /// one pinball head, could cross by itself), and a sorted set is never an inverted interval while each sorted value
    /// keeps its pinball-optimal role (sorting never raises the pinball loss summed over levels).
    /// </summary>
    /// <param name="output">The model's row for the window, [<see cref="ModelSpec.Outputs"/>]: the point, then the levels.</param>
    public static double[][] DecodeQuantiles(ModelSpec spec, Preprocessor preprocessor, double[][] columns, int origin, ReadOnlySpan<float> output)
    {
        int levels = spec.QuantileCount, h = spec.Horizon;
        var result = new double[levels][];
        var offsets = preprocessor.QuantileOffsets;
        var shifted = new float[h];
        for (int q = 0; q < levels; q++)
        {
            // The calibration's offsets (model space) first: they widen an interval before it is mapped back.
            int block = spec.LevelOutput(q);
            for (int k = 0; k < h; k++) shifted[k] = output[block + k] + (q < offsets.Length && k < offsets[q].Length ? (float)offsets[q][k] : 0f);
            result[q] = preprocessor.Decode(columns, origin, shifted);
        }
        SortAcrossLevels(result);
        return result;
    }

    /// <summary>Sorts <paramref name="values"/>[level][step] across levels at each step, so the values never decrease with the level.</summary>
    public static void SortAcrossLevels(double[][] values)
    {
        if (values.Length < 2) return;
        var column = new double[values.Length];
        for (int k = 0; k < values[0].Length; k++)
        {
            for (int q = 0; q < values.Length; q++) column[q] = values[q][k];
            Array.Sort(column);
            for (int q = 0; q < values.Length; q++) values[q][k] = column[q];
        }
    }

    /// <summary>The next H values after the last observation of <paramref name="series"/>.</summary>
    public static IReadOnlyList<ForecastPoint> Forecast(ForecastModel model, Preprocessor preprocessor, TimeSeries series)
    {
        if (series.Length - 1 < preprocessor.FirstOrigin)
            throw new DataException(series.Source, null,
                $"too short to forecast: {series.Length} rows, the model needs at least {preprocessor.FirstOrigin + 1} (its lookback)");
        var window = preprocessor.Windows(series.Columns, [series.Length - 1], withTargets: false);
        var predicted = Predict(model, preprocessor, series.Columns, window);
        var values = predicted.Values[0];
        return values.Select((v, k) => new ForecastPoint(k + 1, series.Time.FutureLabel(k + 1), series.Time.FuturePosition(k + 1), v)
        {
            Quantiles = predicted.Quantiles is { } q ? [.. predicted.Levels!.Select((level, i) => new QuantileValue(level, q[0][i][k]))] : [],
        }).ToArray();
    }

    internal static ModelMetadata Metadata(RunOptions options, PreparedData data, TrainingResult training) => new()
    {
        ProductVersion = typeof(ForecastRun).Assembly.GetName().Version?.ToString() ?? "0",
        TorchSharpVersion = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?",
        CreatedUtc = DateTimeOffset.UtcNow,
        Data = DataSelection.From(options.Data) with { DateFormat = data.Series.DateFormat ?? options.Data.DateFormat },
        DataSha256 = Fingerprint(options.Data.Path),
        DataRows = data.Series.Length,
        TrainingOptions = JsonSerializer.SerializeToElement(options.Training, ModelStore.Json),
        BestEpoch = training.BestEpoch,
        BestValidationLoss = training.BestValidationLoss,
        Season = options.Season,
    };

    public static string Fingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
