using System.Diagnostics;
using System.Globalization;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

// The parameter server's work per round, per parameter: the sample-weighted average of K gradients and the optimizer
// step (clip, Adam, load into the model), vectorised (TensorPrimitives) against the scalar loops they replaced
// (ScalarOptimizerReference). Interleaved repeats, medians; per wall-clock and per CPU second of this (single-threaded)
// process, the latter less sensitive to other load on a shared machine.
// Usage: dotnet run -c Release --project bench/LstmCluster.OptimizerBench -- [repeats] [rounds per repeat]
var culture = CultureInfo.InvariantCulture;
int repeats = args.Length > 0 ? int.Parse(args[0], culture) : 15;
int baseRounds = args.Length > 1 ? int.Parse(args[1], culture) : 1000;
TorchSharp.torch.set_num_threads(1);
Console.WriteLine($"{repeats} interleaved repeats of {baseRounds} rounds (fewer for larger models: as many parameters), {Environment.ProcessorCount} cores, " +
    $"vector width {System.Numerics.Vector<float>.Count} floats, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}");
Console.WriteLine();
Console.WriteLine($"{"model",-22} {"work",-32} {"scalar ns/param",16} {"vectorised ns/param",20} {"speed-up",9} {"cpu: scalar",12} {"vectorised",11} {"speed-up",9}");

foreach (var hidden in new[] { 64, 128 })
{
    var spec = new ModelSpec(InputSize: 1, HiddenSize: hidden, NumLayers: 2, Horizon: 1);
    var options = new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, ClipNorm = 1, Seed = 1 };
    using var vectorModel = ForecastModel.Create(spec, 1);
    using var scalarModel = ForecastModel.Create(spec, 1);
    using var master = new MasterOptimizer(vectorModel, options);
    int n = ParameterVector.Count(vectorModel);
    int rounds = Math.Max(10, (int)((long)baseRounds * 50_000 / n));
    var weights = ParameterVector.Flatten(scalarModel);
    float[] first = new float[n], second = new float[n], scratch = new float[n];
    var rng = new Random(3);
    float[] Random() => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.01f).ToArray();
    var gradients = Enumerable.Range(0, 8).Select(_ => Random()).ToArray();
    var two = new[] { new BatchGradient(gradients[0], 0, 33), new BatchGradient(gradients[1], 0, 31) };
    var four = Enumerable.Range(0, 4).Select(k => new BatchGradient(gradients[k], 0, 16 + k)).ToArray();
    long scalarSteps = 0;
    var average = new float[n];   // the server averages into one buffer (ParameterServerActor.CloseRound)

    var work = new (string Name, Action Scalar, Action Vector)[]
    {
        ("average of 2 gradients", () => ScalarOptimizerReference.WeightedAverage(two), () => Gradients.WeightedAverage(two, average)),
        ("average of 4 gradients", () => ScalarOptimizerReference.WeightedAverage(four), () => Gradients.WeightedAverage(four, average)),
        ("Adam step (clip, step, load)", () =>
        {
            ScalarOptimizerReference.Step(options, options.LearningRate, ++scalarSteps, weights, first, second, scratch, gradients[(int)(scalarSteps % 8)]);
            ParameterVector.Load(scalarModel, weights);
        }, () => master.Step(gradients[(int)((master.Steps + 1) % 8)])),
        ("  of which: load into the model", () => ParameterVector.Load(scalarModel, weights), () => ParameterVector.Load(vectorModel, weights)),
    };
    var wall = work.ToDictionary(w => w.Name, _ => (Scalar: new List<double>(), Vector: new List<double>()));
    var cpu = work.ToDictionary(w => w.Name, _ => (Scalar: new List<double>(), Vector: new List<double>()));
    var process = Process.GetCurrentProcess();
    (double Wall, double Cpu) Time(Action a, int count)
    {
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++) a();
        double wallNs = clock.Elapsed.TotalNanoseconds;
        process.Refresh();
        return (wallNs / count / n, (process.TotalProcessorTime - cpu0).TotalNanoseconds / count / n);
    }
    void Record(string name, bool scalar, (double Wall, double Cpu) t)
    {
        (scalar ? wall[name].Scalar : wall[name].Vector).Add(t.Wall);
        (scalar ? cpu[name].Scalar : cpu[name].Vector).Add(t.Cpu);
    }
    foreach (var w in work) { Time(w.Scalar, 20); Time(w.Vector, 20); }   // JIT, caches
    for (int r = 0; r < repeats; r++)
    {
        foreach (var w in work)
        {
            // Alternate which goes first, so neither always runs on a cache the other warmed.
            if (r % 2 == 0) { Record(w.Name, true, Time(w.Scalar, rounds)); Record(w.Name, false, Time(w.Vector, rounds)); }
            else { Record(w.Name, false, Time(w.Vector, rounds)); Record(w.Name, true, Time(w.Scalar, rounds)); }
        }
    }
    foreach (var w in work)
    {
        double s = Median(wall[w.Name].Scalar), v = Median(wall[w.Name].Vector);
        double cs = Median(cpu[w.Name].Scalar), cv = Median(cpu[w.Name].Vector);
        Console.WriteLine(string.Create(culture,
            $"{$"2×{hidden} ({n:N0} params)",-22} {w.Name,-32} {s,16:0.000} {v,20:0.000} {s / v,8:0.0}× {cs,12:0.000} {cv,11:0.000} {cs / cv,8:0.0}×"));
    }
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    int m = sorted.Length / 2;
    return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}
