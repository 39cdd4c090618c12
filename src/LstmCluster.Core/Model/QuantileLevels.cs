using System.Globalization;

namespace LstmCluster.Core.Model;

/// <summary>
/// Quantile levels as a person writes them (<c>0.1,0.5,0.9</c>) and the checks every path shares (CLI, job API, config
/// file, model files): each level in (0, 1), strictly increasing, none repeated.
/// </summary>
public static class QuantileLevels
{
    /// <summary>
    /// The levels of <paramref name="text"/>, with 0.5 added when missing (the point forecast is the median); throws
    /// <see cref="ArgumentException"/> with a one-line message starting with "quantiles" for an empty list, a word, a level
    /// outside (0, 1), a repeat or a level out of order.
    /// </summary>
    public static double[] Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0))
            throw new ArgumentException("quantiles must list levels in (0, 1) separated by commas, such as 0.1,0.5,0.9 (got an empty list)");
        var levels = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out levels[i]) || !double.IsFinite(levels[i]))
                throw new ArgumentException($"quantiles must be numbers in (0, 1) separated by commas, such as 0.1,0.5,0.9 (got '{parts[i]}' in '{text}')");
        }
        if (Problem(levels) is { } problem) throw new ArgumentException(problem);
        return WithMedian(levels);
    }

    /// <summary>Why <paramref name="levels"/> cannot be a quantile head's, or null.</summary>
    public static string? Problem(IReadOnlyList<double> levels)
    {
        if (levels.Count == 0) return "quantiles must list at least one level in (0, 1)";
        foreach (var q in levels)
            if (!(q > 0 && q < 1)) return $"quantiles must each lie strictly between 0 and 1 (got {Format(q)})";
        for (int i = 1; i < levels.Count; i++)
        {
            if (levels[i] == levels[i - 1]) return $"quantiles must not repeat a level ({Format(levels[i])} is given twice)";
            if (levels[i] < levels[i - 1])
                return $"quantiles must be in increasing order ({Format(levels[i - 1])} comes before {Format(levels[i])})";
        }
        if (levels.Count > ModelSpec.MaxQuantiles) return $"quantiles must be at most {ModelSpec.MaxQuantiles} levels (got {levels.Count})";
        return null;
    }

    /// <summary><paramref name="levels"/> (sorted) with 0.5 inserted in order when it is not there.</summary>
    public static double[] WithMedian(IReadOnlyList<double> levels) =>
        levels.Contains(0.5) ? [.. levels] : [.. levels.Append(0.5).Order()];

    /// <summary>A level as its column is named: <c>q0.1</c>.</summary>
    public static string ColumnName(double level) => "q" + Format(level);

    public static string Format(double level) => level.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>
    /// The central intervals the levels form: each lower level below 0.5 whose mirror 1 − level is also given, widest first,
    /// as (lower index, upper index, nominal coverage = upper − lower).
    /// </summary>
    public static IReadOnlyList<(int Lower, int Upper, double Nominal)> CentralIntervals(IReadOnlyList<double> levels)
    {
        var result = new List<(int, int, double)>();
        for (int i = 0; i < levels.Count && levels[i] < 0.5; i++)
        {
            for (int j = levels.Count - 1; j > i; j--)
            {
                if (Math.Abs(levels[i] + levels[j] - 1) < 1e-9)
                {
                    result.Add((i, j, Math.Round(levels[j] - levels[i], 10)));
                    break;
                }
            }
        }
        return result;
    }
}
