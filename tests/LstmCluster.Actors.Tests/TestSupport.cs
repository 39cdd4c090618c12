using System.Globalization;
using System.Text;
using Akka.Configuration;
using LstmCluster.Actors.Embedded;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Tests;

/// <summary>
/// TorchSharp's random generator is process-wide and two cores are shared: tests that train run
/// one at a time in this collection, each with fixed seeds.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "torch";
}

public static class TestSupport
{
    /// <summary>Every message crosses the serializer, as it would between nodes.</summary>
    public const string SerializeEverything = """
        akka.actor.serialize-messages = on
        akka.actor.serialize-creators = off
        akka.loglevel = INFO
        """;

    public static Config Config => EmbeddedEngine.Configuration(SerializeEverything);

    public static readonly ModelSpec TinySpec = new(InputSize: 1, HiddenSize: 8, NumLayers: 1, Horizon: 1);

    /// <summary>A noisy sine wave, the same every run.</summary>
    public static double[] Sine(int length, int seed = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(i => 10 + Math.Sin(i * 2 * Math.PI / 25) + 0.1 * (rng.NextDouble() - 0.5)).ToArray();
    }

    public static PreparedData SineData(int length = 240, int lookback = 12, int horizon = 1)
    {
        var values = Sine(length);
        var series = new TimeSeries
        {
            Source = "sine",
            ColumnNames = ["value"],
            Columns = [values],
            Time = TimeAxis.None(values.Length),
        };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = lookback, Horizon = horizon });
    }

    public static string SineCsv(int length = 240)
    {
        var csv = new StringBuilder("date,value\n");
        var start = new DateTime(2020, 1, 1);
        foreach (var (v, i) in Sine(length).Select((v, i) => (v, i)))
            csv.Append(CultureInfo.InvariantCulture, $"{start.AddDays(i):yyyy-MM-dd},{v:R}\n");
        return csv.ToString();
    }

    public static RunOptions SineRun(int epochs = 2) => new()
    {
        Data = new CsvSeriesOptions { Path = "sine.csv", Target = "value" },
        Preprocessing = new PreprocessingOptions { Lookback = 12, Horizon = 2 },
        Hidden = 8,
        Layers = 1,
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 7 },
    };

    public static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}
