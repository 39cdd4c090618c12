using System.Text.Json.Serialization;

namespace LstmCluster.Core.Model;

/// <summary>
/// Shape of a <see cref="ForecastModel"/>: everything needed to rebuild it before loading weights.
/// </summary>
/// <param name="InputSize">Features per time step (the target plus any extra input columns).</param>
/// <param name="HiddenSize">LSTM hidden units per layer.</param>
/// <param name="NumLayers">Stacked LSTM layers.</param>
/// <param name="Horizon">Values forecast at once (direct multi-step head).</param>
/// <param name="Dropout">Dropout between stacked LSTM layers (PyTorch semantics: not after the last).</param>
/// <param name="Quantiles">
/// Null or empty: a point head of <see cref="Horizon"/> outputs trained on the mean squared error. Otherwise the
/// quantile levels (strictly increasing in (0, 1), 0.5 among them) of a quantile head of Horizon × levels outputs,
/// trained on the mean pinball loss; the 0.5 level is the point forecast.
/// </param>
public sealed record ModelSpec(int InputSize, int HiddenSize, int NumLayers, int Horizon, double Dropout = 0, double[]? Quantiles = null)
{
    /// <summary>The most quantile levels a head may have.</summary>
    public const int MaxQuantiles = 99;

    /// <summary>Quantile levels of the head (0 for a point head).</summary>
    [JsonIgnore]
    public int QuantileCount => Quantiles?.Length ?? 0;

    /// <summary>True for a quantile head.</summary>
    [JsonIgnore]
    public bool IsQuantile => QuantileCount > 0;

    /// <summary>
    /// Values the head emits per window: <see cref="Horizon"/>, or Horizon × <see cref="QuantileCount"/> laid out level by
    /// level (output q·Horizon + k is step k + 1 of level q), so each level's block decodes like a point forecast.
    /// </summary>
    [JsonIgnore]
    public int Outputs => Horizon * Math.Max(1, QuantileCount);

    /// <summary>Index of the 0.5 level in <see cref="Quantiles"/> (the point forecast), or 0 for a point head.</summary>
    [JsonIgnore]
    public int MedianIndex => IsQuantile ? Array.IndexOf(Quantiles!, 0.5) : 0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first absurd value.</summary>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException($"input size must be at least 1 (got {InputSize})");
        if (HiddenSize is < 1 or > 4096) throw new ArgumentException($"hidden size must be between 1 and 4096 (got {HiddenSize})");
        if (NumLayers is < 1 or > 16) throw new ArgumentException($"layers must be between 1 and 16 (got {NumLayers})");
        if (Horizon is < 1 or > 10_000) throw new ArgumentException($"horizon must be between 1 and 10000 (got {Horizon})");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new ArgumentException($"dropout must be in [0, 1) (got {Dropout})");
        if (Quantiles is { Length: > 0 } levels)
        {
            if (QuantileLevels.Problem(levels) is { } problem) throw new ArgumentException(problem);
            if (Array.IndexOf(levels, 0.5) < 0) throw new ArgumentException("quantiles must include 0.5, the point forecast");
        }
    }

    /// <summary>Number of scalars in the flat parameter vector (PyTorch's nn.LSTM + nn.Linear layout).</summary>
    public int ParameterCount => checked((int)Parameters);

    /// <summary><see cref="ParameterCount"/> without the overflow: what a budget compares, however large the options.</summary>
    public long Parameters
    {
        get
        {
            long gates = 4L * HiddenSize;
            long total = 0;
            for (int layer = 0; layer < NumLayers; layer++)
            {
                long input = layer == 0 ? InputSize : HiddenSize;
                total += gates * input + gates * HiddenSize + 2 * gates;
            }
            total += (long)Outputs * HiddenSize + Outputs;
            return total;
        }
    }
}
