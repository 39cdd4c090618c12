using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Training;

[Collection(TorchCollection.Name)]
public sealed class EarlyStoppingTests
{
    private static readonly Func<float[]> Weights = () => [1f];

    [Fact]
    public void Falls_smaller_than_min_delta_do_not_hold_patience_off_but_still_update_the_best_weights()
    {
        var stopping = new EarlyStopping(patience: 3, minDelta: 0.01);
        stopping.Observe(1, 1.0, Weights);
        // Each epoch creeps 0.1 % lower: a new best every time, yet no progress by the 1 % rule.
        Assert.True(stopping.Observe(2, 0.999, Weights));
        Assert.True(stopping.Observe(3, 0.998, Weights));
        Assert.False(stopping.ShouldStop);
        Assert.True(stopping.Observe(4, 0.997, Weights));
        Assert.True(stopping.ShouldStop);
        Assert.Equal(4, stopping.BestEpoch);
    }

    [Fact]
    public void A_fall_of_min_delta_or_more_resets_patience()
    {
        var stopping = new EarlyStopping(patience: 2, minDelta: 0.01);
        stopping.Observe(1, 1.0, Weights);
        stopping.Observe(2, 1.0, Weights);
        stopping.Observe(3, 0.98, Weights);
        stopping.Observe(4, 0.99, Weights);
        Assert.False(stopping.ShouldStop);
        stopping.Observe(5, 0.99, Weights);
        Assert.True(stopping.ShouldStop);
    }

    [Fact]
    public void A_plateau_cuts_the_learning_rate_before_patience_stops_training()
    {
        var stopping = new EarlyStopping(patience: 5, minDelta: 0, lrPlateau: 2, lrPlateauFactor: 0.5);
        stopping.Observe(1, 1.0, Weights);
        var factors = new List<double>();
        for (int epoch = 2; epoch <= 6; epoch++)
        {
            stopping.Observe(epoch, 1.0, Weights);
            factors.Add(stopping.LearningRateFactor);
        }
        Assert.Equal([1, 0.5, 0.5, 0.25, 0.25], factors);
        Assert.True(stopping.ShouldStop);
        // Progress after a cut resets the plateau count, not the factor.
        var again = new EarlyStopping(patience: 5, minDelta: 0, lrPlateau: 2);
        again.Observe(1, 1.0, Weights);
        again.Observe(2, 1.0, Weights);
        again.Observe(3, 1.0, Weights);
        again.Observe(4, 0.5, Weights);
        again.Observe(5, 0.5, Weights);
        Assert.Equal(0.5, again.LearningRateFactor);
    }

    [Fact]
    public void Export_and_restore_carry_the_plateau_count_and_the_learning_rate_factor()
    {
        var a = new EarlyStopping(patience: 10, minDelta: 0, lrPlateau: 3);
        a.Observe(1, 1.0, Weights);
        for (int epoch = 2; epoch <= 5; epoch++) a.Observe(epoch, 1.0, Weights);
        var state = a.Export();
        Assert.Equal(0.5, state.LearningRateFactor);
        Assert.Equal(1, state.SinceReduction);
        var b = new EarlyStopping(patience: 10, minDelta: 0, lrPlateau: 3);
        b.Restore(state);
        a.Observe(6, 1.0, Weights);
        a.Observe(7, 1.0, Weights);
        b.Observe(6, 1.0, Weights);
        b.Observe(7, 1.0, Weights);
        Assert.Equal(0.25, b.LearningRateFactor);
        Assert.Equal(a.Export() with { BestWeights = null }, b.Export() with { BestWeights = null });
    }

    private static PreparedData Sine()
    {
        var v = Enumerable.Range(0, 200).Select(i => 10 + Math.Sin(i / 4.0) * 3).ToArray();
        var series = new TimeSeries { Source = "sine", ColumnNames = ["y"], Columns = [v], Time = TimeAxis.None(v.Length) };
        return PreparedData.Build(series, new PreprocessingOptions { Lookback = 8 });
    }

    private static TrainingResult Train(TrainingOptions options)
    {
        var data = Sine();
        using var model = ForecastModel.Create(new ModelSpec(1, 8, 1, 1), options.Seed);
        return ReferenceTrainer.Train(model, data.Train, data.Validation, options);
    }

    [Fact]
    public void The_reference_trainer_lowers_its_learning_rate_on_each_plateau()
    {
        // Only a 99 % fall counts as progress: from epoch 2 on every epoch is a plateau of one.
        var result = Train(new TrainingOptions { Epochs = 4, BatchSize = 32, LearningRate = 0.01, Patience = 0, MinDelta = 0.99, LrPlateau = 1, Seed = 1 });
        Assert.Equal([0.01, 0.01, 0.005, 0.0025], result.Epochs.Select(e => Math.Round(e.LearningRate, 6)));
    }

    [Fact]
    public void A_time_budget_ends_training_at_an_epoch_end_and_is_named_the_reason()
    {
        var result = Train(new TrainingOptions { Epochs = 50, BatchSize = 32, Patience = 0, MaxTime = TimeSpan.FromTicks(1), Seed = 1 });
        Assert.Single(result.Epochs);
        Assert.Equal(StopReason.TimeBudget, result.Stop);
    }

    [Fact]
    public void Stop_reason_tells_an_early_stop_from_the_epoch_limit()
    {
        var limit = Train(new TrainingOptions { Epochs = 3, BatchSize = 32, Patience = 0, Seed = 1 });
        Assert.Equal(StopReason.EpochLimit, limit.Stop);
        var early = Train(new TrainingOptions { Epochs = 50, BatchSize = 32, Patience = 1, MinDelta = 0.99, Seed = 1 });
        Assert.Equal(StopReason.EarlyStop, early.Stop);
        Assert.Equal(2, early.Epochs.Count);
    }

    [Fact]
    public void Still_improving_means_the_epoch_limit_came_with_the_best_epoch_among_the_last()
    {
        static EpochReport E(int epoch, int of) => new(epoch, of, 1, 1, 0.001, false, 0, 0, 0, TimeSpan.Zero);
        var epochs = Enumerable.Range(1, 20).Select(e => E(e, 20)).ToArray();
        Assert.True(new TrainingResult([], 19, 0.1, epochs, false, 0, TimeSpan.Zero).StillImproving);
        Assert.False(new TrainingResult([], 10, 0.1, epochs, false, 0, TimeSpan.Zero).StillImproving);
        Assert.False(new TrainingResult([], 20, 0.1, epochs, true, 0, TimeSpan.Zero).StillImproving);
    }
}
