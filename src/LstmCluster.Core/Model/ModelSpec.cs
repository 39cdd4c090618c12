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
/// quantile levels (strictly increasing in (0, 1), 0.5 among them) the model also forecasts, laid out as
/// <see cref="QuantileHead"/> says.
/// </param>
public sealed record ModelSpec(int InputSize, int HiddenSize, int NumLayers, int Horizon, double Dropout = 0, double[]? Quantiles = null)
{
    /// <summary>The most quantile levels a head may have.</summary>
    public const int MaxQuantiles = 99;

    /// <summary>
    /// How a model with <see cref="Quantiles"/> makes them: <see cref="QuantileHead.PointOffsets"/> (what training builds),
    /// or <see cref="QuantileHead.Median"/>, the layout of quantile models saved before it (model format 1), which can be
    /// loaded and forecast with but not trained. Written to <c>spec.json</c> only when it is not the default.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public QuantileHead QuantileHead { get; init; }

    /// <summary>True for a model saved with the <see cref="QuantileHead.Median"/> layout.</summary>
    [JsonIgnore]
    public bool IsMedianHead => IsQuantile && QuantileHead == QuantileHead.Median;

    /// <summary>Quantile levels of the head (0 for a point head).</summary>
    [JsonIgnore]
    public int QuantileCount => Quantiles?.Length ?? 0;

    /// <summary>True for a quantile head.</summary>
    [JsonIgnore]
    public bool IsQuantile => QuantileCount > 0;

    /// <summary>
    /// Values the model emits per window (<see cref="ForecastModel.forward"/>): the point forecast's <see cref="Horizon"/>
    /// values, then with quantiles Horizon values per level, level by level (output (1 + q)·Horizon + k is step k + 1 of
    /// level q), so every block decodes like a point forecast.
    /// </summary>
    [JsonIgnore]
    public int Outputs => Horizon * (1 + QuantileCount);

    /// <summary>Where level <paramref name="level"/>'s block starts in a row of <see cref="Outputs"/>.</summary>
    public int LevelOutput(int level) => Horizon * (1 + level);

    /// <summary>Index of the 0.5 level in <see cref="Quantiles"/>, or 0 for a point head.</summary>
    [JsonIgnore]
    public int MedianIndex => IsQuantile ? Array.IndexOf(Quantiles!, 0.5) : 0;

    /// <summary>
    /// Values of the linear head on the LSTM's last hidden state: the point forecast's <see cref="Horizon"/>, or with the
    /// <see cref="QuantileHead.Median"/> layout Horizon × levels (the 0.5 level's block is the point forecast).
    /// </summary>
    [JsonIgnore]
    public int HeadOutputs => IsMedianHead ? Horizon * QuantileCount : Horizon;

    /// <summary>Values of the offset head (<see cref="QuantileHead.PointOffsets"/>): Horizon × levels, or 0.</summary>
    [JsonIgnore]
    public int OffsetOutputs => IsQuantile && !IsMedianHead ? Horizon * QuantileCount : 0;

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
            total += (long)HeadOutputs * HiddenSize + HeadOutputs;
            return total + OffsetParameters;
        }
    }

    /// <summary>
    /// Scalars of the offset head, at the end of the flat parameter vector; the optimizer clips them apart from the rest
    /// (the LSTM and the point head), whose steps are then those of the same model without quantiles.
    /// </summary>
    [JsonIgnore]
    public long OffsetParameters => (long)OffsetOutputs * HiddenSize + OffsetOutputs;
}

/// <summary>How a model forecasts its quantile levels.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QuantileHead>))]
public enum QuantileHead
{
    /// <summary>
    /// The point head trained on the mean squared error, as without quantiles, and beside it an offset head on the same
    /// (detached) LSTM state: the 0.5 level is the point plus a learned offset, the others are spaced from it by positive
    /// gaps, trained on the pinball loss of the point's residual (<see cref="ForecastModel"/>). Model format 2.
    /// </summary>
    PointOffsets,

    /// <summary>
    /// Model format 1: one head of Horizon × levels outputs trained on the pinball loss alone, its 0.5 level the point
    /// forecast. Loaded from older model files to forecast with; never trained.
    /// </summary>
    Median,
}
