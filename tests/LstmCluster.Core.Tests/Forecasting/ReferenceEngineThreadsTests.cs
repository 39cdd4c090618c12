using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Core.Tests.Forecasting;

[Collection(TorchCollection.Name)]
public sealed class ReferenceEngineThreadsTests
{
    [Fact]
    public void The_bare_trainer_computes_with_the_torch_threads_it_was_given_on_whatever_thread_runs_it()
    {
        // OpenMP's count is per thread: a new thread starts from libtorch's default, whatever another thread set.
        int threads = torch.get_num_threads() == 1 ? 2 : 1;
        var values = Enumerable.Range(0, 120).Select(i => Math.Sin(i / 5.0)).ToArray();
        var series = new TimeSeries { Source = "sine", ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(values.Length) };
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 8, Horizon = 1 });
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Patience = 0, Seed = 1 };
        var seen = new List<int>();
        var trainer = ForecastRun.ReferenceEngineWith(threads);
        var thread = new Thread(() =>
        {
            using var model = ForecastModel.Create(new ModelSpec(1, 4, 1, 1), options.Seed);
            trainer(model, data, options, _ => seen.Add(torch.get_num_threads()), CancellationToken.None);
        });
        thread.Start();
        thread.Join();
        Assert.Equal([threads, threads], seen);
    }
}
