using System.Diagnostics;
using System.Globalization;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

// Samples/s of the embedded engine against the bare reference trainer, same model, data and global batch.
// Usage: dotnet run -c Release --project bench/LstmCluster.Bench -- [repeats] [epochs] [hidden] [points] [batch]
//        dotnet run -c Release --project bench/LstmCluster.Bench -- cluster [repeats] [epochs] [hidden] [points] [batch]
//        (simulate's node processes against the embedded engine: ClusterBench.cs)
//        dotnet run -c Release --project bench/LstmCluster.Bench -- suite [--repeats 5] [--epochs 30] [--hidden 64] [--layers 2]
//            [--points 8000] [--batch 64] [--rss-rounds 10000] [--only "train K=1|simulate K=1"]
//        dotnet run -c Release --project bench/LstmCluster.Bench -- ps-scale [--workers 1,2,4,8,16,32] [--delay-ms 7] [--rounds 300]
//            [--hidden 64] [--layers 2] [--slice 64] [--serialize on]   (one parameter server against K fixed-delay workers: ServerScaleBench.cs)
//        dotnet run -c Release --project bench/LstmCluster.Bench -- ps-scale broadcast [--workers 32] [--repeats 5]
//            (a broadcast serialized once against once per worker, interleaved)
//        dotnet run -c Release --project bench/LstmCluster.Bench -- sync-floor [--workers 2] [--epochs 3] [--hidden 64] [--layers 2]
//            [--points 8000] [--batch 64] [--barrier off]   (K plain threads and a barrier, no engine: the suite's floor, SyncFloorBench.cs)
//        dotnet run -c Release --project bench/LstmCluster.Bench -- eval-precision [--hidden 4,16,48,64,128] [--batch 800]
//            (the float32 inference LSTM against float64: their difference and a float64 forward's cost, EvalPrecisionBench.cs)
//        (suite: issue #12's table: every configuration interleaved, ratios against the targets, memory over many rounds: SuiteBench.cs)
if (args.FirstOrDefault() == "ps-scale" && args.ElementAtOrDefault(1) == "broadcast")
{
    await ServerScaleBench.Broadcast(args[2..]);
    return;
}
if (args.FirstOrDefault() == "ps-scale")
{
    await ServerScaleBench.Run(args[1..]);
    return;
}
if (args.FirstOrDefault() == "sync-floor")
{
    SyncFloorBench.Run(args[1..]);
    return;
}
if (args.FirstOrDefault() == "eval-precision")
{
    EvalPrecisionBench.Run(args[1..]);
    return;
}
if (args.FirstOrDefault() == "suite")
{
    await SuiteBench.Run(args[1..]);
    return;
}
if (args.FirstOrDefault() == "cluster")
{
    await ClusterBench.Run(args[1..]);
    return;
}

var culture = CultureInfo.InvariantCulture;
int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], culture) : fallback;
int repeats = Arg(0, 5), epochs = Arg(1, 3), hidden = Arg(2, 32), points = Arg(3, 3000), batch = Arg(4, 64);

var values = BenchSeries.Sine(points);
var series = new TimeSeries { Source = "sine", ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(points) };
var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 32, Horizon = 1 });
var spec = new ModelSpec(1, hidden, 1, 1);
var options = new TrainingOptions { Epochs = epochs, BatchSize = batch, Patience = 0, Seed = 3 };
Console.WriteLine($"model {spec.ParameterCount} parameters (hidden {hidden}), {data.Train.Count} training windows, batch {batch}, " +
    $"{epochs} epochs, {repeats} repeats, {Environment.ProcessorCount} cores, torch threads {TorchSharp.torch.get_num_threads()}");

// Each engine configuration is compared with the reference under the same libtorch threading.
var configurations = new (string Name, EngineOptions? Engine, string Baseline)[]
{
    ("reference", null, "reference"),
    ("reference, 1 torch thread", null, "reference, 1 torch thread"),
    ("engine K=1", new EngineOptions { Workers = 1 }, "reference"),
    ("engine K=1, 1 torch thread", new EngineOptions { Workers = 1, TorchThreads = 1 }, "reference, 1 torch thread"),
    ("engine K=2", new EngineOptions { Workers = 2 }, "reference"),
    ("engine K=2, 1 torch thread each", new EngineOptions { Workers = 2, TorchThreads = 1 }, "reference, 1 torch thread"),
};
var engines = configurations.Where(c => c.Engine is not null).ToDictionary(c => c.Name, c => EmbeddedEngine.Start(c.Engine!));
var rates = configurations.ToDictionary(c => c.Name, _ => new List<double>());
var overheads = configurations.ToDictionary(c => c.Name, _ => new List<double>());
// Samples per CPU-second of this process: less sensitive than wall time to other load on the host.
var cpuRates = configurations.ToDictionary(c => c.Name, _ => new List<double>());

// Warm-up: JIT, libtorch initialisation, thread pools.
Run(configurations[0], 1);
foreach (var c in configurations.Skip(1)) Run(c, 1);

for (int r = 0; r < repeats; r++)
    foreach (var c in configurations)
        Run(c, epochs);

Console.WriteLine();
Console.WriteLine($"{"configuration",-34} {"samples/s",10} {"vs its reference",17} {"ms/round",9} {"ms/round outside compute",25} {"samples/cpu-s",14} {"vs its reference",17}");
foreach (var c in configurations)
{
    double rate = Stats.Median(rates[c.Name]), round = Stats.Median(overheads[c.Name]);
    double baseRate = Stats.Median(rates[c.Baseline]), baseRound = Stats.Median(overheads[c.Baseline]);
    string outside = c.Engine is null ? "-" : (round - baseRound).ToString("F3", culture);
    double cpu = Stats.Median(cpuRates[c.Name]), baseCpu = Stats.Median(cpuRates[c.Baseline]);
    Console.WriteLine($"{c.Name,-34} {rate,10:F0} {rate / baseRate,17:F3} {round,9:F3} {outside,25} {cpu,14:F0} {cpu / baseCpu,17:F3}");
}
foreach (var e in engines.Values) e.Dispose();

void Run((string Name, EngineOptions? Engine, string Baseline) c, int runEpochs)
{
    var o = options with { Epochs = runEpochs };
    using var model = ForecastModel.Create(spec, o.Seed);
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    TrainingResult result;
    long rounds;
    if (c.Engine is null)
    {
        int threads = TorchSharp.torch.get_num_threads();
        // libtorch gives each new thread one intra-op thread, the main thread all cores: compare both ways.
        if (c.Name.Contains("1 torch thread")) TorchSharp.torch.set_num_threads(1);
        result = ReferenceTrainer.Train(model, data.Train, data.Validation, o);
        TorchSharp.torch.set_num_threads(threads);
        rounds = (long)runEpochs * new BatchPlan(data.Train.Count, 1, batch, o.Seed).StepsPerEpoch;
    }
    else
    {
        var engine = engines[c.Name];
        result = engine.Train(model, data, o, null, CancellationToken.None);
        rounds = engine.LastRun!.Rounds;
    }
    clock.Stop();
    var cpuTime = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    if (runEpochs != epochs) return;
    cpuRates[c.Name].Add(result.Samples / cpuTime.TotalSeconds);
    rates[c.Name].Add(result.Samples / clock.Elapsed.TotalSeconds);
    overheads[c.Name].Add(clock.Elapsed.TotalMilliseconds / rounds);
}
