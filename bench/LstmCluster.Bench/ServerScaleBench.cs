using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

/// <summary>
/// Where one parameter server stops scaling: the real <see cref="ParameterServerActor"/> (sync mode, Adam, its own torch
/// thread) against K simulated workers in the same process whose compute is a fixed delay (no CPU) and whose gradient is a
/// fresh vector of the model's size. Each worker takes a 64-window slice of a global batch of 64 × K (weak scaling, the
/// way a cluster grows), so with a server of no cost the rounds per second would stay at 1 / delay for every K; how far
/// they fall, and the server's CPU per round, show what the server's serial part (averaging K gradients, one optimizer
/// step, K weight messages) costs as K grows. In one process, so messages are not serialized: across processes the
/// server's node also serializes K weight messages and deserializes K gradients a round.
/// </summary>
internal static class ServerScaleBench
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    public static async Task Run(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) map[args[i].TrimStart('-')] = args[i + 1];
        int Int(string key, int fallback) => map.TryGetValue(key, out var v) ? int.Parse(v, Culture) : fallback;
        int hidden = Int("hidden", 64), layers = Int("layers", 2), delayMs = Int("delay-ms", 7), rounds = Int("rounds", 300), slice = Int("slice", 64);
        int[] ks = map.TryGetValue("workers", out var list) ? [.. list.Split(',').Select(x => int.Parse(x, Culture))] : [1, 2, 4, 8, 16, 32];
        var spec = new ModelSpec(1, hidden, layers, 1);
        Console.WriteLine($"parameter server against K delay workers: LSTM 1→{hidden}×{layers} ({spec.ParameterCount} parameters), {delayMs} ms per " +
            $"worker round, {slice} windows per worker, sync, Adam, {rounds} timed rounds per K, {Environment.ProcessorCount} cores, load {Load()}");
        Console.WriteLine($"{"K",3} {"rounds/s",9} {"vs ideal",9} {"ms/round",9} {"server+wire ms/round",21} {"CPU ms/round",13} {"samples/s",10}");
        foreach (int k in ks)
        {
            var (rate, cpuMs) = await Measure(spec, k, TimeSpan.FromMilliseconds(delayMs), rounds, slice);
            double ms = 1000 / rate;
            Console.WriteLine($"{k,3} {rate,9:F1} {rate * delayMs / 1000,9:F2} {ms,9:F2} {ms - delayMs,21:F2} {cpuMs,13:F2} {rate * k * slice,10:F0}");
        }
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    private static async Task<(double RoundsPerSecond, double CpuMsPerRound)> Measure(ModelSpec spec, int k, TimeSpan delay, int rounds, int slice)
    {
        // Enough windows for ten rounds an epoch; a small validation set so epoch ends cost little.
        int steps = 10, windows = slice * k * steps;
        var rng = new Random(1);
        var values = Enumerable.Range(0, windows + 40).Select(i => 10 + Math.Sin(i * 2 * Math.PI / 50) + 0.1 * rng.NextDouble()).ToArray();
        var series = new TimeSeries { Source = "sine", ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(values.Length) };
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 32, Horizon = 1 });
        var train = data.Train;
        var validation = data.Validation.Select([.. Enumerable.Range(0, Math.Min(64, data.Validation.Count))]);
        int perEpoch = new BatchPlan(train.Count, k, slice * k, 3).StepsPerEpoch;
        int warmUpEpochs = 1, epochs = warmUpEpochs + (int)Math.Ceiling(rounds / (double)perEpoch);
        var options = new TrainingOptions { Epochs = epochs, BatchSize = slice * k, Patience = 0, Seed = 3 };

        using var system = ActorSystem.Create("ps-scale", EmbeddedEngine.Configuration(null, 1));
        var done = new TaskCompletionSource<(double, double)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var observer = system.ActorOf(Props.Create(() => new Observer(warmUpEpochs, done)));
        var workers = Enumerable.Range(0, k).Select(i => system.ActorOf(Props.Create(() => new DelayWorker(delay)), $"worker-{i}")).ToList();
        var setup = new TrainingSetup("scale", spec, train, validation, options, new EngineOptions { Workers = k, TorchThreads = 1 }, null);
        system.ActorOf(ParameterServerActor.Props(setup, workers, observer), "ps");
        var (seconds, cpu) = await done.Task.WaitAsync(TimeSpan.FromMinutes(30));
        long timed = (long)(epochs - warmUpEpochs) * perEpoch;
        await system.Terminate();
        return (timed / seconds, cpu * 1000 / timed);
    }

    /// <summary>Times the server from the end of its warm-up epochs to the end of training (wall and process CPU).</summary>
    private sealed class Observer : ReceiveActor
    {
        private readonly Stopwatch clock = new();
        private TimeSpan cpu;

        public Observer(int warmUpEpochs, TaskCompletionSource<(double, double)> done)
        {
            Receive<EpochProgress>(m =>
            {
                if (m.Report.Epoch != warmUpEpochs) return;
                clock.Start();
                cpu = Process.GetCurrentProcess().TotalProcessorTime;
            });
            Receive<TrainingFinished>(_ => done.TrySetResult(
                (clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds)));
            Receive<TrainingFailed>(m => done.TrySetException(new InvalidOperationException(m.Reason)));
            ReceiveAny(_ => { });
        }
    }

    /// <summary>Answers each <see cref="Weights"/> after a fixed delay, without computing, with a fresh gradient vector.</summary>
    private sealed class DelayWorker : ReceiveActor
    {
        public DelayWorker(TimeSpan delay)
        {
            int index = 0, samples = 0, size = 0;
            Receive<AssignShard>(m =>
            {
                index = m.Worker;
                size = m.Spec.ParameterCount;
                samples = m.Options.BatchSize / m.Plan.ShardCount;
            });
            Receive<Weights>(m =>
            {
                var server = Sender;
                var self = Self;
                var gradient = new float[size];
                Array.Fill(gradient, 1e-3f);
                var reply = new Gradient(m.Job, m.Version, index, gradient, samples, 0.5);
                _ = Task.Delay(delay).ContinueWith(_ => server.Tell(reply, self), TaskScheduler.Default);
            });
            ReceiveAny(_ => { });
        }
    }
}
