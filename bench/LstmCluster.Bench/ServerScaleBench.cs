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
/// <para>
/// Each K is also run against a <see cref="NullServer"/>: the same workers and messages, a server that only counts the
/// gradients and tells the next weights. Its rounds show what K concurrent delays and 2K messages cost on this machine
/// (the slowest of K timers sets the round), so the real server's own part is the difference, and the server's busy
/// time (its stopwatch around averaging, the optimizer step and validation) says how much of that is its work.
/// </para>
/// </summary>
internal static class ServerScaleBench
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    public static async Task Run(string[] args)
    {
        var o = new BenchOptions(args);
        int hidden = o.Int("hidden", 64), layers = o.Int("layers", 2), delayMs = o.Int("delay-ms", 7), rounds = o.Int("rounds", 300), slice = o.Int("slice", 64);
        // As across processes, every message through the project's serializer and back (akka.actor.serialize-messages):
        // the server's side then pays a serialization per weight message and a deserialization per gradient.
        bool serialize = o.Get("serialize") is "on" or "true";
        int[] ks = o.Ints("workers", [1, 2, 4, 8, 16, 32]);
        var spec = new ModelSpec(1, hidden, layers, 1);
        Console.WriteLine($"parameter server against K delay workers: LSTM 1→{hidden}×{layers} ({spec.ParameterCount} parameters), {delayMs} ms per " +
            $"worker round, {slice} windows per worker, sync, Adam, {rounds} timed rounds per K, {Environment.ProcessorCount} cores, load {Load()}" +
            (serialize ? ", every message serialized and deserialized" : ""));
        Console.WriteLine($"{"K",3} {"rounds/s",9} {"vs ideal",9} {"ms/round",9} {"null server ms/round",21} {"server's part ms",17} " +
            $"{"server busy ms",15} {"CPU ms/round",13} {"samples/s",10}");
        foreach (int k in ks)
        {
            var delay = TimeSpan.FromMilliseconds(delayMs);
            double nullMs = 1000 / await MeasureNull(spec, k, delay, rounds, serialize);
            var (rate, cpuMs, busyMs) = await Measure(spec, k, delay, rounds, slice, serialize);
            double ms = 1000 / rate;
            Console.WriteLine($"{k,3} {rate,9:F1} {rate * delayMs / 1000,9:F2} {ms,9:F2} {nullMs,21:F2} {ms - nullMs,17:F2} {busyMs,15:F2} " +
                $"{cpuMs,13:F2} {rate * k * slice,10:F0}");
        }
    }

    /// <summary>
    /// `ps-scale broadcast`: K workers, every message serialized, the null server telling one weights instance to all
    /// (serialized once) or one instance each (serialized K times), interleaved repeats; CPU per round, medians.
    /// </summary>
    public static async Task Broadcast(string[] args)
    {
        var o = new BenchOptions(args);
        int k = o.Int("workers", 32), repeats = o.Int("repeats", 5), rounds = o.Int("rounds", 300);
        var spec = new ModelSpec(1, o.Int("hidden", 64), o.Int("layers", 2), 1);
        Console.WriteLine($"broadcast: {k} delay workers (7 ms), every message serialized, {spec.ParameterCount} parameters, {rounds} rounds, " +
            $"{repeats} interleaved repeats, load {Load()}");
        var one = new List<double>();
        var each = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            var a = await MeasureNull(spec, k, TimeSpan.FromMilliseconds(7), rounds, true, shared: true);
            var b = await MeasureNull(spec, k, TimeSpan.FromMilliseconds(7), rounds, true, shared: false);
            Console.WriteLine($"  {(r == 0 ? "warm-up" : $"repeat {r}")}: one instance {a.CpuMsPerRound:F2} CPU ms/round ({1000 / a.RoundsPerSecond:F2} ms/round), " +
                $"one per worker {b.CpuMsPerRound:F2} ({1000 / b.RoundsPerSecond:F2}), load {Load()}");
            if (r == 0) continue;
            one.Add(a.CpuMsPerRound);
            each.Add(b.CpuMsPerRound);
        }
        double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);
        Console.WriteLine($"median CPU ms/round: one instance {Median(one):F2}, one per worker {Median(each):F2}; saved per worker and round " +
            $"{(Median(each) - Median(one)) / (k - 1):F3} ms");
    }

    private static Akka.Configuration.Config Configuration(bool serialize) => serialize
        ? Akka.Configuration.ConfigurationFactory.ParseString("akka.actor.serialize-messages = on").WithFallback(EmbeddedEngine.Configuration(null, 1))
        : EmbeddedEngine.Configuration(null, 1);

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>Rounds per second of K delay workers against a server that does nothing but count and reply.</summary>
    private static async Task<double> MeasureNull(ModelSpec spec, int k, TimeSpan delay, int rounds, bool serialize) =>
        (await MeasureNull(spec, k, delay, rounds, serialize, shared: true)).RoundsPerSecond;

    private static async Task<(double RoundsPerSecond, double CpuMsPerRound)> MeasureNull(ModelSpec spec, int k, TimeSpan delay, int rounds,
        bool serialize, bool shared)
    {
        using var system = ActorSystem.Create("ps-null", Configuration(serialize));
        var done = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Enumerable.Range(0, k).Select(i => system.ActorOf(Props.Create(() => new DelayWorker(delay, i, spec.ParameterCount, 64)), $"worker-{i}")).ToList();
        var cpu = new TimeSpan[1];
        Action started = () => cpu[0] = Process.GetCurrentProcess().TotalProcessorTime;
        system.ActorOf(Props.Create(() => new NullServer(spec, workers, 30, rounds, shared, done, started)).WithDispatcher(Dispatchers.Torch), "null");
        double seconds = await done.Task.WaitAsync(TimeSpan.FromMinutes(30));
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu[0];
        await system.Terminate();
        return (rounds / seconds, used.TotalMilliseconds / rounds);
    }

    private static async Task<(double RoundsPerSecond, double CpuMsPerRound, double BusyMsPerRound)> Measure(ModelSpec spec, int k, TimeSpan delay, int rounds, int slice, bool serialize)
    {
        // Enough windows for ten rounds an epoch; a small validation set so epoch ends cost little.
        int steps = 10, windows = slice * k * steps;
        var values = BenchSeries.Sine(windows + 40);
        var series = new TimeSeries { Source = "sine", ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(values.Length) };
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 32, Horizon = 1 });
        var train = data.Train;
        var validation = data.Validation.Select([.. Enumerable.Range(0, Math.Min(64, data.Validation.Count))]);
        int perEpoch = new BatchPlan(train.Count, k, slice * k, 3).StepsPerEpoch;
        int warmUpEpochs = 1, epochs = warmUpEpochs + (int)Math.Ceiling(rounds / (double)perEpoch);
        var options = new TrainingOptions { Epochs = epochs, BatchSize = slice * k, Patience = 0, Seed = 3 };

        using var system = ActorSystem.Create("ps-scale", Configuration(serialize));
        var done = new TaskCompletionSource<(double, double, double, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var observer = system.ActorOf(Props.Create(() => new Observer(warmUpEpochs, done)));
        var workers = Enumerable.Range(0, k).Select(i => system.ActorOf(Props.Create(() => new DelayWorker(delay)), $"worker-{i}")).ToList();
        var setup = new TrainingSetup("scale", spec, train, validation, options, new EngineOptions { Workers = k, TorchThreads = 1 }, null);
        system.ActorOf(ParameterServerActor.Props(setup, workers, observer), "ps");
        var (seconds, cpu, busy, versions) = await done.Task.WaitAsync(TimeSpan.FromMinutes(30));
        long timed = (long)(epochs - warmUpEpochs) * perEpoch;
        await system.Terminate();
        // The busy time covers every round, the warm-up epoch's too: its average over all of them.
        return (timed / seconds, cpu * 1000 / timed, busy * 1000 / Math.Max(1, versions));
    }

    /// <summary>Times the server from the end of its warm-up epochs to the end of training (wall and process CPU).</summary>
    private sealed class Observer : ReceiveActor
    {
        private readonly Stopwatch clock = new();
        private TimeSpan cpu;

        public Observer(int warmUpEpochs, TaskCompletionSource<(double, double, double, long)> done)
        {
            Receive<EpochProgress>(m =>
            {
                if (m.Report.Epoch != warmUpEpochs) return;
                clock.Start();
                cpu = Process.GetCurrentProcess().TotalProcessorTime;
            });
            Receive<TrainingFinished>(m => done.TrySetResult((clock.Elapsed.TotalSeconds,
                (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, m.ServerTime.TotalSeconds, m.Version)));
            Receive<TrainingFailed>(m => done.TrySetException(new InvalidOperationException(m.Reason)));
            ReceiveAny(_ => { });
        }
    }

    /// <summary>Answers each <see cref="Weights"/> after a fixed delay, without computing, with a fresh gradient vector.</summary>
    private sealed class DelayWorker : ReceiveActor
    {
        public DelayWorker(TimeSpan delay, int index = 0, int size = 0, int samples = 0)
        {
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

    /// <summary>
    /// The baseline server: tells every worker the same weights, counts the K gradients of the round and opens the next
    /// one; no averaging, no optimizer, no validation. Times <paramref name="rounds"/> rounds after <paramref name="warmUp"/>.
    /// </summary>
    private sealed class NullServer : ReceiveActor
    {
        public NullServer(ModelSpec spec, List<IActorRef> workers, int warmUp, int rounds, bool shared, TaskCompletionSource<double> done,
            Action started)
        {
            var weights = new float[spec.ParameterCount];
            var clock = new Stopwatch();
            long version = 0;
            int arrived = 0;
            void Open()
            {
                // Shared: one instance for all, as the parameter server tells it (serialized once); otherwise one each.
                var message = new Weights("null", version, weights);
                foreach (var w in workers) w.Tell(shared ? message : new Weights("null", version, weights));
            }
            Receive<Gradient>(_ =>
            {
                if (++arrived < workers.Count) return;
                arrived = 0;
                version++;
                if (version == warmUp)
                {
                    started();
                    clock.Start();
                }
                if (version == warmUp + rounds)
                {
                    done.TrySetResult(clock.Elapsed.TotalSeconds);
                    return;
                }
                Open();
            });
            Open();
        }
    }
}
