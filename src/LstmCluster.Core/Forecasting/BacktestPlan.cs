using LstmCluster.Core.Data;

namespace LstmCluster.Core.Forecasting;

/// <summary>
/// One rolling-origin fold, in row indices of the series. The model may see rows [0, <see cref="TrainEnd"/>):
/// the preprocessor is fitted and gradient steps are taken on [0, <see cref="ValidationStart"/>), early stopping
/// watches [<see cref="ValidationStart"/>, <see cref="TrainEnd"/>). The fold is scored on the windows whose
/// targets all lie in its test block [<see cref="TestStart"/>, <see cref="TestEnd"/>); their inputs may reach
/// back into the training range, as they would in use.
/// </summary>
/// <param name="Number">1-based, in chronological order.</param>
public sealed record BacktestFold(int Number, int ValidationStart, int TrainEnd, int TestStart, int TestEnd)
{
    public int TrainRows => TrainEnd;
    public int ValidationRows => TrainEnd - ValidationStart;
    public int TestPoints => TestEnd - TestStart;

    /// <summary>Origins (last observed row) of the test windows for <paramref name="horizon"/>-step forecasts.</summary>
    public int[] TestOrigins(int horizon)
    {
        // The first window ends on the last training row, so its first target is TestStart; the last one's
        // final target is TestEnd - 1.
        int first = TestStart - 1, last = TestEnd - 1 - horizon;
        return last < first ? [] : Enumerable.Range(first, last - first + 1).ToArray();
    }
}

/// <summary>
/// Where the folds of a rolling-origin backtest with an expanding window fall.
/// <para>
/// The last <see cref="TestFraction"/> of the series (at least <c>folds × horizon</c> rows) is cut into
/// <c>folds</c> consecutive test blocks of equal size that end at the last row; any remainder of the
/// division goes to the training range of the first fold, so every fold is scored on the same number of
/// points. Fold i trains on everything before its block, so later folds see more history (expanding
/// window) and no fold sees a row of its own block or any later one. Each fold holds out the last
/// <see cref="PreprocessingOptions.ValidationFraction"/> (default 15 %) of its own training range, at least
/// one horizon, for early stopping; the preprocessor is fitted on the rows before that tail, as in
/// <c>train</c>.
/// </para>
/// <para>
/// Equal blocks make per-fold errors comparable; a fixed share of the series (rather than a fixed block
/// size) keeps the first fold's training range at about 70 % whatever the number of folds, so asking for
/// more folds gives shorter blocks, not a weaker first model.
/// </para>
/// </summary>
public static class BacktestPlan
{
    /// <summary>Share of the series, at its end, divided into the test blocks.</summary>
    public const double TestFraction = 0.30;

    public const int MaxFolds = 1000;

    /// <summary>
    /// The folds for a series of <paramref name="length"/> rows, in chronological order. Throws
    /// <see cref="ArgumentException"/> for a fold count out of range, or when the series is too short for the
    /// first fold to train on at least one window, saying how many folds would fit and how many rows
    /// <paramref name="folds"/> folds need.
    /// </summary>
    public static IReadOnlyList<BacktestFold> Folds(int length, int folds, PreprocessingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (folds is < 1 or > MaxFolds) throw new ArgumentException($"folds must be between 1 and {MaxFolds} (got {folds})");
        if (options.Lookback < 1) throw new ArgumentException($"lookback must be at least 1 (got {options.Lookback})");
        if (options.Horizon < 1) throw new ArgumentException($"horizon must be at least 1 (got {options.Horizon})");
        if (options.ValidationFraction is < 0 or >= 1)
            throw new ArgumentException($"validation fraction must be in [0, 1) (got {options.ValidationFraction})");
        if (length < 0) throw new ArgumentException($"length must not be negative (got {length})");

        if (!Fits(length, folds, options)) throw new ArgumentException(TooShort(length, folds, options));

        int h = options.Horizon;
        int block = BlockSize(length, folds, h);
        int firstTest = length - block * folds;
        var plan = new BacktestFold[folds];
        for (int i = 0; i < folds; i++)
        {
            int testStart = firstTest + i * block;
            plan[i] = new BacktestFold(i + 1, testStart - ValidationRows(testStart, options), testStart, testStart, testStart + block);
        }
        return plan;
    }

    private static int BlockSize(int length, int folds, int horizon) =>
        Math.Max((int)Math.Round(length * TestFraction), folds * horizon) / folds;

    private static int ValidationRows(int trainEnd, PreprocessingOptions o) =>
        Math.Max(o.Horizon, (int)Math.Round(trainEnd * o.ValidationFraction));

    /// <summary>Rows before the first window's first target, plus one window's targets.</summary>
    private static int MinimumFitRows(PreprocessingOptions o) =>
        o.Lookback + o.Horizon + (o.Transform == TargetTransform.LogReturn ? 1 : 0);

    // The first fold has the shortest training range and later folds' fitting ranges never shrink
    // (t - max(h, round(f·t)) is non-decreasing in t for f < 1), so checking it is enough.
    private static bool Fits(int length, int folds, PreprocessingOptions o)
    {
        if (length < 1) return false;
        int trainEnd = length - BlockSize(length, folds, o.Horizon) * folds;
        return trainEnd - ValidationRows(trainEnd, o) >= MinimumFitRows(o);
    }

    private static string TooShort(int length, int folds, PreprocessingOptions o)
    {
        int fitting = 0;
        for (int k = folds - 1; k >= 1 && fitting == 0; k--)
            if (Fits(length, k, o)) fitting = k;
        int needed = length + 1;
        while (needed < int.MaxValue / 2 && !Fits(needed, folds, o)) needed++;
        string what = $"lookback {o.Lookback} + horizon {o.Horizon}" + (o.Transform == TargetTransform.LogReturn ? " (+1 for log returns)" : "");
        string advice = fitting > 0 ? $"at most {fitting} fold{(fitting == 1 ? "" : "s")} fit (--folds {fitting})" : "not even 1 fold fits";
        return $"too short for {folds} backtest folds: {length} rows, but {what} with the last {TestFraction:P0} of the series " +
            $"split into {folds} test blocks of at least {o.Horizon} row(s) needs at least {needed} rows; {advice}";
    }
}
