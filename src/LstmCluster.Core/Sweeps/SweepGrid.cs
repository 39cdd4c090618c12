using System.Globalization;
using LstmCluster.Core.Configuration;

namespace LstmCluster.Core.Sweeps;

/// <summary>One swept option and the values it takes, as the user wrote them (<c>hidden=32,64</c>).</summary>
public sealed record SweepParameter(string Name, IReadOnlyList<string> Values);

/// <summary>One combination of a grid: its number (from 1, in grid order) and each swept option's value.</summary>
public sealed record SweepTrial(int Number, IReadOnlyList<KeyValuePair<string, string>> Parameters)
{
    /// <summary><c>hidden=32 lookback=24 lr=1e-3</c>: how the trial is named in tables and files.</summary>
    public string Label => string.Join(" ", Parameters.Select(p => $"{p.Key}={p.Value}"));

    /// <summary>The base options with this trial's values set (through <see cref="RunOptionValues.With"/>, so with its checks).</summary>
    public RunOptionValues Apply(RunOptionValues values) => Parameters.Aggregate(values, (v, p) => v.With(p.Key, p.Value));
}

/// <summary>
/// A grid of options to sweep (<c>lstmcluster sweep --grid hidden=32,64 lookback=24,48 lr=1e-3,3e-3</c>): every combination is
/// a trial. Only options of the model and its training can be swept; the data (what is forecast) and the epochs (the sweep
/// gives each trial its budget) cannot. A grid is checked whole before anything trains: unknown or unsweepable names, bad
/// values and more combinations than the limit are refused with what to change.
/// </summary>
public sealed class SweepGrid
{
    /// <summary>Combinations a sweep runs unless <c>--max-trials</c> says otherwise.</summary>
    public const int DefaultMaxTrials = 64;

    /// <summary>The most <c>--max-trials</c> may allow: each trial is at least one training.</summary>
    public const int MaxTrialsLimit = 1024;

    /// <summary>The options a grid may vary, in the order they are listed in messages.</summary>
    public static readonly IReadOnlyList<string> Sweepable =
    [
        "lookback", "hidden", "layers", "dropout", "batch-size", "lr", "optimizer", "lr-schedule", "clip-norm", "patience", "min-delta",
        "lr-plateau", "normalize", "scaler", "transform", "seed",
    ];

    public IReadOnlyList<SweepParameter> Parameters { get; }

    private SweepGrid(IReadOnlyList<SweepParameter> parameters) => Parameters = parameters;

    /// <summary>Number of combinations.</summary>
    public long Count => Parameters.Aggregate(1L, (n, p) => n * p.Values.Count);

    /// <summary>
    /// Reads <c>name=v1,v2</c> tokens (a token may hold several separated by spaces) and checks each value against
    /// <paramref name="baseValues"/> (so <c>hidden=0</c> or <c>optimizer=rmsprop</c> is refused before training).
    /// Throws <see cref="ArgumentException"/> saying what is wrong.
    /// </summary>
    public static SweepGrid Parse(IEnumerable<string> tokens, RunOptionValues baseValues, int maxTrials = DefaultMaxTrials)
    {
        if (maxTrials is < 1 or > MaxTrialsLimit)
            throw new ArgumentException($"max-trials must be between 1 and {MaxTrialsLimit} (got {maxTrials})");
        var parameters = new List<SweepParameter>();
        foreach (var token in tokens.SelectMany(t => t.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int eq = token.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"grid: '{Cut(token)}' is not name=value,value (e.g. hidden=32,64)");
            string name = RunOptionValues.Key(token[..eq]);
            if (!Sweepable.Contains(name))
            {
                string sweepable = $"these can be swept: {string.Join(", ", Sweepable)}";
                throw new ArgumentException(
                    name is "epochs" or "max-epochs" or "max-time" ? $"grid: {name} cannot be swept: the sweep gives each trial its epochs (--max-epochs is the last round's, --eta sets the rounds); {sweepable}"
                    : RunOptionValues.IsOption(name) ? $"grid: {name} cannot be swept: it chooses the data, not the model or its training; {sweepable}"
                    : $"grid: unknown parameter '{Cut(token[..eq])}'; {sweepable}");
            }
            if (parameters.Any(p => p.Name == name)) throw new ArgumentException($"grid: {name} is given twice; list its values once (e.g. {name}=a,b)");
            var values = token[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries);
            if (values.Length == 0 || values.Any(v => v.Length == 0)) throw new ArgumentException($"grid: {name} has an empty value ('{Cut(token)}')");
            var duplicate = values.GroupBy(v => v, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new ArgumentException($"grid: {name} lists {Cut(duplicate.Key)} twice");
            foreach (var value in values)
            {
                try
                {
                    baseValues.With(name, value).ToRunOptions().Validate();
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"grid: {name}={Cut(value)}: {e.Message}");
                }
            }
            parameters.Add(new SweepParameter(name, values));
        }
        if (parameters.Count == 0) throw new ArgumentException("grid: no parameters (e.g. --grid hidden=32,64 lr=1e-3,3e-3)");
        var grid = new SweepGrid(parameters);
        if (grid.Count > maxTrials)
            throw new ArgumentException(
                $"grid: {grid.Count.ToString(CultureInfo.InvariantCulture)} combinations ({string.Join(" × ", parameters.Select(p => $"{p.Name} {p.Values.Count}"))}) " +
                $"is over the limit of {maxTrials} (--max-trials, at most {MaxTrialsLimit}): sweep fewer values");
        return grid;
    }

    /// <summary>Every combination, the last parameter varying fastest.</summary>
    public IReadOnlyList<SweepTrial> Trials()
    {
        var trials = new List<SweepTrial>();
        var index = new int[Parameters.Count];
        for (int number = 1; number <= Count; number++)
        {
            trials.Add(new SweepTrial(number, [.. Parameters.Select((p, i) => new KeyValuePair<string, string>(p.Name, p.Values[index[i]]))]));
            for (int i = Parameters.Count - 1; i >= 0; i--)
            {
                if (++index[i] < Parameters[i].Values.Count) break;
                index[i] = 0;
            }
        }
        return trials;
    }

    private static string Cut(string text) => text.Length <= 40 ? text : $"{text[..40]}... ({text.Length} characters)";
}
