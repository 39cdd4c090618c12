using System.Globalization;

/// <summary>
/// A benchmark's <c>--name value</c> pairs, read the same way by every benchmark of this project: a name without its
/// value at the end is ignored, a later pair overrides an earlier one.
/// </summary>
internal sealed class BenchOptions(string[] args)
{
    private readonly Dictionary<string, string> map = Read(args);

    private static Dictionary<string, string> Read(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) map[args[i].TrimStart('-')] = args[i + 1];
        return map;
    }

    public string? Get(string name) => map.GetValueOrDefault(name);

    public string Get(string name, string fallback) => map.GetValueOrDefault(name, fallback);

    public int Int(string name, int fallback) => map.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>A comma-separated list of integers (<c>--workers 1,2,4</c>).</summary>
    public int[] Ints(string name, int[] fallback) =>
        map.TryGetValue(name, out var v) ? [.. v.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))] : fallback;
}
