using System.CommandLine;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// The data, model and training options shared by every command that trains (train, backtest),
/// declared once and bound to <see cref="RunOptions"/>. Defaults come from config/.
/// </summary>
public sealed class RunArguments
{
    public Option<FileInfo> Data { get; } = new("--data") { Description = "CSV file with a header row", Required = true };
    public Option<string> Target { get; } = new("--target") { Description = "column to forecast", Required = true };
    public Option<string?> Features { get; } = new("--features") { Description = "extra input columns, comma separated (e.g. Open,High,Low,Volume)" };
    public Option<string?> Symbol { get; } = new("--symbol") { Description = "long format (symbol,date,price): the symbol to use" };
    public Option<string?> DateColumn { get; } = new("--date-column") { Description = "date/time column (default: a column named date, time or timestamp)" };
    public Option<string> Missing { get; }
    public Option<int> Lookback { get; }
    public Option<int> Horizon { get; }
    public Option<int> Hidden { get; }
    public Option<int> Layers { get; }
    public Option<double> Dropout { get; }
    public Option<int> Epochs { get; }
    public Option<int> BatchSize { get; }
    public Option<double> Lr { get; }
    public Option<string> Optimizer { get; }
    public Option<string> LrSchedule { get; }
    public Option<double> ClipNorm { get; }
    public Option<int> Patience { get; }
    public Option<int> Season { get; }
    public Option<string> Transform { get; }
    public Option<string> Normalize { get; }
    public Option<string> Scaler { get; }
    public Option<long> Seed { get; }

    public RunArguments(Defaults d)
    {
        Missing = Choice("--missing", "missing values: ffill, interpolate, drop or error", d.String("missing", "ffill"), "ffill", "interpolate", "drop", "error");
        Lookback = Int("--lookback", "time steps the model sees", d.Int("lookback", 32));
        Horizon = Int("--horizon", "steps forecast at once", d.Int("horizon", 1));
        Hidden = Int("--hidden", "LSTM hidden units per layer", d.Int("hidden", 64));
        Layers = Int("--layers", "stacked LSTM layers", d.Int("layers", 2));
        Dropout = Dbl("--dropout", "dropout between LSTM layers", d.Double("dropout", 0));
        Epochs = Int("--epochs", "maximum epochs", d.Int("epochs", 50));
        BatchSize = Int("--batch-size", "windows per optimizer step", d.Int("batch_size", 64));
        Lr = Dbl("--lr", "learning rate", d.Double("lr", 1e-3));
        Optimizer = Choice("--optimizer", "adam or sgd", d.String("optimizer", "adam"), "adam", "sgd");
        LrSchedule = Choice("--lr-schedule", "constant, step (halve every 10 epochs) or cosine", d.String("lr_schedule", "constant"), "constant", "step", "cosine");
        ClipNorm = Dbl("--clip-norm", "clip the gradient norm to this (0: off)", d.Double("clip_norm", 1.0));
        Patience = Int("--patience", "stop after this many epochs without a better validation loss (0: never)", d.Int("patience", 5));
        Season = Int("--season", "seasonal period for MASE and seasonal naive (12 for monthly data)", d.Int("season", 1));
        Transform = Choice("--transform", "none, or log-return (prices)", d.String("transform", "none"), "none", "log-return");
        Normalize = Choice("--normalize", "auto (window-seasonal when --season > 1, else window), window (each window relative to its last value), window-seasonal (targets relative to the seasonal-naive value), window-scaled (also divided by its own mean step) or global (one scaler)", d.String("normalize", "auto"), "auto", "window", "window-seasonal", "window-scaled", "global");
        Scaler = Choice("--scaler", "with --normalize global: standard or minmax", d.String("scaler", "standard"), "standard", "minmax");
        Seed = new Option<long>("--seed") { Description = "random seed (same seed, same machine: identical run)", DefaultValueFactory = _ => d.Long("seed", 42) };
    }

    public IEnumerable<Option> All =>
    [
        Data, Target, Features, Symbol, DateColumn, Missing, Lookback, Horizon, Hidden, Layers, Dropout, Epochs, BatchSize,
        Lr, Optimizer, LrSchedule, ClipNorm, Patience, Season, Transform, Normalize, Scaler, Seed,
    ];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    public RunOptions Bind(ParseResult p)
    {
        var transform = p.GetValue(Transform) == "log-return" ? TargetTransform.LogReturn : TargetTransform.None;
        var features = (p.GetValue(Features) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new RunOptions
        {
            Data = new CsvSeriesOptions
            {
                Path = p.GetValue(Data)!.FullName,
                Target = p.GetValue(Target)!,
                Features = features,
                Symbol = p.GetValue(Symbol),
                DateColumn = p.GetValue(DateColumn),
                Missing = Enum.Parse<MissingPolicy>(p.GetValue(Missing)!, ignoreCase: true),
            },
            Preprocessing = new PreprocessingOptions
            {
                Lookback = p.GetValue(Lookback),
                Horizon = p.GetValue(Horizon),
                Transform = transform,
                Normalize = p.GetValue(Normalize) switch
                {
                    "global" => Normalization.Global,
                    "window-scaled" => Normalization.WindowScaled,
                    "window-seasonal" => Normalization.WindowSeasonal,
                    "window" => Normalization.Window,
                    _ => PreprocessingOptions.Auto(p.GetValue(Season), transform),
                },
                Season = p.GetValue(Season),
                Scaler = p.GetValue(Scaler) == "minmax" ? ScalerKind.MinMax : ScalerKind.Standard,
            },
            Hidden = p.GetValue(Hidden),
            Layers = p.GetValue(Layers),
            Dropout = p.GetValue(Dropout),
            Season = p.GetValue(Season),
            Training = new TrainingOptions
            {
                Epochs = p.GetValue(Epochs),
                BatchSize = p.GetValue(BatchSize),
                LearningRate = p.GetValue(Lr),
                Optimizer = p.GetValue(Optimizer) == "sgd" ? OptimizerKind.Sgd : OptimizerKind.Adam,
                Schedule = p.GetValue(LrSchedule) switch
                {
                    "step" => LearningRateSchedule.Step,
                    "cosine" => LearningRateSchedule.Cosine,
                    _ => LearningRateSchedule.Constant,
                },
                ClipNorm = p.GetValue(ClipNorm),
                Patience = p.GetValue(Patience),
                Seed = p.GetValue(Seed),
            },
        };
    }

    private static Option<int> Int(string name, string description, int fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    private static Option<double> Dbl(string name, string description, double fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    private static Option<string> Choice(string name, string description, string fallback, params string[] choices)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.AcceptOnlyFromAmong(choices);
        return option;
    }
}
