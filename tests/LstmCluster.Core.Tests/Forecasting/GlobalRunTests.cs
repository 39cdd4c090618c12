using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Training;

namespace LstmCluster.Core.Tests.Forecasting;

/// <summary><c>--strategy global</c>: one model over several series, each windowed and normalized alone.</summary>
[Collection(TorchCollection.Name)]
public sealed class GlobalRunTests : IDisposable
{
    // The run fingerprints its data file for the model's metadata: any file will do, the series are built in memory.
    private readonly string file = Path.GetTempFileName();

    public void Dispose() => File.Delete(file);

    private static PreparedData Series(string name, double level, double amplitude, int n, PreprocessingOptions prep)
    {
        var values = Enumerable.Range(0, n).Select(i => level + amplitude * Math.Sin(2 * Math.PI * i / 10)).ToArray();
        var series = new TimeSeries { Source = name, ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(n) };
        return PreparedData.Build(series, prep);
    }

    [Fact]
    public void Joined_windows_are_each_series_windows_unchanged_one_set_after_the_other()
    {
        var prep = new PreprocessingOptions { Lookback = 6, Normalize = Normalization.Global };
        var low = Series("low", 1, 0.1, 60, prep);
        var high = Series("high", 1000, 100, 80, prep);
        var joined = WindowSet.Concat([low.Train, high.Train]);

        Assert.Equal(low.Train.Count + high.Train.Count, joined.Count);
        Assert.Equal(low.Train.Inputs.Concat(high.Train.Inputs), joined.Inputs);
        Assert.Equal(low.Train.Targets.Concat(high.Train.Targets), joined.Targets);
        // Each series normalized on its own training split: both come out on the same scale (mean 0, sd 1 in training),
        // though their levels differ a thousandfold; no window holds values of both.
        Assert.InRange(low.Train.Inputs.Max(), 1, 2);
        Assert.InRange(high.Train.Inputs.Max(), 1, 2);
        Assert.NotEqual(low.Preprocessor.Center[0], high.Preprocessor.Center[0]);
    }

    [Fact]
    public void One_model_trains_on_every_series_windows_and_each_series_is_evaluated_and_forecast_in_its_own_units()
    {
        var prep = new PreprocessingOptions { Lookback = 6, Horizon = 2, Normalize = Normalization.Global };
        var options = new RunOptions
        {
            Data = new CsvSeriesOptions { Path = file, Target = "value" },
            Preprocessing = prep,
            Hidden = 8,
            Layers = 1,
            Training = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Patience = 0, Seed = 3 },
        };
        GlobalMember Member(string symbol, double level, double amplitude, int n) =>
            new(symbol, options with { Data = options.Data with { Symbol = symbol } }, Series(symbol, level, amplitude, n, prep));
        var members = new[] { Member("LOW", 1, 0.1, 60), Member("HIGH", 1000, 100, 80) };
        int windowsSeen = 0;
        Trainer counting = (model, data, training, progress, cancel) =>
        {
            windowsSeen = data.Train.Count;
            return ForecastRun.ReferenceEngine(model, data, training, progress, cancel);
        };

        var result = GlobalRun.Execute(options, members, counting, null, CancellationToken.None);

        Assert.Equal(members.Sum(m => m.Data.Train.Count), windowsSeen);
        Assert.Equal(windowsSeen, result.TrainWindows);
        Assert.Equal(["LOW", "HIGH"], result.Series.Select(s => s.Symbol));
        var (low, high) = (result.Series[0].Result, result.Series[1].Result);
        // One set of weights, each series with its own preprocessing and test windows.
        Assert.Equal(low.Model.Weights, high.Model.Weights);
        Assert.Same(members[0].Data.Preprocessor, low.Model.Preprocessor);
        Assert.Equal(members[1].Data.Test.Count, high.Test.Origins);
        Assert.Equal(2, low.Forecast.Count);
        Assert.All(low.Forecast, f => Assert.InRange(f.Value, 0, 3));
        Assert.All(high.Forecast, f => Assert.InRange(f.Value, 500, 1500));
        Assert.True(double.IsFinite(low.Test.Model.Mase) && double.IsFinite(high.Test.Model.Mase));
    }

    [Fact]
    public void Quantiles_are_refused_with_strategy_global()
    {
        var prep = new PreprocessingOptions { Lookback = 6 };
        var options = new RunOptions { Data = new CsvSeriesOptions { Path = file, Target = "value" }, Quantiles = [0.1, 0.5, 0.9] };
        var e = Assert.Throws<ArgumentException>(() => GlobalRun.Execute(options, [new GlobalMember("A", options, Series("A", 1, 1, 60, prep))],
            ForecastRun.ReferenceEngine, null, CancellationToken.None));
        Assert.Contains("quantiles are not supported with strategy global", e.Message);
    }
}
