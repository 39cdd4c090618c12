using System.Text.Json.Serialization;

namespace LstmCluster.Core.Data;

[JsonConverter(typeof(JsonStringEnumConverter<TargetTransform>))]
public enum TargetTransform
{
    None,
    /// <summary>The target becomes ln(y[t] / y[t-1]); forecasts are compounded back to prices exactly.</summary>
    LogReturn,
}

[JsonConverter(typeof(JsonStringEnumConverter<Normalization>))]
public enum Normalization
{
    /// <summary>
    /// Each window relative to itself: (value − the window's last value) / s, with s the standard
    /// deviation of first differences on the training split. Lets the model follow a level it never
    /// saw in training (prices, trends).
    /// </summary>
    Window,
    /// <summary>
    /// As <see cref="Window"/>, but each window is also divided by its own mean absolute step
    /// (floored at 5 % of the training split's), so a pattern whose amplitude grows with the level
    /// (multiplicative seasonality) looks the same to the model early and late in the series.
    /// </summary>
    WindowScaled,
    /// <summary>
    /// As <see cref="Window"/> for the inputs; each target step is taken relative to whichever naive
    /// forecast of that step was closer on the training split: the last value, or the seasonal-naive
    /// value (the same season one period earlier, <see cref="PreprocessingOptions.Season"/>). A zero
    /// output is then the better naive forecast, and the model learns the deviation from it.
    /// </summary>
    WindowSeasonal,
    /// <summary>One scaler (<see cref="ScalerKind"/>) fitted on the training split.</summary>
    Global,
}

/// <summary>
/// How the command line, the job API, metrics.json, reports and sub-run ids spell a <see cref="Normalization"/>
/// (<c>WindowSeasonal</c>: <c>window-seasonal</c>): one table, read both ways.
/// </summary>
public static class NormalizationNames
{
    private static readonly (Normalization Value, string Name)[] Table =
    [
        (Normalization.Window, "window"),
        (Normalization.WindowSeasonal, "window-seasonal"),
        (Normalization.WindowScaled, "window-scaled"),
        (Normalization.Global, "global"),
    ];

    /// <summary>Every spelling, in the order the help and the API document list them.</summary>
    public static IReadOnlyList<string> All { get; } = [.. Table.Select(t => t.Name)];

    public static string Name(Normalization n) => Table.First(t => t.Value == n).Name;

    /// <summary>The normalization spelled <paramref name="name"/>, or null for any other word (<c>auto</c>).</summary>
    public static Normalization? Parse(string name) => Table.Where(t => t.Name == name).Select(t => (Normalization?)t.Value).FirstOrDefault();
}

[JsonConverter(typeof(JsonStringEnumConverter<ScalerKind>))]
public enum ScalerKind
{
    Standard,
    MinMax,
}

/// <summary>Options that shape the data the model sees.</summary>
public sealed record PreprocessingOptions
{
    public int Lookback { get; init; } = 32;
    public int Horizon { get; init; } = 1;
    public TargetTransform Transform { get; init; } = TargetTransform.None;
    public Normalization Normalize { get; init; } = Normalization.Window;
    public ScalerKind Scaler { get; init; } = ScalerKind.Standard;
    public double TrainFraction { get; init; } = 0.70;
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>Seasonal period, used by <see cref="Normalization.WindowSeasonal"/>.</summary>
    public int Season { get; init; } = 1;

    /// <summary>
    /// The normalization that makes an untrained model equal the natural naive forecast:
    /// seasonal naive for a seasonal series (season &gt; 1, no log returns), the last value otherwise.
    /// </summary>
    public static Normalization Auto(int season, TargetTransform transform) =>
        season > 1 && transform == TargetTransform.None ? Normalization.WindowSeasonal : Normalization.Window;
}

