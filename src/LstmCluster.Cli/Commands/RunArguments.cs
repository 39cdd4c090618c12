using System.CommandLine;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// The data, model and training options shared by every command that trains (train, backtest),
/// declared once and bound to <see cref="RunOptions"/> through Core's <see cref="RunOptionValues"/>
/// (shared with the HTTP job API). Defaults come from config/.
/// </summary>
public sealed class RunArguments
{
    public Option<FileInfo> Data { get; } = new("--data") { Description = "CSV file with a header row", Required = true };
    public Option<string> Target { get; } = new("--target") { Description = "column to forecast", Required = true };
    public Option<string?> Features { get; } = new("--features") { Description = "extra input columns, comma separated (e.g. Open,High,Low,Volume)" };
    public Option<string?> Symbol { get; } = new("--symbol") { Description = "long format (symbol,date,price): the symbol to use; `train` also takes `all` or a list (A,B,C): one model per series, see --strategy" };
    public Option<string?> DateColumn { get; } = new("--date-column") { Description = "date/time column (default: a column named date, time or timestamp)" };
    public Option<string?> DateFormat { get; } = new("--date-format") { Description = "how the dates are written, in .NET notation (dd/MM/yyyy, MM/dd/yyyy HH:mm; MM is the month, mm the minutes); default: detected from every value, and a column that reads both day-first and month-first is refused" };
    public Option<string> Missing { get; }
    public Option<string> OnDuplicate { get; }
    public Option<bool> Sort { get; }
    public Option<int> Lookback { get; }
    public Option<int> Horizon { get; }
    public Option<int> Hidden { get; }
    public Option<int> Layers { get; }
    public Option<double> Dropout { get; }
    public Option<string> Epochs { get; }
    public Option<int> MaxEpochs { get; }
    public Option<string> MaxTime { get; }
    public Option<int> BatchSize { get; }
    public Option<double> Lr { get; }
    public Option<string> Optimizer { get; }
    public Option<string> LrSchedule { get; }
    public Option<double> ClipNorm { get; }
    public Option<int> Patience { get; }
    public Option<double> MinDelta { get; }
    public Option<int> LrPlateau { get; }
    public Option<int> Season { get; }
    public Option<string> Transform { get; }
    public Option<string> Normalize { get; }
    public Option<string> Scaler { get; }
    public Option<long> Seed { get; }
    public Option<string?> Quantiles { get; }

    public RunArguments(Defaults d)
    {
        var v = RunOptionValues.FromDefaults(d);
        Missing = Choice("--missing", "missing values: ffill, interpolate, drop or error", v.Missing, RunOptionValues.MissingChoices);
        OnDuplicate = Choice("--on-duplicate", "rows sharing a timestamp: error (refuse the file), keep-last (the later row wins) or mean (of each column); needs a time column", v.OnDuplicate, RunOptionValues.DuplicateChoices);
        Sort = new Option<bool>("--sort") { Description = "sort the rows by time instead of refusing rows out of order; needs a time column", DefaultValueFactory = _ => v.Sort };
        Lookback = Int("--lookback", "time steps the model sees", v.Lookback);
        Horizon = Int("--horizon", "steps forecast at once", v.Horizon);
        Hidden = Int("--hidden", "LSTM hidden units per layer", v.Hidden);
        Layers = Int("--layers", "stacked LSTM layers", v.Layers);
        Dropout = Dbl("--dropout", "dropout between LSTM layers", v.Dropout);
        Epochs = new Option<string>("--epochs") { Description = "auto (train while the validation loss improves, within --max-epochs and --max-time) or a fixed number of epochs (early stopping still applies; 0 --patience turns it off)", DefaultValueFactory = _ => v.Epochs };
        MaxEpochs = Int("--max-epochs", "with --epochs auto: the most epochs", v.MaxEpochs);
        MaxTime = new Option<string>("--max-time") { Description = "stop at the first epoch end after this much training time (90s, 10m, 2h; none)", DefaultValueFactory = _ => v.MaxTime };
        BatchSize = Int("--batch-size", "windows per optimizer step", v.BatchSize);
        Lr = Dbl("--lr", "learning rate", v.Lr);
        Optimizer = Choice("--optimizer", "adam or sgd", v.Optimizer, RunOptionValues.OptimizerChoices);
        LrSchedule = Choice("--lr-schedule", "constant, step (halve every 10 epochs) or cosine", v.LrSchedule, RunOptionValues.ScheduleChoices);
        ClipNorm = Dbl("--clip-norm", "clip the gradient norm to this (0: off)", v.ClipNorm);
        Patience = Int("--patience", "stop after this many epochs without progress on the validation loss (0: never)", v.Patience);
        MinDelta = Dbl("--min-delta", "the relative fall of the validation loss that counts as progress (0.001: 0.1 %)", v.MinDelta);
        LrPlateau = Int("--lr-plateau", "halve the learning rate after this many epochs without progress (0: never)", v.LrPlateau);
        Season = Int("--season", "seasonal period for MASE and seasonal naive (12 for monthly data)", v.Season);
        Transform = Choice("--transform", "none, or log-return (prices)", v.Transform, RunOptionValues.TransformChoices);
        Normalize = Choice("--normalize", "auto (train window-seasonal when --season > 1, window and global; keep the lowest validation error), window (each window relative to its last value), window-seasonal (targets relative to the seasonal-naive value), window-scaled (also divided by its own mean step) or global (one scaler)", v.Normalize, RunOptionValues.NormalizeChoices);
        Scaler = Choice("--scaler", "with --normalize global: standard or minmax", v.Scaler, RunOptionValues.ScalerChoices);
        Seed = new Option<long>("--seed") { Description = "random seed (same seed, same machine: identical run)", DefaultValueFactory = _ => v.Seed };
        Quantiles = new Option<string?>("--quantiles")
        {
            Description = "train a quantile head on the pinball loss for these levels, increasing, in (0, 1), comma separated (0.1,0.5,0.9: an 80 % interval); " +
                "0.5 is added when missing and is the point forecast; none: a point head",
            DefaultValueFactory = _ => v.Quantiles,
        };
    }

