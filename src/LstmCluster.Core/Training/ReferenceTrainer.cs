using System.Diagnostics;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;

namespace LstmCluster.Core.Training;

/// <summary>One finished epoch, for progress reports and the loss plot.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double ValidationLoss, double LearningRate,
    bool Improved, int BestEpoch, long Samples, double SamplesPerSecond, TimeSpan Elapsed);

/// <summary>What training produced: best weights and the loss history.</summary>
public sealed record TrainingResult(float[] BestWeights, int BestEpoch, double BestValidationLoss,
    IReadOnlyList<EpochReport> Epochs, bool StoppedEarly, long Samples, TimeSpan Elapsed)
{
    public double SamplesPerSecond => Elapsed.TotalSeconds > 0 ? Samples / Elapsed.TotalSeconds : 0;

    /// <summary>
    /// Why training ended: patience, the epoch limit (the last epoch is the planned last), else the time budget (the only
    /// other way a finished run ends before its limit).
    /// </summary>
    public StopReason Stop => StoppedEarly ? StopReason.EarlyStop
        : Epochs.Count == 0 || Epochs[^1].Epoch >= Epochs[^1].Epochs ? StopReason.EpochLimit : StopReason.TimeBudget;

    /// <summary>
    /// True when the run hit its epoch limit with its best validation loss among the last tenth of its epochs (at least
    /// the last two): more epochs would probably have helped.
    /// </summary>
    public bool StillImproving => Stop == StopReason.EpochLimit && Epochs.Count > 0 && BestEpoch > Epochs[^1].Epoch - Math.Max(2, Epochs.Count / 10);
}

/// <summary>
/// Single-process training: the correctness reference for the distributed engine. It walks the
/// same <see cref="BatchPlan"/> and applies the same <see cref="MasterOptimizer"/> steps a
/// parameter server does, in one loop.
/// </summary>
public static class ReferenceTrainer
{
    public static TrainingResult Train(ForecastModel model, WindowSet train, WindowSet validation, TrainingOptions options,
        int shards = 1, Action<EpochReport>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        var plan = new BatchPlan(train.Count, shards, options.BatchSize, options.Seed);
        using var master = new MasterOptimizer(model, options);
        var stopping = new EarlyStopping(options);
        var history = new List<EpochReport>();
        var clock = Stopwatch.StartNew();
        long samples = 0;
        // Epoch 0 is the untrained model: training has to beat it on validation to be kept.
        stopping.Start(validation.Count > 0 ? Gradients.Loss(model, validation) : double.PositiveInfinity, master.Weights);

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            master.LearningRate = options.LearningRateAt(epoch) * stopping.LearningRateFactor;
            var orders = Enumerable.Range(0, plan.ShardCount).Select(s => plan.EpochOrder(s, epoch)).ToArray();
            double lossSum = 0;
            long epochSamples = 0;
            for (int step = 0; step < plan.StepsPerEpoch; step++)
            {
                var batch = orders.SelectMany(o => plan.Slice(o, step)).ToArray();
                var gradient = Gradients.Compute(model, train, batch);
                master.Step(gradient.Values);
                lossSum += gradient.Loss * gradient.Samples;
                epochSamples += gradient.Samples;
            }
            samples += epochSamples;
            double trainLoss = lossSum / epochSamples;
            double validationLoss = validation.Count > 0 ? Gradients.Loss(model, validation) : trainLoss;
            bool improved = stopping.Observe(epoch, validationLoss, master.Weights);
            var report = new EpochReport(epoch, options.Epochs, trainLoss, validationLoss, master.LearningRate, improved,
                stopping.BestEpoch, samples, samples / Math.Max(1e-9, clock.Elapsed.TotalSeconds), clock.Elapsed);
            history.Add(report);
            progress?.Invoke(report);
            if (stopping.ShouldStop || options.MaxTime > TimeSpan.Zero && clock.Elapsed >= options.MaxTime) break;
        }

        master.LoadWeights(stopping.BestWeights!);
        return new TrainingResult(stopping.BestWeights!, stopping.BestEpoch, stopping.BestLoss, history,
            stopping.ShouldStop, samples, clock.Elapsed);
    }
}