/// <summary>
/// Chronological split of a series of <see cref="Length"/> rows: train is [0, TrainEnd),
/// validation [TrainEnd, ValidationEnd), test [ValidationEnd, Length).
/// </summary>
public sealed record SplitPoints(int Length, int TrainEnd, int ValidationEnd)
{
    public int TrainRows => TrainEnd;
    public int ValidationRows => ValidationEnd - TrainEnd;
    public int TestRows => Length - ValidationEnd;

    public static SplitPoints Of(int length, double trainFraction, double validationFraction)
    {
        if (trainFraction <= 0 || validationFraction < 0 || trainFraction + validationFraction >= 1)
            throw new ArgumentException($"split fractions must be positive and leave a test part (train {trainFraction}, validation {validationFraction})");
        int trainEnd = (int)Math.Round(length * trainFraction);
        int validationEnd = (int)Math.Round(length * (trainFraction + validationFraction));
        return new SplitPoints(length, trainEnd, validationEnd);
    }
}

/// <summary>
/// The fitted, serialisable mapping between a series in original units and the model's space.
/// Everything here is fitted on the training split only (no look-ahead leakage), and every
/// mapping has an exact inverse so predictions come back in original units.
/// </summary>
public sealed record Preprocessor
{
    public required int Lookback { get; init; }
    public required int Horizon { get; init; }
    public required int Features { get; init; }
    public required TargetTransform Transform { get; init; }
    public required Normalization Normalize { get; init; }
    public required ScalerKind Scaler { get; init; }
    public int Season { get; init; } = 1;
    /// <summary>Window-seasonal: per target step, true when it is measured from the seasonal-naive value.</summary>
    public bool[] SeasonalSteps { get; init; } = [];
    /// <summary>
    /// A quantile head's calibration: per level, per step, a value added to the head's output (model space) before
    /// decoding (<see cref="Forecasting.QuantileCalibration"/>); empty for a point head or an uncalibrated one.
    /// </summary>
    public double[][] QuantileOffsets { get; init; } = [];
    /// <summary>
    /// A global model's series-id input (<c>--series-id one-hot</c>): how many series the model was trained on, each window
    /// carrying a one-hot indicator of its series after the data columns; 0 (the default) for no such input.
    /// </summary>
    public int SeriesCount { get; init; }
    /// <summary>With <see cref="SeriesCount"/> above 0: this series' index among them (0-based), the position of its 1.</summary>
    public int SeriesIndex { get; init; }
    /// <summary>Per column, in transformed space: subtracted before scaling (global) — unused for window.</summary>
    public required double[] Center { get; init; }
    /// <summary>Per column: divisor (global: std or range; window: std of first differences).</summary>
    public required double[] Scale { get; init; }

    /// <summary>Inputs per time step the model takes: the data columns, then the series-id indicator (if any).</summary>
    [JsonIgnore]
    public int InputSize => Features + SeriesCount;

    /// <summary>Rows the transform consumes at the start (1 for log returns).</summary>
    [JsonIgnore]
    public int Offset => Transform == TargetTransform.LogReturn ? 1 : 0;

    /// <summary>Smallest origin (index of a window's last observed row) that has a full lookback.</summary>
    [JsonIgnore]
    public int FirstOrigin => Lookback - 1 + Offset;