    public IEnumerable<Option> All =>
    [
        Data, Target, Features, Symbol, DateColumn, DateFormat, Missing, OnDuplicate, Sort, Lookback, Horizon, Hidden, Layers, Dropout, Epochs, MaxEpochs, MaxTime,
        BatchSize, Lr, Optimizer, LrSchedule, ClipNorm, Patience, MinDelta, LrPlateau, Season, Transform, Normalize, Scaler, Seed, Quantiles,
    ];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    public RunOptions Bind(ParseResult p) => Values(p).ToRunOptions();

    /// <summary>The parsed options as <see cref="RunOptionValues"/> (what <c>submit</c> sends to a server by name).</summary>
    public RunOptionValues Values(ParseResult p) => new()
    {
        Data = p.GetValue(Data)?.FullName ?? "",
        Target = p.GetValue(Target)!,
        Features = p.GetValue(Features),
        Symbol = p.GetValue(Symbol),
        DateColumn = p.GetValue(DateColumn),
        DateFormat = p.GetValue(DateFormat),
        Missing = p.GetValue(Missing)!,
        OnDuplicate = p.GetValue(OnDuplicate)!,
        Sort = p.GetValue(Sort),
        Lookback = p.GetValue(Lookback),
        Horizon = p.GetValue(Horizon),
        Hidden = p.GetValue(Hidden),
        Layers = p.GetValue(Layers),
        Dropout = p.GetValue(Dropout),
        Epochs = p.GetValue(Epochs)!,
        MaxEpochs = p.GetValue(MaxEpochs),
        MaxTime = p.GetValue(MaxTime)!,
        BatchSize = p.GetValue(BatchSize),
        Lr = p.GetValue(Lr),
        Optimizer = p.GetValue(Optimizer)!,
        LrSchedule = p.GetValue(LrSchedule)!,
        ClipNorm = p.GetValue(ClipNorm),
        Patience = p.GetValue(Patience),
        MinDelta = p.GetValue(MinDelta),
        LrPlateau = p.GetValue(LrPlateau),
        Season = p.GetValue(Season),
        Transform = p.GetValue(Transform)!,
        Normalize = p.GetValue(Normalize)!,
        Scaler = p.GetValue(Scaler)!,
        Seed = p.GetValue(Seed),
        Quantiles = p.GetValue(Quantiles),
    };

    private static Option<int> Int(string name, string description, int fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    private static Option<double> Dbl(string name, string description, double fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    private static Option<string> Choice(string name, string description, string fallback, IReadOnlyList<string> choices)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.AcceptOnlyFromAmong([.. choices]);
        return option;
    }
}
