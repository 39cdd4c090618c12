using System.Globalization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Configuration;

/// <summary>
/// Every option of a training run as a person spells it (the names of <c>lstmcluster train</c>'s flags
/// without dashes), with the built-in defaults and the accepted choices, and the one mapping to
/// <see cref="RunOptions"/>. The CLI and the HTTP job API both bind through it, so they share defaults,
/// choices and messages.
/// </summary>
public sealed record RunOptionValues
{
    public static readonly IReadOnlyList<string> MissingChoices = ["ffill", "interpolate", "drop", "error"];
    public static readonly IReadOnlyList<string> DuplicateChoices = ["error", "keep-last", "mean"];
    public static readonly IReadOnlyList<string> OptimizerChoices = ["adam", "sgd"];
    public static readonly IReadOnlyList<string> ScheduleChoices = ["constant", "step", "cosine"];
    public static readonly IReadOnlyList<string> TransformChoices = ["none", "log-return"];
    public static readonly IReadOnlyList<string> NormalizeChoices = ["auto", .. NormalizationNames.All];
    public static readonly IReadOnlyList<string> ScalerChoices = ["standard", "minmax"];

    public string Data { get; init; } = "";
    public string Target { get; init; } = "";
    /// <summary>Comma separated.</summary>
    public string? Features { get; init; }
    public string? Symbol { get; init; }
    public string? DateColumn { get; init; }
    /// <summary>A .NET date format (<c>dd/MM/yyyy</c>); null detects it from the whole column.</summary>
    public string? DateFormat { get; init; }
    public string Missing { get; init; } = "ffill";
    /// <summary>Rows sharing a timestamp: error, keep-last or mean.</summary>
    public string OnDuplicate { get; init; } = "error";
    /// <summary>Sort rows by time instead of refusing rows out of order.</summary>
    public bool Sort { get; init; }
    public int Lookback { get; init; } = 32;
    public int Horizon { get; init; } = 1;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public double Dropout { get; init; }
    /// <summary><c>auto</c> (train while validation improves, within <see cref="MaxEpochs"/> and <see cref="MaxTime"/>) or a fixed count.</summary>
    public string Epochs { get; init; } = "auto";
    /// <summary>The epoch budget of <c>--epochs auto</c>.</summary>
    public int MaxEpochs { get; init; } = 1000;
    /// <summary>A wall-clock budget (<c>90s</c>, <c>10m</c>, <c>1h</c>, plain seconds); empty, <c>none</c> or 0 for none.</summary>
    public string MaxTime { get; init; } = "none";
    public int BatchSize { get; init; } = 64;
    public double Lr { get; init; } = 1e-3;
    public string Optimizer { get; init; } = "adam";
    public string LrSchedule { get; init; } = "constant";
    public double ClipNorm { get; init; } = 1.0;
    public int Patience { get; init; } = 10;
    public double MinDelta { get; init; } = 0.001;
    public int LrPlateau { get; init; } = 4;
    public int Season { get; init; } = 1;
    public string Transform { get; init; } = "none";
    public string Normalize { get; init; } = "auto";
    public string Scaler { get; init; } = "standard";
    public long Seed { get; init; } = 42;
    /// <summary>
    /// Quantile levels of a quantile head, comma separated (<c>0.1,0.5,0.9</c>); null or <c>none</c> for a point head.
    /// Checked by <see cref="QuantileLevels.Parse"/>.
    /// </summary>
    public string? Quantiles { get; init; }

    /// <summary>The built-in defaults overridden by the config file's <c>train</c> section.</summary>
    public static RunOptionValues FromDefaults(Defaults d)
    {
        var b = new RunOptionValues();
        return b with
        {
            Missing = d.String("missing", b.Missing),
            OnDuplicate = d.String("on_duplicate", b.OnDuplicate),
            Sort = d.Get("sort", e => e.GetBoolean(), b.Sort),
            Lookback = d.Int("lookback", b.Lookback),
            Horizon = d.Int("horizon", b.Horizon),
            Hidden = d.Int("hidden", b.Hidden),
            Layers = d.Int("layers", b.Layers),
            Dropout = d.Double("dropout", b.Dropout),
            Epochs = d.Text("epochs", b.Epochs),
            MaxEpochs = d.Int("max_epochs", b.MaxEpochs),
            MaxTime = d.Text("max_time", b.MaxTime),
            BatchSize = d.Int("batch_size", b.BatchSize),
            Lr = d.Double("lr", b.Lr),
            Optimizer = d.String("optimizer", b.Optimizer),
            LrSchedule = d.String("lr_schedule", b.LrSchedule),
            ClipNorm = d.Double("clip_norm", b.ClipNorm),
            Patience = d.Int("patience", b.Patience),
            MinDelta = d.Double("min_delta", b.MinDelta),
            LrPlateau = d.Int("lr_plateau", b.LrPlateau),
            Season = d.Int("season", b.Season),
            Transform = d.String("transform", b.Transform),
            Normalize = d.String("normalize", b.Normalize),
            Scaler = d.String("scaler", b.Scaler),
            Seed = d.Long("seed", b.Seed),
            Quantiles = ConfigQuantiles(d, b.Quantiles),
        };
    }

