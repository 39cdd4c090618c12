using System.Text.Json.Serialization;

namespace LstmCluster.Core.Training;

[JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    Adam,
    Sgd,
}

[JsonConverter(typeof(JsonStringEnumConverter<LearningRateSchedule>))]
public enum LearningRateSchedule
{
    Constant,
    /// <summary>Multiply by <see cref="TrainingOptions.LrDecay"/> every <see cref="TrainingOptions.LrStepEpochs"/> epochs.</summary>
    Step,
    /// <summary>Cosine annealing from the initial rate to 1 % of it over the planned epochs.</summary>
    Cosine,
}

/// <summary>Why training ended.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StopReason>))]
public enum StopReason
{
    /// <summary>Patience ran out: the validation loss stopped improving.</summary>
    EarlyStop,
    /// <summary>The epoch limit (<see cref="TrainingOptions.Epochs"/>) was reached.</summary>
    EpochLimit,
    /// <summary>The wall-clock budget (<see cref="TrainingOptions.MaxTime"/>) ran out.</summary>
    TimeBudget,
}

/// <summary>How the master weights are optimised; shared by the reference trainer and the parameter server.</summary>
public sealed record TrainingOptions
{
    /// <summary>The most epochs a job may ask for.</summary>
    public const int MaxEpochs = 100_000;

    /// <summary>The epoch limit: a fixed count, or with <see cref="AutoEpochs"/> the budget early stopping works within.</summary>
    public int Epochs { get; init; } = 50;
    /// <summary>
    /// <c>--epochs auto</c>: train until patience runs out, <see cref="Epochs"/> being only a budget. The rule is the
    /// same either way; this says which the user asked for, so a fixed count that ended while the model still improved
    /// can be reported.
    /// </summary>
    public bool AutoEpochs { get; init; }
    /// <summary>Wall-clock budget, checked at epoch ends; zero means none.</summary>
    public TimeSpan MaxTime { get; init; }
    /// <summary>Global batch: windows per optimizer step, summed over all workers.</summary>
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; }
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;
    public int LrStepEpochs { get; init; } = 10;
    public double LrDecay { get; init; } = 0.5;
    /// <summary>Gradient-norm clipping threshold; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Epochs without a better validation loss before stopping; 0 turns early stopping off.</summary>
    public int Patience { get; init; } = 5;
    /// <summary>
    /// The relative fall of the validation loss that counts as progress for patience and the plateau rule: an epoch
    /// progresses when its loss is below best·(1 − MinDelta). The best weights are kept on any fall. Noise-sized wiggles
    /// then do not reset patience forever.
    /// </summary>
    public double MinDelta { get; init; }
    /// <summary>Epochs without progress after which the learning rate is multiplied by <see cref="LrPlateauFactor"/>; 0 turns it off.</summary>
    public int LrPlateau { get; init; }
    public double LrPlateauFactor { get; init; } = 0.5;
    public long Seed { get; init; } = 42;

    public void Validate()
    {
        if (Epochs is < 1 or > MaxEpochs) throw new ArgumentException($"epochs must be between 1 and {MaxEpochs} (got {Epochs})");
        if (BatchSize is < 1 or > 1_000_000) throw new ArgumentException($"batch size must be between 1 and 1000000 (got {BatchSize})");
        if (!(LearningRate > 0 && LearningRate <= 10)) throw new ArgumentException($"learning rate must be in (0, 10] (got {LearningRate})");
        if (Momentum is < 0 or >= 1) throw new ArgumentException($"momentum must be in [0, 1) (got {Momentum})");
        if (WeightDecay < 0) throw new ArgumentException($"weight decay must not be negative (got {WeightDecay})");
        if (LrStepEpochs < 1) throw new ArgumentException($"lr step must be at least 1 epoch (got {LrStepEpochs})");
        if (LrDecay is <= 0 or > 1) throw new ArgumentException($"lr decay must be in (0, 1] (got {LrDecay})");
        if (ClipNorm < 0 || double.IsNaN(ClipNorm)) throw new ArgumentException($"clip norm must be 0 (off) or positive (got {ClipNorm})");
        if (Patience < 0) throw new ArgumentException($"patience must not be negative (got {Patience})");
        if (MaxTime < TimeSpan.Zero) throw new ArgumentException($"max time must not be negative (got {MaxTime})");
        if (MinDelta is < 0 or >= 1 || double.IsNaN(MinDelta)) throw new ArgumentException($"min delta must be in [0, 1) (got {MinDelta})");
        if (LrPlateau < 0) throw new ArgumentException($"lr plateau must not be negative (got {LrPlateau})");
        if (LrPlateauFactor is <= 0 or > 1 || double.IsNaN(LrPlateauFactor)) throw new ArgumentException($"lr plateau factor must be in (0, 1] (got {LrPlateauFactor})");
    }

    /// <summary>Learning rate for a 1-based epoch.</summary>
    public double LearningRateAt(int epoch) => Schedule switch
    {
        LearningRateSchedule.Step => LearningRate * Math.Pow(LrDecay, (epoch - 1) / LrStepEpochs),
        LearningRateSchedule.Cosine => LearningRate * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / Math.Max(1, Epochs - 1)))),
        _ => LearningRate,
    };
}
