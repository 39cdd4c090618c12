namespace LstmCluster.Core.Data;

/// <summary>
/// A series made ready for training: split chronologically, preprocessing fitted on the training
/// rows, and the train / validation / test windows. A window belongs to the split its targets fall
/// in; its inputs may reach back into earlier splits, which is what a forecaster sees in use.
/// </summary>
public sealed class PreparedData
{
    private PreparedData(TimeSeries series, SplitPoints split, Preprocessor preprocessor,
        WindowSet train, WindowSet validation, WindowSet test)
    {
        Series = series;
        Split = split;
        Preprocessor = preprocessor;
        Train = train;
        Validation = validation;
        Test = test;
    }

    public TimeSeries Series { get; }
    public SplitPoints Split { get; }
    public Preprocessor Preprocessor { get; }
    public WindowSet Train { get; }
    public WindowSet Validation { get; }
    public WindowSet Test { get; }

    /// <summary>MASE's denominator for this split: the training rows' mean absolute seasonal step (<see cref="Evaluation.Metrics.MaseScale"/>).</summary>
    public double MaseScale(int season) => Evaluation.Metrics.MaseScale(Series.Target.AsSpan(0, Split.TrainEnd), season);

    /// <summary>Splits by <see cref="PreprocessingOptions.TrainFraction"/> and <see cref="PreprocessingOptions.ValidationFraction"/>.</summary>
    public static PreparedData Build(TimeSeries series, PreprocessingOptions options) =>
        Build(series, options, SplitPoints.Of(series.Length, options.TrainFraction, options.ValidationFraction));

    /// <summary>Splits at the given points (a backtest fold); <paramref name="split"/> must cover the whole series.</summary>
    public static PreparedData Build(TimeSeries series, PreprocessingOptions options, SplitPoints split)
    {
        if (options.Lookback < 1) throw new ArgumentException($"lookback must be at least 1 (got {options.Lookback})");
        if (options.Horizon < 1) throw new ArgumentException($"horizon must be at least 1 (got {options.Horizon})");
        int n = series.Length;
        if (split.Length != n || split.TrainEnd < 0 || split.TrainEnd > split.ValidationEnd || split.ValidationEnd > n)
            throw new ArgumentException($"split {split} does not fit a series of {n} rows");
        int offset = options.Transform == TargetTransform.LogReturn ? 1 : 0;
        if (!LongEnough(split, options, offset))
        {
            int needed = MinimumRows(options, offset);
            throw new DataException(series.Source, null,
                $"too short: {n} rows, but lookback {options.Lookback} + horizon {options.Horizon}" +
                (offset > 0 ? " (+1 for log returns)" : "") +
                $" needs at least {needed} rows for the train / validation / test split " +
                $"({options.TrainFraction:P0} / {options.ValidationFraction:P0} / {1 - options.TrainFraction - options.ValidationFraction:P0})");
        }

        var preprocessor = Preprocessor.Fit(series.Columns, split.TrainEnd, options, series.Source);
        int first = preprocessor.FirstOrigin, h = options.Horizon;
        var train = preprocessor.Windows(series.Columns, Range(first, split.TrainEnd - 1 - h));
        var validation = preprocessor.Windows(series.Columns, Range(Math.Max(first, split.TrainEnd - 1), split.ValidationEnd - 1 - h));
        var test = preprocessor.Windows(series.Columns, Range(Math.Max(first, split.ValidationEnd - 1), n - 1 - h));
        return new PreparedData(series, split, preprocessor, train, validation, test);
    }

    /// <summary>
    /// The same series, split and preprocessor with other training and validation windows: what one model over several
    /// series trains on (every series' windows joined, see <see cref="WindowSet.Concat"/>); the test windows stay this series'.
    /// </summary>
    public PreparedData WithTraining(WindowSet train, WindowSet validation) => new(Series, Split, Preprocessor, train, validation, Test);

    /// <summary>
    /// The same series, split and fitted preprocessing with a series-id input (<c>--series-id one-hot</c>): this series is
    /// <paramref name="index"/> of <paramref name="count"/>, and every window (train, validation, test; the forecast's) carries
    /// its one-hot indicator after the data columns.
    /// </summary>
    public PreparedData WithSeriesId(int index, int count)
    {
        if (count < 1 || index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index), $"series {index} of {count}");
        var p = Preprocessor with { SeriesIndex = index, SeriesCount = count };
        return new(Series, Split, p, p.Windows(Series.Columns, Train.Origins), p.Windows(Series.Columns, Validation.Origins), p.Windows(Series.Columns, Test.Origins));
    }

    /// <summary>The window ending at the last observation, for forecasting the future.</summary>
    public WindowSet ForecastWindow() => Preprocessor.Windows(Series.Columns, [Series.Length - 1], withTargets: false);

    private static bool LongEnough(SplitPoints s, PreprocessingOptions o, int offset) =>
        s.TrainRows >= o.Lookback + o.Horizon + offset && s.ValidationRows >= o.Horizon && s.TestRows >= o.Horizon;

    private static int MinimumRows(PreprocessingOptions o, int offset)
    {
        for (int n = 2; n < 100_000_000; n++)
            if (LongEnough(SplitPoints.Of(n, o.TrainFraction, o.ValidationFraction), o, offset)) return n;
        return int.MaxValue;
    }

    private static int[] Range(int fromInclusive, int toInclusive) =>
        toInclusive < fromInclusive ? [] : Enumerable.Range(fromInclusive, toInclusive - fromInclusive + 1).ToArray();
}