    /// <summary>
    /// Sets one option from its text, by name (<c>batch-size</c> or <c>batch_size</c>); throws
    /// <see cref="ArgumentException"/> naming the option for an unknown name, a malformed number or a value
    /// not among the choices. <c>data</c> is not set here: the caller decides where data may come from.
    /// </summary>
    public RunOptionValues With(string name, string text)
    {
        string key = Key(name);
        text = text.Trim();
        return key switch
        {
            "target" => this with { Target = text },
            "features" => this with { Features = text },
            "symbol" => this with { Symbol = Blank(text) },
            "date-column" => this with { DateColumn = Blank(text) },
            "date-format" => this with { DateFormat = DateFormatText(text) },
            "missing" => this with { Missing = Choice(key, text, MissingChoices) },
            "on-duplicate" => this with { OnDuplicate = Choice(key, text, DuplicateChoices) },
            "sort" => this with { Sort = Bool(key, text) },
            "lookback" => this with { Lookback = Int(key, text) },
            "horizon" => this with { Horizon = Int(key, text) },
            "hidden" => this with { Hidden = Int(key, text) },
            "layers" => this with { Layers = Int(key, text) },
            "dropout" => this with { Dropout = Double(key, text) },
            "epochs" => this with { Epochs = EpochsText(text) },
            "max-epochs" => this with { MaxEpochs = Int(key, text) },
            "max-time" => this with { MaxTime = DurationText(key, text) },
            "batch-size" => this with { BatchSize = Int(key, text) },
            "lr" => this with { Lr = Double(key, text) },
            "optimizer" => this with { Optimizer = Choice(key, text, OptimizerChoices) },
            "lr-schedule" => this with { LrSchedule = Choice(key, text, ScheduleChoices) },
            "clip-norm" => this with { ClipNorm = Double(key, text) },
            "patience" => this with { Patience = Int(key, text) },
            "min-delta" => this with { MinDelta = Double(key, text) },
            "lr-plateau" => this with { LrPlateau = Int(key, text) },
            "season" => this with { Season = Int(key, text) },
            "transform" => this with { Transform = Choice(key, text, TransformChoices) },
            "normalize" => this with { Normalize = Choice(key, text, NormalizeChoices) },
            "scaler" => this with { Scaler = Choice(key, text, ScalerChoices) },
            "seed" => this with { Seed = Long(key, text) },
            "quantiles" => this with { Quantiles = QuantilesText(text) },
            _ => throw new ArgumentException($"unknown option '{name}'"),
        };
    }

    /// <summary>True for the names <see cref="With"/> accepts (any spelling).</summary>
    public static bool IsOption(string name) => Names.Contains(Key(name));

