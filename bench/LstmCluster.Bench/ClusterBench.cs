using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using LstmCluster.Contracts;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using LstmCluster.Client;
using LstmCluster.Hosting.Simulation;

/// <summary>
/// `simulate`'s engine against the embedded one: the same job (data, model, global batch, epochs) trained by
/// K worker processes + a parameter-server process + a coordinator process on 127.0.0.1, and by the embedded
/// engine with K workers in this process, one torch thread per worker in both. Reports training samples/s
/// (medians over repeats, the two interleaved), ms per round, the difference per round (what process
/// boundaries cost: serialization, TCP, chunk reassembly), and the bytes a sync round moves.
/// </summary>
internal static class ClusterBench
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    public static async Task Run(string[] args)
    {
        int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], Culture) : fallback;
        int repeats = Arg(0, 3), epochs = Arg(1, 3), hidden = Arg(2, 32), points = Arg(3, 2000), batch = Arg(4, 64);
        string exe = Executable();
        string dir = Path.Combine(Path.GetTempPath(), $"lstmcluster-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string csv = Path.Combine(dir, "sine.csv");
        await File.WriteAllLinesAsync(csv, BenchSeries.Csv(points));

        var fields = new Dictionary<string, string>
        {
            ["target"] = "value", ["lookback"] = "32", ["horizon"] = "1", ["hidden"] = $"{hidden}", ["layers"] = "1",
            ["epochs"] = $"{epochs}", ["batch-size"] = $"{batch}", ["patience"] = "0", ["seed"] = "3",
        };
        var run = new RunOptions
        {
            Data = new CsvSeriesOptions { Path = csv, Target = "value" },
            Preprocessing = new PreprocessingOptions { Lookback = 32, Horizon = 1, Normalize = PreprocessingOptions.Auto(1, TargetTransform.None) },
            Hidden = hidden,
            Layers = 1,
            Training = new TrainingOptions { Epochs = epochs, BatchSize = batch, Patience = 0, Seed = 3 },
        };
        var data = ForecastRun.Prepare(run);
        var spec = run.Spec(data.Series.Columns.Length);
        Console.WriteLine($"model {spec.ParameterCount} parameters (hidden {hidden}), {data.Train.Count} training windows, batch {batch}, " +
            $"{epochs} epochs, {repeats} repeats, {Environment.ProcessorCount} cores, 1 torch thread per worker");

        var results = new List<(string Name, int K, double Rate, double RoundMs)>();
        foreach (int k in new[] { 1, 2 })
        {
            var embedded = new List<(double, double)>();
            var cluster = new List<(double, double)>();
            await using var processes = await LocalCluster.Start(new LocalClusterOptions(exe, [], k, Path.Combine(dir, $"logs-k{k}")),
                line => Console.WriteLine($"  {line}"));
            using var client = new JobApiClient(processes.Url);
            using var engine = EmbeddedEngine.Start(new EngineOptions { Workers = k, TorchThreads = 1 });
            for (int r = 0; r <= repeats; r++)
            {
                var e = Embedded(engine, spec, data, run.Training);
                var c = await Cluster(client, csv, fields, k);
                if (r == 0) continue;   // warm-up: JIT, libtorch, connections
                embedded.Add(e);
                cluster.Add(c);
                Console.WriteLine($"  K={k} repeat {r}: embedded {e.Item1:F0} samples/s, {e.Item2:F3} ms/round; simulate {c.Item1:F0} samples/s, {c.Item2:F3} ms/round");
            }
            results.Add(("embedded", k, Stats.Median(embedded.Select(x => x.Item1)), Stats.Median(embedded.Select(x => x.Item2))));
            results.Add(("simulate", k, Stats.Median(cluster.Select(x => x.Item1)), Stats.Median(cluster.Select(x => x.Item2))));
        }

        long weights = Serialized(new Weights("job-1", 1, new float[spec.ParameterCount]));
        long gradient = Serialized(new Gradient("job-1", 1, 0, new float[spec.ParameterCount], batch, 0.5));
        Console.WriteLine();
        Console.WriteLine($"{"engine",-10} {"K",2} {"samples/s",10} {"vs embedded",12} {"ms/round",9} {"ms/round over embedded",23} {"bytes/round",12}");
        foreach (var (name, k, rate, round) in results)
        {
            var baseline = results.First(x => x.Name == "embedded" && x.K == k);
            string extra = name == "embedded" ? "-" : (round - baseline.RoundMs).ToString("F3", Culture);
            string bytes = name == "embedded" ? "0" : $"{k * (weights + gradient)}";
            Console.WriteLine($"{name,-10} {k,2} {rate,10:F0} {rate / baseline.Rate,12:F3} {round,9:F3} {extra,23} {bytes,12}");
        }
        Console.WriteLine($"(a sync round moves K × (weights {weights} B + gradient {gradient} B) of serialized payload, plus Akka's envelope)");
        Directory.Delete(dir, recursive: true);
    }

    private static (double Rate, double RoundMs) Embedded(EmbeddedEngine engine, ModelSpec spec, PreparedData data, TrainingOptions options)
    {
        using var model = ForecastModel.Create(spec, options.Seed);
        var result = engine.Train(model, data, options, null, CancellationToken.None);
        return (result.Samples / result.Elapsed.TotalSeconds, result.Elapsed.TotalMilliseconds / engine.LastRun!.Rounds);
    }

    private static async Task<(double Rate, double RoundMs)> Cluster(JobApiClient client, string csv, Dictionary<string, string> fields, int k)
    {
        string id = await client.SubmitAsync(csv, new Dictionary<string, string>(fields) { ["workers"] = $"{k}" });
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(20);
        while (true)
        {
            var status = await client.StatusAsync(id);
            if (status.Ended)
            {
                if (!string.Equals(status.State, "succeeded", StringComparison.OrdinalIgnoreCase))
                    throw new InvalidOperationException($"job {id} {status.State}: {status.Reason}");
                using var metrics = JsonDocument.Parse(await client.ArtifactAsync(id, "metrics.json"));
                var training = metrics.RootElement.GetProperty("training");
                double seconds = training.GetProperty("seconds").GetDouble();
                return (training.GetProperty("samples").GetInt64() / seconds, seconds * 1000 / status.Round);
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id} did not end in 20 minutes");
            await Task.Delay(200);
        }
    }

    private static long Serialized(object message)
    {
        using var system = ActorSystem.Create("bench", EmbeddedEngine.Configuration());
        var serializer = system.Serialization.FindSerializerFor(message);
        return serializer.ToBinary(message).Length;
    }

    /// <summary>The built `lstmcluster` executable of this configuration (the suite bench starts it too).</summary>
    /// <summary>The repository's root: the nearest directory above this executable that holds LstmCluster.sln.</summary>
    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
        return dir?.FullName ?? ".";
    }

    internal static string Executable()
    {
        string root = RepositoryRoot();
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string exe = Path.Combine(root, "src", "LstmCluster.Cli", "bin", configuration, "net10.0", "lstmcluster");
        return File.Exists(exe) ? exe : throw new FileNotFoundException($"{exe} is not built (dotnet build -c {configuration})");
    }
}
