using System.Globalization;

/// <summary>
/// The benches' series: a sine of period 50 around 10 with uniform noise of amplitude 0.1, from a fixed seed, so every
/// bench, and every process of the suite (the CSV the `lstmcluster` runs read, the values the sync floor builds in
/// memory), trains on the same values.
/// </summary>
internal static class BenchSeries
{
    public static double[] Sine(int points)
    {
        var rng = new Random(1);
        return Enumerable.Range(0, points).Select(i => 10 + Math.Sin(i * 2 * Math.PI / 50) + 0.1 * rng.NextDouble()).ToArray();
    }

    /// <summary>The same values as a CSV file's lines (<c>step,value</c>), written round-trip exact.</summary>
    public static string[] Csv(int points) =>
        ["step,value", .. Sine(points).Select((v, i) => string.Create(CultureInfo.InvariantCulture, $"{i},{v:R}"))];
}