/// <summary>
/// Keeps the weights of the best validation loss; says stop after <c>patience</c> epochs without
/// progress, and lowers the learning rate after <c>lrPlateau</c> such epochs in a row. The untrained model
/// (epoch 0, see <see cref="Start"/>) competes for "best" but not for patience: a model that learns slowly at
/// first is not stopped for failing to beat its starting point within <c>patience</c> epochs, yet is never kept if
/// it never does.
/// </summary>
/// <remarks>
/// Progress means a relative fall of at least <c>minDelta</c> below the best trained loss, so a noisy validation
/// curve that creeps down by crumbs does not hold patience off for ever; the best weights are still taken on any
/// fall. Halving the rate on a plateau before stopping lets a run whose steps have become too large for the bottom
/// of its valley settle instead of ending there. The parameter server applies this same class, so an embedded or
/// cluster run stops (and lowers its rate) at the epoch the reference trainer does.
/// </remarks>
public sealed class EarlyStopping(int patience, double minDelta = 0, int lrPlateau = 0, double lrPlateauFactor = 0.5)
{
    private int waited;
    private int sinceReduction;
    private double bestTrainedLoss = double.PositiveInfinity;
    private bool anyTrained;

    /// <summary>The rule <paramref name="options"/> asks for.</summary>
    public EarlyStopping(TrainingOptions options) : this(options.Patience, options.MinDelta, options.LrPlateau, options.LrPlateauFactor) { }

    public int BestEpoch { get; private set; }
    public double BestLoss { get; private set; } = double.PositiveInfinity;
    public float[]? BestWeights { get; private set; }
    public bool ShouldStop => patience > 0 && waited >= patience;

    /// <summary>What the schedule's learning rate is multiplied by: 1 until the first plateau, then lower after each.</summary>
    public double LearningRateFactor { get; private set; } = 1;

    /// <summary>Everything <see cref="Observe"/>, <see cref="ShouldStop"/> and <see cref="LearningRateFactor"/> depend on, for a checkpoint.</summary>
    public EarlyStoppingState Export() => new(waited, bestTrainedLoss, anyTrained, BestEpoch, BestLoss, BestWeights, sinceReduction, LearningRateFactor);

    /// <summary>Continues from a checkpoint's state, as if the epochs it saw had been observed here.</summary>
    public void Restore(EarlyStoppingState state)
    {
        waited = state.Waited;
        bestTrainedLoss = state.BestTrainedLoss;
        anyTrained = state.AnyTrained;
        BestEpoch = state.BestEpoch;
        BestLoss = state.BestLoss;
        BestWeights = state.BestWeights;
        sinceReduction = state.SinceReduction;
        LearningRateFactor = state.LearningRateFactor;
    }

    /// <summary>Records the untrained model as epoch 0.</summary>
    public void Start(double loss, Func<float[]> weights)
    {
        BestLoss = loss;
        BestEpoch = 0;
        BestWeights = weights();
    }

    /// <summary>Records an epoch's validation loss; returns true when it is the best so far.</summary>
    public bool Observe(int epoch, double loss, Func<float[]> weights)
    {
        if (!anyTrained || loss < bestTrainedLoss - minDelta * Math.Abs(bestTrainedLoss))
        {
            anyTrained = true;
            bestTrainedLoss = loss;
            waited = 0;
            sinceReduction = 0;
        }
        else
        {
            waited++;
            sinceReduction++;
            if (lrPlateau > 0 && sinceReduction >= lrPlateau && !ShouldStop)
            {
                LearningRateFactor *= lrPlateauFactor;
                sinceReduction = 0;
            }
        }
        if (loss < BestLoss || BestWeights is null)
        {
            BestLoss = loss;
            BestEpoch = epoch;
            BestWeights = weights();
            return true;
        }
        return false;
    }
}

/// <summary>
/// An <see cref="EarlyStopping"/>'s counters and best weights (null before the first observation): epochs without
/// progress, the best trained loss, whether any epoch was seen, the best epoch, its loss and weights, epochs since the
/// last learning-rate cut, and the factor the cuts have reached.
/// </summary>
public sealed record EarlyStoppingState(int Waited, double BestTrainedLoss, bool AnyTrained, int BestEpoch, double BestLoss, float[]? BestWeights,
    int SinceReduction = 0, double LearningRateFactor = 1);
