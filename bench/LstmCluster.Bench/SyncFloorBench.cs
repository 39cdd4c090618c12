using System.Diagnostics;
using System.Globalization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Runtime;
using LstmCluster.Core.Training;

/// <summary>
/// What synchronous data-parallel training of the suite's job can reach on this machine with nothing of lstmcluster's
/// engine around it: K plain threads in one process, each with its own replica, each computing its even slice of
/// every global batch (the product's <c>global-sliced</c> plan), a <see cref="Barrier"/> whose closing thread averages
/// the K gradients and takes the optimizer step (the parameter server's own code: <see cref="Gradients.WeightedAverage"/>,
/// <see cref="MasterOptimizer"/>), and the validation loss at each epoch end. No actors, messages, mailboxes or
/// dispatchers: a floor for what any in-process sync engine costs, so the suite can say how far `train --workers K`
/// is from it, and what K = 2 can gain here at all (the two computes' waits for each other at every round, and a
/// half batch costing more than half a batch, are in the floor too).
/// <para>
/// Runs in a process of its own (the suite starts this executable with <c>sync-floor</c>), like the configurations it
/// stands beside, and prints <c>samples/s ms/round server-ms/round validation-ms/round compute-ms slowest-compute-ms</c>
/// over the training steps (start-up excluded): the part of a round no worker overlaps (average, step and the epoch ends'
/// validation) and the validation within it, then a thread's mean compute a round (loading the weights and its slice's
/// gradient) and the mean of each round's slowest (what the barrier waits for; NaN with <c>--barrier off</c>).
/// </para>
/// </summary>
internal static class SyncFloorBench
{
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    /// <summary>
    /// <c>sync-floor --workers K --epochs E --hidden H --layers L --points N --batch B [--barrier off]</c>. With
    /// <c>--barrier off</c> the threads do not wait for each other and nothing is averaged or stepped: each computes its
    /// slices of the same batches at the starting weights, which is what the K computes give on this machine when no
    /// round joins them (the floor's distance to it is the waits and the server's serial part).
    /// </summary>
    public static void Run(string[] args)
    {
        var o = new BenchOptions(args);
        bool barrier = o.Get("barrier", "on") != "off";
        int k = o.Int("workers", 2), epochs = o.Int("epochs", 3), hidden = o.Int("hidden", 64), layers = o.Int("layers", 2), points = o.Int("points", 8000),
            batch = o.Int("batch", 64);
        NativeMemory.Tune(); // as lstmcluster does at start-up
        TorchSharp.torch.set_num_threads(1);

        // The suite's series and job (SuiteBench): sine + noise, window 32, horizon 1, global normalization, Adam, seed 3.
        var values = BenchSeries.Sine(points);
        var series = new TimeSeries { Source = "sine", ColumnNames = ["value"], Columns = [values], Time = TimeAxis.None(points) };
        var data = PreparedData.Build(series, new PreprocessingOptions { Lookback = 32, Horizon = 1, Normalize = Normalization.Global });
        var spec = new ModelSpec(1, hidden, layers, 1);
        var options = new TrainingOptions { Epochs = epochs, BatchSize = batch, Patience = 0, Seed = 3 };
        var plan = new BatchPlan(data.Train.Count, k, batch, options.Seed, BatchSampling.GlobalSliced);

        using var server = ForecastModel.Create(spec, options.Seed);
        using var master = new MasterOptimizer(server, options);
        float[] weights = master.Weights();
        var gradients = new BatchGradient[k];
        int step = 0, epoch = 1;
        long samples = 0;
        // The closing thread of each round does the parameter server's part, as the server shares the workers'
        // dispatcher threads in `train --workers K`.
        var serverTime = new Stopwatch();
        var validationTime = new Stopwatch();
        var average = new float[weights.Length];
        using var round = new Barrier(k, _ =>
        {
            serverTime.Start();
            var contributions = gradients.Where(g => g.Samples > 0).ToList();
            if (contributions.Count == 1) master.Step(contributions[0].Values);
            else
            {
                Gradients.WeightedAverage(contributions, average);
                master.Step(average);
            }
            weights = master.Weights();
            samples += contributions.Sum(g => g.Samples);
            if (++step == plan.StepsPerEpoch)
            {
                validationTime.Start();
                step = 0;
                epoch++;
                ParameterVector.Load(server, weights);
                Gradients.Loss(server, data.Validation);
                validationTime.Stop();
            }
            serverTime.Stop();
        });
        var clock = new Stopwatch();
        // Each thread's compute per round (load the weights, its slice's gradient), for the rounds' imbalance.
        long totalRounds = (long)epochs * plan.StepsPerEpoch;
        var computeMs = Enumerable.Range(0, k).Select(_ => new double[totalRounds]).ToArray();
        using var start = new Barrier(k, _ => clock.Start());
        var threads = Enumerable.Range(0, k).Select(w => new Thread(() =>
        {
            TorchSharp.torch.set_num_threads(1);
            using var replica = ForecastModel.Create(spec, options.Seed);
            // One warm-up gradient, as a worker computes one when it starts (WorkerActor.PreStart).
            Gradients.Compute(replica, data.Train, [0, 1]);
            start.SignalAndWait();
            if (!barrier)
            {
                ParameterVector.Load(replica, weights);
                long own = 0;
                for (int e = 1; e <= epochs; e++)
                {
                    var walk = plan.WalkOrder(w, e);
                    for (int st = 0; st < plan.StepsPerEpoch; st++)
                    {
                        var slice = plan.Part(w, walk, st);
                        if (slice.Length > 0) own += Gradients.Compute(replica, data.Train, slice).Samples;
                    }
                }
                Interlocked.Add(ref samples, own);
                return;
            }
            int[]? order = null;
            int orderEpoch = 0;
            long r = 0;
            while (epoch <= epochs)
            {
                long began = Stopwatch.GetTimestamp();
                if (orderEpoch != epoch)
                {
                    order = plan.WalkOrder(w, epoch);
                    orderEpoch = epoch;
                }
                ParameterVector.Load(replica, weights);
                var part = plan.Part(w, order!, step);
                gradients[w] = part.Length == 0 ? new BatchGradient([], 0, 0) : Gradients.Compute(replica, data.Train, part);
                computeMs[w][r++] = Stopwatch.GetElapsedTime(began).TotalMilliseconds;
                round.SignalAndWait();
            }
        }) { Name = $"floor-{w}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        clock.Stop();
        // With the barrier: the threads' mean compute a round, and the mean of the slowest thread's (what a round waits for).
        double meanCompute = barrier ? computeMs.Average(c => c.Average()) : double.NaN;
        double slowestCompute = barrier ? Enumerable.Range(0, (int)totalRounds).Average(i => computeMs.Max(c => c[i])) : double.NaN;
        Console.WriteLine(string.Create(Culture, $"{samples / clock.Elapsed.TotalSeconds:F1} {clock.Elapsed.TotalMilliseconds / totalRounds:F3} {serverTime.Elapsed.TotalMilliseconds / totalRounds:F3} {validationTime.Elapsed.TotalMilliseconds / totalRounds:F3} {meanCompute:F3} {slowestCompute:F3}"));
    }
}
