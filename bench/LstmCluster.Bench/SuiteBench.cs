using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using LstmCluster.Contracts;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Hosting.Api;
using LstmCluster.Client;
using LstmCluster.Hosting.Simulation;

/// <summary>
/// Issue #12's table in one command: embedded `train` K = 1 and K = 2, `simulate` K = 1 and K = 2 (also with weights and
/// gradients through Akka.Remote instead of the bulk lane, to show what the lane gains; train K = 1 and
/// simulate K = 1 also with glibc's malloc defaults, to show what lstmcluster's tuning gains), and the machine's two-process ceiling C (two independent `train --workers 1` processes at once against
/// one alone), interleaved, repeat after repeat (the first discarded as warm-up), reported as medians with the ratios the
/// issue targets; then the bytes a round moves and the resident memory of simulate's node processes before and after
/// many rounds. Every configuration is a real `lstmcluster` process (or K + 2 of them), one torch thread per process,
/// OMP_NUM_THREADS=1; samples/s are the trainer's own (training time, start-up excluded).
/// </summary>
internal static class SuiteBench
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    private sealed record Settings(int Repeats, int Epochs, int Hidden, int Layers, int Points, int Batch, int RssRounds, string? Only,
        string? PyTorch);

    private static Settings Parse(string[] args)
    {
        var o = new BenchOptions(args);
        // 30 epochs (~2,600 rounds a run): long enough that the fresh processes' start-up (0.6–1.1 s of JIT and first
        // rounds, Actors README) weighs little; at 3 epochs it was 15–30 % of a run.
        return new Settings(o.Int("repeats", 5), o.Int("epochs", 30), o.Int("hidden", 64), o.Int("layers", 2), o.Int("points", 8000), o.Int("batch", 64),
            o.Int("rss-rounds", 10_000), o.Get("only"), o.Get("pytorch"));
    }

    public static async Task Run(string[] args)
    {
        var s = Parse(args);
        string exe = ClusterBench.Executable();
        string dir = Path.Combine(Path.GetTempPath(), $"lstmcluster-suite-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string csv = Path.Combine(dir, "sine.csv");
        await File.WriteAllLinesAsync(csv, BenchSeries.Csv(s.Points));
        var job = new Dictionary<string, string>
        {
            ["target"] = "value", ["lookback"] = "32", ["horizon"] = "1", ["hidden"] = $"{s.Hidden}", ["layers"] = $"{s.Layers}",
            ["epochs"] = $"{s.Epochs}", ["batch-size"] = $"{s.Batch}", ["patience"] = "0", ["lr-plateau"] = "0", ["seed"] = "3",
            ["normalize"] = "global", ["optimizer"] = "adam",
        };
        Console.WriteLine($"suite: LSTM 1→{s.Hidden}×{s.Layers}, window 32, global batch {s.Batch}, Adam, {s.Points}-point sine, {s.Epochs} epochs, " +
            $"{s.Repeats} repeats (+1 warm-up), {Environment.ProcessorCount} cores, 1 torch thread per process; load at start {Load()}");

        var configs = new (string Name, Func<int, Task<double[]>> Run)[]
        {
            ("train K=1", r => Train(exe, csv, job, dir, 1, $"t1-{r}")),
            ("train K=2", r => Train(exe, csv, job, dir, 2, $"t2-{r}")),
            ("simulate K=1", r => Simulate(exe, csv, job, dir, 1, null)),
            ("simulate K=2", r => Simulate(exe, csv, job, dir, 2, null)),
            // Weights and gradients through Akka.Remote instead of the nodes' bulk lane (BulkLane): what the lane gains.
            ("simulate K=1, Akka.Remote", r => Simulate(exe, csv, job, dir, 1, AkkaRemoteOnly)),
            ("simulate K=2, Akka.Remote", r => Simulate(exe, csv, job, dir, 2, AkkaRemoteOnly)),
            // glibc's malloc defaults (lstmcluster's start-up tuning off: NativeMemory): what the tuning gains.
            ("train K=1, malloc defaults", r => Train(exe, csv, job, dir, 1, $"m1-{r}", MallocDefaults)),
            ("simulate K=1, malloc defaults", r => Simulate(exe, csv, job, dir, 1, null, MallocDefaults)),
            // The same job as K plain threads and a barrier, without the engine (SyncFloorBench): what sync training
            // can reach here at all, so train K=2 can be read against it.
            ("sync floor K=1", r => Floor(s, 1)),
            ("sync floor K=2", r => Floor(s, 2)),
            ("2 × train K=1 at once", async r =>
            {
                var both = await Task.WhenAll(Train(exe, csv, job, dir, 1, $"p1-{r}"), Train(exe, csv, job, dir, 1, $"p2-{r}"));
                return [both[0][0] + both[1][0], (both[0][1] + both[1][1]) / 2];
            }),
        };
        if (s.PyTorch is { } python)
        {
            // The peer the issue measured against: PyTorch's nn.LSTM, alone and as DistributedDataParallel over gloo, the
            // same model, window and global batch (bench/pytorch/lstm_peer.py), for about as many steps as the engine's runs.
            int steps = PeerSteps(s);
            configs = [.. configs,
                ("PyTorch K=1", r => PyTorchPeer(python, s, "single", s.Batch, steps)),
                ("PyTorch DDP K=2", r => PyTorchPeer(python, s, "ddp", s.Batch / 2, steps))];
        }
        if (s.Only is { } only) configs = [.. configs.Where(c => only.Split('|').Contains(c.Name))];
        var rates = configs.ToDictionary(c => c.Name, _ => new List<double>());
        var rounds = configs.ToDictionary(c => c.Name, _ => new List<double>());
        // The sync floors' parts of a round (server, validation within it, mean and slowest compute, and the rest: the
        // barrier's hand-over), per repeat.
        var parts = configs.ToDictionary(c => c.Name, _ => new List<double[]>());
        // The engine's own account of its rounds (metrics.json's engine.round: median round, slowest worker's compute,
        // hand-overs, server step), per repeat.
        var engineParts = configs.ToDictionary(c => c.Name, _ => new List<double[]>());
        var loads = new List<string>();
        for (int r = 0; r <= s.Repeats; r++)
        {
            loads.Add(Load());
            foreach (var c in configs)
            {
                var x = await c.Run(r);
                Console.WriteLine($"  {(r == 0 ? "warm-up" : $"repeat {r}")}: {c.Name,-30} {x[0],8:F0} samples/s {x[1],8:F2} ms/round   (load {Load()})");
                if (r == 0) continue;
                rates[c.Name].Add(x[0]);
                rounds[c.Name].Add(x[1]);
                if (IsFloor(c.Name)) parts[c.Name].Add([.. x[2..6], x[1] - x[5] - x[2]]);
                else if (x.Length >= 6) engineParts[c.Name].Add(x[2..6]);
            }
        }

        double Rate(string name) => rates.TryGetValue(name, out var v) ? Stats.Median(v) : double.NaN;
        double Round(string name) => rounds.TryGetValue(name, out var v) ? Stats.Median(v) : double.NaN;
        var (weights, gradient) = MessageBytes(s);
        Console.WriteLine();
        Console.WriteLine($"{"configuration",-30} {"samples/s",10} {"ms/round",9}   (medians of {s.Repeats}; load averages at each repeat: {string.Join(", ", loads)})");
        foreach (var c in configs) Console.WriteLine($"{c.Name,-30} {Rate(c.Name),10:F0} {Round(c.Name),9:F2}");
        double c2 = Rate("2 × train K=1 at once") / Rate("train K=1");
        double EnginePart(string name, int i) =>
            engineParts.TryGetValue(name, out var v) && v.Count > 0 ? Stats.Median(v.Select(x => x[i]).ToList()) : double.NaN;
        double outside = Round("simulate K=1") - Round("train K=1");
        double allowed = 1 + (weights + gradient) / 1e6;
        Console.WriteLine();
        // A ratio whose configurations --only left out is not printed (it would read NaN).
        if (!double.IsNaN(c2)) Console.WriteLine($"C = two train K=1 at once / one alone = {c2:F2}");
        Target("simulate K=1 / train K=1", Rate("simulate K=1") / Rate("train K=1"), 0.80);
        Target("simulate K=2 / (C × simulate K=1)", Rate("simulate K=2") / (c2 * Rate("simulate K=1")), 0.85);
        Target("train K=2 / (C × train K=1)", Rate("train K=2") / (c2 * Rate("train K=1")), 0.90);
        Ratio("train K=1 / sync floor K=1", Rate("train K=1") / Rate("sync floor K=1"));
        Ratio("train K=2 / sync floor K=2", Rate("train K=2") / Rate("sync floor K=2"));
        Ratio("sync floor K=2 / (C × sync floor K=1)", Rate("sync floor K=2") / (c2 * Rate("sync floor K=1")));
        foreach (var (name, p) in parts.Where(p => p.Value.Count > 0))
        {
            // What a floor's round is made of: the slowest thread's compute (what the barrier waits for) and the server's part.
            double Part(int i) => Stats.Median(p.Select(x => x[i]).ToList());
            Console.WriteLine($"{name + " round (ms)",-44} {Round(name),7:F2}   = slowest compute {Part(3):F2} (mean {Part(2):F2}) + server {Part(0):F2} " +
                $"(of which validation {Part(1):F2}) + hand-over {Part(4):F2} (medians of each)");
        }
        // What the engine's rounds were made of, as each run measured them itself (medians over the repeats of each run's
        // medians): the slowest worker's compute, the hand-overs (the rest of the round: the weights' and gradients' ways)
        // and the server's step. Across processes the hand-overs are the round's time outside compute, measured within
        // one run, so the two processes' compute speeds (which differ from run to run) do not enter it.
        foreach (var (name, p) in engineParts.Where(p => p.Value.Count > 0))
            Console.WriteLine($"{name + " round (ms)",-44} {EnginePart(name, 0),7:F2}   = slowest worker's compute {EnginePart(name, 1):F2} + hand-overs " +
                $"{EnginePart(name, 2):F2}; server step {EnginePart(name, 3):F2} (medians of each run's medians)");
        double handOver = EnginePart("simulate K=1", 2);
        if (!double.IsNaN(handOver))
        {
            var perRun = engineParts["simulate K=1"].Select(x => x[2]).ToList();
            Console.WriteLine($"{"round outside compute across processes (ms)",-44} {handOver,7:F2}   target ≤ {allowed:F2} (1 ms + bytes / 1 GB/s)  " +
                $"{(handOver <= allowed ? "met" : "NOT met")}   (simulate K=1's hand-overs; per repeat {string.Join(", ", perRun.Select(d => d.ToString("F2", Culture)))})");
        }
        if (!double.IsNaN(outside))
        {
            // The round's difference between the two engines: the hand-overs above plus whatever makes a worker process's
            // compute slower or faster than the embedded worker's in that repeat (several ms either way between runs).
            var perRepeat = rounds["simulate K=1"].Zip(rounds["train K=1"], (sim, train) => sim - train).ToList();
            Console.WriteLine($"{"simulate K=1 round − train K=1 round (ms)",-44} {outside,7:F2}   (difference of the medians; per repeat " +
                $"{string.Join(", ", perRepeat.Select(d => d.ToString("F2", Culture)))})");
            double computeGap = EnginePart("simulate K=1", 1) - EnginePart("train K=1", 1);
            if (!double.IsNaN(computeGap))
                Console.WriteLine($"{"  of which the worker's compute (ms)",-44} {computeGap,7:F2}   (simulate K=1's slowest compute − train K=1's)");
        }
        if (rates.ContainsKey("train K=1, malloc defaults"))
            Console.WriteLine($"{"train K=1 tuned / malloc defaults",-44} {Rate("train K=1") / Rate("train K=1, malloc defaults"),7:F2}");
        if (rates.ContainsKey("simulate K=1, malloc defaults"))
            Console.WriteLine($"{"simulate K=1 tuned / malloc defaults",-44} {Rate("simulate K=1") / Rate("simulate K=1, malloc defaults"),7:F2}");
        if (rates.ContainsKey("simulate K=1, Akka.Remote"))
        {
            Console.WriteLine($"{"simulate K=1 bulk lane / Akka.Remote",-44} {Rate("simulate K=1") / Rate("simulate K=1, Akka.Remote"),7:F2}");
            Console.WriteLine($"{"round outside compute, Akka.Remote (ms)",-44} {EnginePart("simulate K=1, Akka.Remote", 2),7:F2}   (its hand-overs)");
        }
        if (rates.ContainsKey("simulate K=2, Akka.Remote"))
            Console.WriteLine($"{"simulate K=2 bulk lane / Akka.Remote",-44} {Rate("simulate K=2") / Rate("simulate K=2, Akka.Remote"),7:F2}");
        if (rates.ContainsKey("PyTorch DDP K=2"))
        {
            Ratio("PyTorch DDP K=2 / PyTorch K=1", Rate("PyTorch DDP K=2") / Rate("PyTorch K=1"));
            Ratio("PyTorch DDP K=2 / (C × PyTorch K=1)", Rate("PyTorch DDP K=2") / (c2 * Rate("PyTorch K=1")));
            Ratio("PyTorch K=1 / train K=1", Rate("PyTorch K=1") / Rate("train K=1"));
            Ratio("simulate K=2 / PyTorch DDP K=2", Rate("simulate K=2") / Rate("PyTorch DDP K=2"));
        }
        Console.WriteLine($"bytes per round: K × (weights {weights} B + gradient {gradient} B) serialized = {weights + gradient} B at K=1, {2 * (weights + gradient)} B at K=2, plus Akka's envelope (~100 B a message)");

        if (s.RssRounds > 0) await Memory(exe, csv, job, dir, s);
        Directory.Delete(dir, recursive: true);
    }

    private static void Target(string what, double value, double target)
    {
        if (double.IsNaN(value)) return; // --only left out a configuration it needs
        Console.WriteLine($"{what,-44} {value,7:F2}   target ≥ {target:F2}  {(value >= target ? "met" : "NOT met")}");
    }

    private static void Ratio(string what, double value)
    {
        if (!double.IsNaN(value)) Console.WriteLine($"{what,-44} {value,7:F2}");
    }

    /// <summary>
    /// This executable's <c>sync-floor</c> in a process of its own: samples/s, ms/round, then the round's parts (server,
    /// validation, mean compute, slowest compute; <see cref="SyncFloorBench"/>).
    /// </summary>
    private static async Task<double[]> Floor(Settings s, int k)
    {
        // Started by `dotnet run` the process is the apphost; started as `dotnet LstmCluster.Bench.dll` it is dotnet.
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(SyncFloorBench).Assembly.Location);
        foreach (var a in (string[])["sync-floor", "--workers", $"{k}", "--epochs", $"{s.Epochs}", "--hidden", $"{s.Hidden}", "--layers",
                     $"{s.Layers}", "--points", $"{s.Points}", "--batch", $"{s.Batch}"])
            start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"sync-floor exited {process.ExitCode}: {await stderr}\n{await stdout}");
        var parts = (await stdout).Trim().Split('\n')[^1].Split(' ');
        return [.. parts.Select(p => double.Parse(p, Culture))];
    }

    /// <summary>
    /// About as many optimizer steps as one of the engine's runs: the training split's windows (lookback 32, the trainer's
    /// default split) over the global batch, times the epochs.
    /// </summary>
    private static int PeerSteps(Settings s) =>
        Math.Max(100, s.Epochs * (int)((s.Points - 32) * new LstmCluster.Core.Data.PreprocessingOptions().TrainFraction) / s.Batch);

    /// <summary>
    /// bench/pytorch/lstm_peer.py under <paramref name="python"/> (Debian's /usr/bin/python3 with python3-torch; run
    /// bench/pytorch/setup.sh first): (samples/s, ms/step) as it prints them. <paramref name="batch"/> is per process.
    /// </summary>
    private static async Task<double[]> PyTorchPeer(string python, Settings s, string mode, int batch, int steps)
    {
        string script = Path.Combine(ClusterBench.RepositoryRoot(), "bench", "pytorch", "lstm_peer.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[script, mode, "--hidden", $"{s.Hidden}", "--layers", $"{s.Layers}", "--batch", $"{batch}",
                     "--steps", $"{steps}", "--world", "2", "--threads", "1"])
            start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{python} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} {mode} exited {process.ExitCode} (bench/pytorch/setup.sh installs what it needs): {await stderr}");
        using var line = JsonDocument.Parse((await stdout).Trim().Split('\n')[^1]);
        return [line.RootElement.GetProperty("samples_per_s").GetDouble(), line.RootElement.GetProperty("ms_per_step").GetDouble()];
    }

    private static bool IsFloor(string name) => name.StartsWith("sync floor", StringComparison.Ordinal);

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>`lstmcluster train` as a process: (samples/s, ms/round) from its metrics.json.</summary>
    /// <summary>The environment that turns lstmcluster's malloc tuning off (Core's NativeMemory).</summary>
    private static readonly Dictionary<string, string> MallocDefaults = new() { ["LSTMCLUSTER_MALLOC_TUNING"] = "off" };

    private static async Task<double[]> Train(string exe, string csv, Dictionary<string, string> job, string dir, int k, string tag,
        Dictionary<string, string>? env = null)
    {
        string outDir = Path.Combine(dir, tag);
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["train", "--data", csv, "--workers", $"{k}", "--torch-threads", "1", "--out", outDir]) start.ArgumentList.Add(a);
        foreach (var (key, value) in job)
        {
            start.ArgumentList.Add($"--{key}");
            start.ArgumentList.Add(value);
        }
        start.Environment["OMP_NUM_THREADS"] = "1";
        foreach (var (key, value) in env ?? []) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"train exited {process.ExitCode}: {await stderr}\n{await stdout}");
        var result = Metrics(await File.ReadAllBytesAsync(Path.Combine(outDir, "metrics.json")), job);
        Directory.Delete(outDir, recursive: true);
        return result;
    }

    /// <summary>A fresh `simulate`-style cluster (coordinator, parameter server, K workers) running one job.</summary>
    private const string AkkaRemoteOnly = LstmCluster.Actors.Remoting.BulkLane.OffHocon;

    private static async Task<double[]> Simulate(string exe, string csv, Dictionary<string, string> job, string dir, int k, string? hocon,
        Dictionary<string, string>? env = null)
    {
        // The node processes inherit this process's environment when they start: set for the start only.
        foreach (var (key, value) in env ?? []) Environment.SetEnvironmentVariable(key, value);
        LocalCluster started;
        try
        {
            started = await LocalCluster.Start(new LocalClusterOptions(exe, [], k, Path.Combine(dir, "logs"), Hocon: hocon));
        }
        finally
        {
            foreach (var key in (env ?? []).Keys) Environment.SetEnvironmentVariable(key, null);
        }
        await using var cluster = started;
        using var client = new JobApiClient(cluster.Url);
        string id = await client.SubmitAsync(csv, new Dictionary<string, string>(job) { ["workers"] = $"{k}" });
        await Finish(client, id, _ => { });
        return Metrics(await client.ArtifactAsync(id, "metrics.json"), job);
    }

    private static async Task<JobView> Finish(JobApiClient client, string id, Action<JobView> poll)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromHours(2);
        while (true)
        {
            var status = await client.StatusAsync(id);
            poll(status);
            if (status.Ended)
            {
                if (!string.Equals(status.State, "succeeded", StringComparison.OrdinalIgnoreCase))
                    throw new InvalidOperationException($"job {id} {status.State}: {status.Reason}");
                return status;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id} did not end in 2 hours");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// samples/s and ms/round from metrics.json's <c>training</c>, then, when the engine measured its rounds
    /// (<c>engine.round</c>), their median, the slowest worker's compute, the hand-overs and the server's step, in ms.
    /// </summary>
    private static double[] Metrics(byte[] json, Dictionary<string, string> job)
    {
        using var metrics = JsonDocument.Parse(json);
        var training = metrics.RootElement.GetProperty("training");
        double seconds = training.GetProperty("seconds").GetDouble();
        long samples = training.GetProperty("samples").GetInt64();
        double roundsRun = Math.Ceiling(samples / double.Parse(job["batch-size"], Culture));
        double[] rate = [samples / seconds, seconds * 1000 / roundsRun];
        if (!metrics.RootElement.TryGetProperty("engine", out var engine) || !engine.TryGetProperty("round", out var round) ||
            round.ValueKind != JsonValueKind.Object)
            return rate;
        string[] parts = ["median_ms", "slowest_compute_ms", "hand_over_ms", "server_step_ms"];
        return [.. rate, .. parts.Select(key => round.GetProperty(key).GetDouble())];
    }

    /// <summary>
    /// Resident memory of simulate's node processes (K = 2) from round 1,000 (after warm-up: JIT, pools, the GC's
    /// budgets) to <see cref="Settings.RssRounds"/> rounds later: it must stay flat (&lt; 5 % growth, medians of the first and last eighths of the samples). Sampled at every
    /// epoch end, so a reader sees whether memory levels off or keeps climbing.
    /// </summary>
    private static async Task Memory(string exe, string csv, Dictionary<string, string> job, string dir, Settings s)
    {
        const int warmUp = 1000;
        await using var cluster = await LocalCluster.Start(new LocalClusterOptions(exe, [], 2, Path.Combine(dir, "logs-rss")));
        using var client = new JobApiClient(cluster.Url);
        // Epochs enough for warm-up + RssRounds rounds; the steps per epoch come from a one-epoch job.
        string probe = await client.SubmitAsync(csv, new Dictionary<string, string>(job) { ["workers"] = "2", ["epochs"] = "1" });
        int stepsPerEpoch = (int)(await Finish(client, probe, _ => { })).Round;
        // The status's round moves at epoch ends: two epochs of margin so one is seen past warm-up + RssRounds.
        int epochs = (int)Math.Ceiling((warmUp + s.RssRounds + 1.0) / Math.Max(1, stepsPerEpoch)) + 2;
        string id = await client.SubmitAsync(csv, new Dictionary<string, string>(job) { ["workers"] = "2", ["epochs"] = $"{epochs}" });
        var samples = new List<(long Round, Dictionary<string, long> Rss)>();
        var clock = Stopwatch.StartNew();
        await Finish(client, id, status =>
        {
            bool open = samples.Count == 0 || samples[^1].Round < samples[0].Round + s.RssRounds;
            if (status.Round >= warmUp && open && (samples.Count == 0 || status.Round > samples[^1].Round))
                samples.Add((status.Round, Rss(cluster)));
        });
        Console.WriteLine();
        if (samples.Count < 2 || samples[^1].Round < samples[0].Round + s.RssRounds)
        {
            Console.WriteLine($"memory: the job ended before round {warmUp} + {s.RssRounds} was seen ({clock.Elapsed.TotalSeconds:F0} s)");
            return;
        }
        var (first, last) = (samples[0], samples[^1]);
        // A sample lands at some point of a round, and a worker's resident set swings by ~20 MiB within a round (the
        // native blocks of its forward and backward pass come and go), so one sample against another can show ±5 % on
        // its own. The verdict compares the median of the first eighth of the samples with that of the last eighth.
        int window = Math.Max(3, samples.Count / 8);
        Console.WriteLine($"resident memory of simulate K=2's node processes, round {first.Round} → round {last.Round} " +
            $"({last.Round - first.Round} rounds, {samples.Count} samples, {clock.Elapsed.TotalSeconds:F0} s; MiB at rounds {string.Join(", ", Spread(samples).Select(x => x.Round))}):");
        Console.WriteLine($"  growth = median of the last {window} samples against median of the first {window}; first → last sample beside it");
        foreach (var (node, b) in first.Rss)
        {
            long a = last.Rss.GetValueOrDefault(node);
            double early = Stats.Median(samples.Take(window).Select(x => (double)x.Rss.GetValueOrDefault(node)));
            double late = Stats.Median(samples.TakeLast(window).Select(x => (double)x.Rss.GetValueOrDefault(node)));
            double growth = (late - early) * 100.0 / early;
            string series = string.Join(" ", Spread(samples).Select(x => (x.Rss.GetValueOrDefault(node) / 1048576.0).ToString("F0", Culture)));
            Console.WriteLine($"  {node,-18} {early / 1048576.0,7:F1} → {late / 1048576.0,7:F1} MiB {growth,+6:F1} % {(growth < 5 ? "flat (< 5 %)" : "GROWS")}" +
                $"   (samples {b / 1048576.0:F1} → {a / 1048576.0:F1})   [{series}]");
        }
    }

    private static IEnumerable<(long Round, Dictionary<string, long> Rss)> Spread(List<(long Round, Dictionary<string, long> Rss)> xs) =>
        xs.Count <= 8 ? xs : Enumerable.Range(0, 8).Select(i => xs[(int)Math.Round(i * (xs.Count - 1) / 7.0)]);

    private static Dictionary<string, long> Rss(LocalCluster cluster) =>
        cluster.Nodes.ToDictionary(n => n.Name, n =>
        {
            foreach (var line in File.ReadLines($"/proc/{n.Process.Id}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Culture) * 1024;
            return 0L;
        });

    private static (long Weights, long Gradient) MessageBytes(Settings s)
    {
        var spec = new LstmCluster.Core.Model.ModelSpec(1, s.Hidden, s.Layers, 1);
        using var system = ActorSystem.Create("bench", EmbeddedEngine.Configuration());
        long Size(object m) => system.Serialization.FindSerializerFor(m).ToBinary(m).Length;
        return (Size(new Weights("job-1", 1, new float[spec.ParameterCount])), Size(new Gradient("job-1", 1, 0, new float[spec.ParameterCount], 32, 0.5)));
    }
}
