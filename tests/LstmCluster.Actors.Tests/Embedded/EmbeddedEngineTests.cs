using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Tests.Embedded;

[Collection(TorchCollection.Name)]
public sealed class EmbeddedEngineTests
{
    [Fact]
    public void ForecastRun_executes_through_the_engine_and_reports_per_worker_figures()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lstmcluster-sine-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, TestSupport.SineCsv());
        try
        {
            var options = TestSupport.SineRun(epochs: 2) with { Data = new Core.Data.CsvSeriesOptions { Path = path, Target = "value" } };
            EngineStats? stats = null;
            var epochs = new List<EpochReport>();
            var result = ForecastRun.Execute(options, EmbeddedEngine.Trainer(new EngineOptions { Workers = 2 }, s => stats = s), epochs.Add);

            Assert.Equal(2, result.Forecast.Count);
            Assert.Equal(2, epochs.Count);
            Assert.NotNull(stats);
            Assert.Equal(2, stats.Workers.Count);
            Assert.Equal(result.Training.Samples, stats.Samples);
            Assert.All(stats.Workers, w => Assert.True(w.Rounds > 0 && w.Samples > 0));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(TrainingMode.Async)]
    [InlineData(TrainingMode.LocalSgd)]
    public void Other_modes_train_and_lower_the_loss(TrainingMode mode)
    {
        var data = TestSupport.SineData();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 0.02, Patience = 0, Seed = 9 };
        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 2, Mode = mode, Staleness = 2, SyncPeriod = 3 },
            TestSupport.SerializeEverything);
        using var model = ForecastModel.Create(TestSupport.TinySpec, options.Seed);
        double before = Gradients.Loss(model, data.Validation);

        var result = engine.Train(model, data.Train, data.Validation, options);

        Assert.Equal(4, result.Epochs.Count);
        Assert.True(result.BestValidationLoss < before, $"validation loss {result.BestValidationLoss} not below the initial {before}");
        Assert.Equal(result.BestValidationLoss, Gradients.Loss(model, data.Validation), 5);
        Assert.All(engine.LastRun!.Workers, w => Assert.True(w.Rounds > 0));
    }

    [Fact]
    public void Cancelling_the_token_stops_training()
    {
        var data = TestSupport.SineData();
        var options = new TrainingOptions { Epochs = 10_000, BatchSize = 16, Patience = 0 };
        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 2 });
        using var model = ForecastModel.Create(TestSupport.TinySpec, 1);
        using var cancel = new CancellationTokenSource();

        Assert.Throws<OperationCanceledException>(() => engine.Train(model, data.Train, data.Validation, options,
            report => { if (report.Epoch == 2) cancel.Cancel(); }, cancel.Token));
    }

    [Fact]
    public void An_impossible_worker_count_is_rejected_with_its_reason()
    {
        var data = TestSupport.SineData(length: 60);
        using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = 64 });
        using var model = ForecastModel.Create(TestSupport.TinySpec, 1);
        var error = Assert.Throws<ArgumentException>(() => engine.Train(model, data.Train, data.Validation, new TrainingOptions { BatchSize = 2000 }));
        Assert.Contains("training windows", error.Message);
    }
}