    /// <summary>
    /// An option's name in the flag's spelling: <c>batch-size</c> for <c>batch-size</c>, <c>batch_size</c> or <c>batchSize</c>.
    /// </summary>
    public static string Key(string name)
    {
        var sb = new System.Text.StringBuilder();
        string trimmed = name.Trim();
        for (int i = 0; i < trimmed.Length; i++)
        {
            char c = trimmed[i];
            if (char.IsUpper(c) && i > 0 && char.IsLower(trimmed[i - 1])) sb.Append('-');
            sb.Append(c == '_' ? '-' : char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    public static readonly IReadOnlySet<string> Names = new HashSet<string>(
    [
        "target", "features", "symbol", "date-column", "date-format", "missing", "on-duplicate", "sort", "lookback", "horizon", "hidden", "layers", "dropout", "epochs",
        "max-epochs", "max-time", "batch-size", "lr", "optimizer", "lr-schedule", "clip-norm", "patience", "min-delta", "lr-plateau", "season", "transform", "normalize", "scaler", "seed", "quantiles",
    ]);

    /// <summary>The run these values describe; a value outside its choices is an <see cref="ArgumentException"/>.</summary>
    public RunOptions ToRunOptions()
    {
        if (string.IsNullOrWhiteSpace(Target)) throw new ArgumentException("a target column is required (target)");
        if (DateFormat is { } format) DateFormatText(format);
        string missing = Choice("missing", Missing, MissingChoices);
        string duplicate = Choice("on-duplicate", OnDuplicate, DuplicateChoices);
        string optimizer = Choice("optimizer", Optimizer, OptimizerChoices);
        string schedule = Choice("lr-schedule", LrSchedule, ScheduleChoices);
        string normalize = Choice("normalize", Normalize, NormalizeChoices);
        string scaler = Choice("scaler", Scaler, ScalerChoices);
        var transform = Choice("transform", Transform, TransformChoices) == "log-return" ? TargetTransform.LogReturn : TargetTransform.None;
        bool autoEpochs = EpochsText(Epochs) == "auto";
        if (autoEpochs && MaxEpochs is < 1 or > TrainingOptions.MaxEpochs)
            throw new ArgumentException($"max-epochs must be between 1 and {TrainingOptions.MaxEpochs} (got {MaxEpochs})");
        var features = (Features ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        double[]? quantiles = Quantiles is { } q && QuantilesText(q) is { } levels ? QuantileLevels.Parse(levels) : null;
        return new RunOptions
        {
            Data = new CsvSeriesOptions
            {
                Path = Data,
                Target = Target,
                Features = features,
                Symbol = Symbol,
                DateColumn = DateColumn,
                DateFormat = DateFormat,
                Missing = Enum.Parse<MissingPolicy>(missing, ignoreCase: true),
                OnDuplicate = duplicate switch { "keep-last" => DuplicatePolicy.KeepLast, "mean" => DuplicatePolicy.Mean, _ => DuplicatePolicy.Error },
                Sort = Sort,
            },
            Preprocessing = new PreprocessingOptions
            {
                Lookback = Lookback,
                Horizon = Horizon,
                Transform = transform,
                Normalize = NormalizationNames.Parse(normalize) ?? PreprocessingOptions.Auto(Season, transform),
                Season = Season,
                Scaler = scaler == "minmax" ? ScalerKind.MinMax : ScalerKind.Standard,
            },
            AutoNormalize = normalize == "auto",
            Quantiles = quantiles,
            Hidden = Hidden,
            Layers = Layers,
            Dropout = Dropout,
            Season = Season,
            Training = new TrainingOptions
            {
                Epochs = autoEpochs ? MaxEpochs : Int("epochs", Epochs),
                AutoEpochs = autoEpochs,
                MaxTime = Duration("max-time", MaxTime),
                BatchSize = BatchSize,
                LearningRate = Lr,
                Optimizer = optimizer == "sgd" ? OptimizerKind.Sgd : OptimizerKind.Adam,
                Schedule = schedule switch
                {
                    "step" => LearningRateSchedule.Step,
                    "cosine" => LearningRateSchedule.Cosine,
                    _ => LearningRateSchedule.Constant,
                },
                ClipNorm = ClipNorm,
                Patience = Patience,
                MinDelta = MinDelta,
                LrPlateau = LrPlateau,
                Seed = Seed,
            },
        };
    }

    /// <summary>The config file's <c>quantiles</c> (a string such as "0.1,0.5,0.9", "none" or null), checked.</summary>
    private static string? ConfigQuantiles(Defaults d, string? fallback)
    {
        string? text = d.Get<string?>("quantiles", e => e.ValueKind == System.Text.Json.JsonValueKind.Null ? null : e.GetString(), fallback);
        try
        {
            return text is null ? null : QuantilesText(text);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"config key train.quantiles: {e.Message}");
        }
    }

    /// <summary>Quantile levels as given (checked), or null for <c>none</c> / <c>off</c>: the way to turn off a config file's levels.</summary>
    private static string? QuantilesText(string text)
    {
        text = text.Trim();
        if (text.ToLowerInvariant() is "none" or "off") return null;
        QuantileLevels.Parse(text);
        return text;
    }

    /// <summary><c>auto</c> or a whole number of epochs, as given.</summary>
    private static string EpochsText(string text)
    {
        text = text.Trim();
        if (string.Equals(text, "auto", StringComparison.OrdinalIgnoreCase)) return "auto";
        Int("epochs", text.Length == 0 ? "?" : text, "epochs must be 'auto' or an integer");
        return text;
    }

    /// <summary>
    /// A duration as <c>90s</c>, <c>10m</c>, <c>1.5h</c> or plain seconds; empty, <c>none</c>, <c>off</c> or 0 is no limit.
    /// </summary>
    public static TimeSpan Duration(string name, string text)
    {
        text = text.Trim().ToLowerInvariant();
        if (text is "" or "none" or "off") return TimeSpan.Zero;
        double unit = text[^1] switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => 0 };
        string number = unit > 0 ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < 0 || v > 1e7)
            throw new ArgumentException($"{name} must be a duration such as 90s, 10m or 2h, or none (got '{text}')");
        return TimeSpan.FromSeconds(v * (unit > 0 ? unit : 1));
    }

    private static string DurationText(string name, string text)
    {
        Duration(name, text);
        return text;
    }

    private static string? Blank(string text) => text.Length == 0 ? null : text;

    private static string? DateFormatText(string text)
    {
        if (Blank(text.Trim()) is not { } format) return null;
        return DateReading.Problem(format) is { } problem ? throw new ArgumentException(problem) : format;
    }

    private static string Choice(string name, string text, IReadOnlyList<string> choices)
    {
        var match = choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase));
        return match ?? throw new ArgumentException($"{name} must be one of {string.Join(", ", choices)} (got '{text}')");
    }

    /// <summary>true or false (also 1/0, yes/no); an empty value, a flag given alone, is true.</summary>
    private static bool Bool(string name, string text) => text.Trim().ToLowerInvariant() switch
    {
        "" or "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw new ArgumentException($"{name} must be true or false (got '{text}')"),
    };

    private static int Int(string name, string text, string? problem = null) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new ArgumentException($"{problem ?? $"{name} must be an integer"} (got '{text}')");

    private static long Long(string name, string text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v
            : throw new ArgumentException($"{name} must be an integer (got '{text}')");

    private static double Double(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v
            : throw new ArgumentException($"{name} must be a number (got '{text}')");
}