    /// <summary>Fits on rows [0, trainEnd) of <paramref name="columns"/> (column 0 the target).</summary>
    public static Preprocessor Fit(double[][] columns, int trainEnd, PreprocessingOptions options, string source)
    {
        if (options.Transform == TargetTransform.LogReturn)
        {
            var target = columns[0];
            for (int i = 0; i < target.Length; i++)
                if (!(target[i] > 0))
                    throw new DataException(source, null,
                        $"log-return transform needs a positive target, but row {i + 1} of the data holds {target[i]}");
        }

        int features = columns.Length;
        var probe = new Preprocessor
        {
            Lookback = options.Lookback,
            Horizon = options.Horizon,
            Features = features,
            Transform = options.Transform,
            Normalize = options.Normalize,
            Scaler = options.Scaler,
            Season = options.Season,
            Center = new double[features],
            Scale = new double[features],
        };
        var center = new double[features];
        var scale = new double[features];
        for (int c = 0; c < features; c++)
        {
            // Fitting sees transformed rows whose raw index is < trainEnd, nothing after.
            var values = new List<double>(trainEnd);
            for (int raw = probe.Offset; raw < trainEnd; raw++) values.Add(probe.TransformedValue(columns, c, raw));
            if (options.Normalize is not Normalization.Global)
            {
                var diffs = new double[Math.Max(0, values.Count - 1)];
                for (int i = 1; i < values.Count; i++) diffs[i - 1] = values[i] - values[i - 1];
                center[c] = 0;
                scale[c] = NonZero(StdDev(diffs), values);
            }
            else if (options.Scaler == ScalerKind.Standard)
            {
                center[c] = values.Count > 0 ? values.Average() : 0;
                scale[c] = NonZero(StdDev(values), values);
            }
            else
            {
                double min = values.Count > 0 ? values.Min() : 0, max = values.Count > 0 ? values.Max() : 1;
                center[c] = min;
                scale[c] = NonZero(max - min, values);
            }
        }
        return probe with { Center = center, Scale = scale, SeasonalSteps = ChooseSeasonalSteps(probe, columns, trainEnd) };
    }

    /// <summary>
    /// For each target step, whether seasonal naive beat the last value (lower mean absolute error)
    /// on the training split's windows. Uses rows before <paramref name="trainEnd"/> only.
    /// </summary>
    private static bool[] ChooseSeasonalSteps(Preprocessor p, double[][] columns, int trainEnd)
    {
        var steps = new bool[p.Horizon];
        if (p.Normalize != Normalization.WindowSeasonal || p.Season < 2) return steps;
        for (int k = 0; k < p.Horizon; k++)
        {
            int step = k + 1, back = p.Season * ((step + p.Season - 1) / p.Season);
            double naive = 0, seasonal = 0;
            int count = 0;
            for (int origin = Math.Max(p.FirstOrigin, p.Offset + back - step); origin + step < trainEnd; origin++)
            {
                double actual = p.TransformedValue(columns, 0, origin + step);
                naive += Math.Abs(actual - p.TransformedValue(columns, 0, origin));
                seasonal += Math.Abs(actual - p.TransformedValue(columns, 0, origin + step - back));
                count++;
            }
            steps[k] = count > 0 && seasonal < naive;
        }
        return steps;
    }

    /// <summary>Value of column <paramref name="c"/> at raw row <paramref name="raw"/> after the transform.</summary>
    public double TransformedValue(double[][] columns, int c, int raw)
    {
        if (c == 0 && Transform == TargetTransform.LogReturn)
            return Math.Log(columns[0][raw] / columns[0][raw - 1]);
        return columns[c][raw];
    }

    /// <summary>
    /// Windows whose last observed row is each of <paramref name="origins"/>; targets are the
    /// <see cref="Horizon"/> rows after it, or zeros when <paramref name="withTargets"/> is false
    /// (forecasting past the end).
    /// </summary>
    public WindowSet Windows(double[][] columns, IReadOnlyList<int> origins, bool withTargets = true)
    {
        int inputs = InputSize, stride = Lookback * inputs;
        var x = new float[origins.Count * stride];
        var y = new float[origins.Count * Horizon];
        for (int w = 0; w < origins.Count; w++)
        {
            int origin = origins[w];
            if (origin < FirstOrigin || origin >= columns[0].Length || (withTargets && origin + Horizon >= columns[0].Length))
                throw new ArgumentOutOfRangeException(nameof(origins), $"origin {origin} has no full window");
            for (int c = 0; c < Features; c++)
            {
                double anchor = Anchor(columns, c, origin), scale = WindowScale(columns, c, origin);
                for (int t = 0; t < Lookback; t++)
                {
                    int raw = origin - Lookback + 1 + t;
                    x[w * stride + t * inputs + c] = (float)((TransformedValue(columns, c, raw) - anchor) / scale);
                }
            }
            // The series-id indicator: the same 1 at every time step of the window.
            if (SeriesCount > 0)
                for (int t = 0; t < Lookback; t++) x[w * stride + t * inputs + Features + SeriesIndex] = 1f;
            if (!withTargets) continue;
            double targetScale = WindowScale(columns, 0, origin);
            for (int k = 0; k < Horizon; k++)
                y[w * Horizon + k] = (float)((TransformedValue(columns, 0, origin + 1 + k) - TargetAnchor(columns, origin, k)) / targetScale);
        }
        return new WindowSet(x, y, [.. origins], Lookback, inputs, Horizon);
    }

    /// <summary>
    /// Maps the model's <see cref="Horizon"/> outputs for the window ending at
    /// <paramref name="origin"/> back to the target in original units.
    /// </summary>
    public double[] Decode(double[][] columns, int origin, ReadOnlySpan<float> modelOutput)
    {
        double scale = WindowScale(columns, 0, origin);
        var result = new double[Horizon];
        double level = columns[0][origin];
        for (int k = 0; k < Horizon; k++)
        {
            double z = modelOutput[k] * scale + TargetAnchor(columns, origin, k);
            if (Transform == TargetTransform.LogReturn)
            {
                // Each output is one step's log return: compound from the last observed price.
                level *= Math.Exp(z);
                result[k] = level;
            }
            else
            {
                result[k] = z;
            }
        }
        return result;
    }

    /// <summary>What a window subtracts from column c: its last value (window) or the fitted center (global).</summary>
    private double Anchor(double[][] columns, int c, int origin) =>
        Normalize == Normalization.Global ? Center[c] : TransformedValue(columns, c, origin);

    /// <summary>
    /// What target step k (0-based) of the window ending at <paramref name="origin"/> is measured
    /// from: the seasonal-naive value y[t + k + 1 − m·ceil((k + 1)/m)] when it lies inside the
    /// series (window-seasonal), else the window's anchor.
    /// </summary>
    private double TargetAnchor(double[][] columns, int origin, int k)
    {
        if (Normalize == Normalization.WindowSeasonal && Season > 1 && k < SeasonalSteps.Length && SeasonalSteps[k])
        {
            int step = k + 1;
            int source = origin + step - Season * ((step + Season - 1) / Season);
            if (source >= Offset) return TransformedValue(columns, 0, source);
        }
        return Anchor(columns, 0, origin);
    }

    /// <summary>What a window divides column c by: the fitted scale, or (window-scaled) the window's own mean absolute step.</summary>
    private double WindowScale(double[][] columns, int c, int origin)
    {
        if (Normalize != Normalization.WindowScaled || Lookback < 2) return Scale[c];
        double sum = 0;
        int first = origin - Lookback + 1;
        for (int raw = first + 1; raw <= origin; raw++)
            sum += Math.Abs(TransformedValue(columns, c, raw) - TransformedValue(columns, c, raw - 1));
        return Math.Max(sum / (Lookback - 1), 0.05 * Scale[c]);
    }

    private static double StdDev(IReadOnlyCollection<double> values)
    {
        if (values.Count < 2) return 0;
        double mean = values.Average();
        double ss = values.Sum(v => (v - mean) * (v - mean));
        return Math.Sqrt(ss / (values.Count - 1));
    }

    // A column constant on the training split would divide by zero: scale by its magnitude instead.
    private static double NonZero(double scale, IReadOnlyCollection<double> values)
    {
        if (scale > 1e-12 && double.IsFinite(scale)) return scale;
        double magnitude = values.Count > 0 ? values.Max(Math.Abs) : 0;
        return magnitude > 1e-12 ? magnitude : 1.0;
    }
}
