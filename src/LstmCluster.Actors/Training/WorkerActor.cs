using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Runtime;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Actors.Training;

/// <summary>
/// Holds one shard of a job's training windows and a model replica. Each <see cref="Weights"/>
/// loads the master weights and answers with the gradient of the worker's part of the next batch
/// (<see cref="BatchPlan.Part"/>: the global batch's members in its shard, or with shard-local
/// sampling its own next slice), walking the plan epoch by epoch; each
/// <see cref="LocalRound"/> takes local optimizer steps and answers with the weights.
/// </summary>
public sealed class WorkerActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    public const string Name = "worker";

    private readonly int? torchThreads;
    private readonly Remoting.ChunkedSender wire;
    private Shard? shard;

    public WorkerActor(int? torchThreads = null)
    {
        this.torchThreads = torchThreads;
        // Replies go through the chunked path: a gradient is as large as the model, and a plain Tell
        // could overtake an earlier chunked reply to the same server.
        wire = new Remoting.ChunkedSender(Context.System);
        Idle();
    }

    /// <param name="torchThreads">libtorch intra-op threads for this worker's computations; null keeps the default.</param>
    public static Props Props(int? torchThreads = null) =>
        Akka.Actor.Props.Create(() => new WorkerActor(torchThreads)).WithDispatcher(Dispatchers.Torch);


    /// <summary>
    /// Warms libtorch and the compute path before any job: libtorch initialises lazily (its allocator, the autograd
    /// engine) and .NET compiles the forward, loss, backward and flattening code on first use. In a fresh worker process
    /// that took ~0.5 s inside its first job's first round (a quiet-machine trace, issue #12: 520 ms against 15 ms for a
    /// later round), where the job's clock runs and, with K workers, every other worker waits for the slowest. One
    /// gradient of a tiny model here costs the same once, when the node starts. A failure is only logged: the job's own
    /// computation will then fail with its reason.
    /// </summary>
    protected override void PreStart()
    {
        base.PreStart();
        try
        {
            Dispatchers.UseTorchThreads(torchThreads);
            WarmUp();
        }
        catch (Exception e)
        {
            log.Warning("worker warm-up failed: {0}", e.Message);
        }
    }

    /// <summary>One gradient and one weight load of a 1→4×2 model on two windows of four steps (what a round does); nothing is kept.</summary>
    private static void WarmUp()
    {
        using var scope = torch.NewDisposeScope();
        using var model = ForecastModel.Create(new ModelSpec(1, 4, 2, 1), seed: 0);
        var windows = new WindowSet([0.1f, 0.2f, 0.3f, 0.4f, 0.2f, 0.3f, 0.4f, 0.5f], [0.5f, 0.6f], [0, 1], lookback: 4, features: 1, horizon: 1);
        Gradients.Compute(model, windows, [0, 1]);
        ParameterVector.Load(model, ParameterVector.Flatten(model));
    }

    private void Idle()
    {
        Receive<AssignShard>(OnAssign);
        Receive<ReleaseShard>(_ => { });
        Receive<Weights>(m => log.Debug("no shard assigned: ignoring weights v{0} of job {1}", m.Version, m.Job));
        Receive<LocalRound>(m => log.Debug("no shard assigned: ignoring local round v{0} of job {1}", m.Version, m.Job));
    }

    private void Assigned()
    {
        Receive<AssignShard>(OnAssign);
        Receive<ReleaseShard>(OnRelease);
        Receive<Weights>(OnWeights);
        Receive<LocalRound>(OnLocalRound);
    }

    private void OnAssign(AssignShard m)
    {
        shard?.Dispose();
        shard = null;
        try
        {
            shard = new Shard(m);
            Become(Assigned);
        }
        catch (Exception e)
        {
            wire.Tell(Sender, new WorkerFailed(m.Job, m.Worker, e.Message), Self);
            Become(Idle);
        }
    }

    private void OnRelease(ReleaseShard m)
    {
        if (shard is null || shard.Job != m.Job) return;
        shard.Dispose();
        shard = null;
        Become(Idle);
    }

    private void OnWeights(Weights m) => Compute(m.Job, shard => shard.Gradient(m));

    private void OnLocalRound(LocalRound m) => Compute(m.Job, shard => shard.Local(m));

    /// <summary>Runs one computation of the assigned job and replies with its result, or with WorkerFailed.</summary>
    private void Compute(string job, Func<Shard, object> work)
    {
        if (shard is null || shard.Job != job) return;
        try
        {
            Dispatchers.UseTorchThreads(torchThreads);
            if (WireTrace.Enabled) WireTrace.Mark("compute-start", $"worker-{shard.Index}", 0);
            int epoch = shard.Epoch;
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var reply = work(shard);
            // The server tells a round's compute from the messages' ways with this (RoundTimes).
            var computed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            reply = reply switch
            {
                Gradient g => g with { Compute = computed },
                LocalWeights l => l with { Compute = computed },
                _ => reply,
            };
            if (WireTrace.Enabled) WireTrace.Mark("compute-end", $"worker-{shard.Index}", 0);
            wire.Tell(Sender, reply, Self);
            // Once an epoch, after the reply is on its way (while the server steps): the native heap's free pages back to
            // the kernel, so a long job's resident memory does not creep up with free space (NativeMemory.Trim).
            if (shard.Epoch != epoch) NativeMemory.Trim();
        }
        catch (Exception e)
        {
            // The parameter server gets the reason and fails or carries on the job: one line here, the trace only when debugging.
            log.Warning("job {0}: worker {1} failed: {2}", job, shard.Index, e.Message);
            log.Debug("job {0}: worker {1} failed: {2}", job, shard.Index, e);
            wire.Tell(Sender, new WorkerFailed(job, shard.Index, e.Message), Self);
        }
    }

    protected override void PostStop()
    {
        shard?.Dispose();
        base.PostStop();
    }

    /// <summary>A job's shard on this worker: its windows, replica and position in the plan.</summary>
    private sealed class Shard : IDisposable
    {
        private readonly BatchPlan plan;
        private readonly WindowSet windows;
        private readonly Dictionary<int, int> local;
        private readonly ForecastModel model;
        private readonly TrainingOptions options;
        private MasterOptimizer? optimizer;
        private int epoch = 1;
        private int step;
        private int[]? order;

        public Shard(AssignShard m)
        {
            Job = m.Job;
            Index = m.Worker;
            plan = m.Plan.Build();
            ShardIndex = m.ShardIndex;
            if (ShardIndex < 0 || ShardIndex >= plan.ShardCount)
                throw new ArgumentException($"shard {ShardIndex} outside the plan's {plan.ShardCount} shards");
            if (m.StartEpoch < 1 || m.StartStep < 0 || m.StartStep >= plan.StepsPerEpoch)
                throw new ArgumentException($"start (epoch {m.StartEpoch}, step {m.StartStep}) outside the plan's {plan.StepsPerEpoch} steps per epoch");
            var members = plan.Shard(ShardIndex);
            if (members.Count != m.Windows.Count)
                throw new ArgumentException($"shard {ShardIndex} has {members.Count} windows in the plan but {m.Windows.Count} were sent");
            epoch = m.StartEpoch;
            step = m.StartStep;
            local = new Dictionary<int, int>(members.Count);
            for (int i = 0; i < members.Count; i++) local[members[i]] = i;
            windows = m.Windows;
            options = m.Options;
            // The seed only matters until the first Weights overwrite the replica.
            model = ForecastModel.Create(m.Spec, m.Options.Seed);
        }

        public string Job { get; }
        public int Index { get; }

        /// <summary>The epoch the next batch belongs to.</summary>
        public int Epoch => epoch;
        public int ShardIndex { get; }

        public Gradient Gradient(Weights m)
        {
            using var scope = torch.NewDisposeScope();
            ParameterVector.Load(model, m.Values);
            var batch = NextBatch();
            // Global sampling can leave a shard without a member in a batch: nothing to send but the count (the server
            // averages only contributions with samples).
            if (batch.Length == 0) return new Gradient(Job, m.Version, Index, [], 0, 0);
            var g = Gradients.Compute(model, windows, batch);
            return new Gradient(Job, m.Version, Index, g.Values, g.Samples, g.Loss);
        }

        public LocalWeights Local(LocalRound m)
        {
            using var scope = torch.NewDisposeScope();
            // The optimizer keeps its own master copy of the weights: the round's weights go through it.
            if (optimizer is null)
            {
                ParameterVector.Load(model, m.Values);
                optimizer = new MasterOptimizer(model, options);
            }
            else
            {
                optimizer.LoadWeights(m.Values);
            }
            optimizer.LearningRate = m.LearningRate;
            double lossSum = 0;
            int samples = 0;
            for (int s = 0; s < m.Steps; s++)
            {
                var batch = NextBatch();
                if (batch.Length == 0) continue;
                var g = Gradients.Compute(model, windows, batch);
                optimizer.Step(g.Values);
                lossSum += g.Loss * g.Samples;
                samples += g.Samples;
            }
            return new LocalWeights(Job, m.Version, Index, ParameterVector.Flatten(model), samples, samples > 0 ? lossSum / samples : 0);
        }

        /// <summary>Local indices of the next slice; moves the cursor, wrapping into the next epoch.</summary>
        private int[] NextBatch()
        {
            order ??= plan.WalkOrder(ShardIndex, epoch);
            var slice = plan.Part(ShardIndex, order, step);
            if (++step == plan.StepsPerEpoch)
            {
                step = 0;
                epoch++;
                order = null;
            }
            var result = new int[slice.Length];
            for (int i = 0; i < slice.Length; i++) result[i] = local[slice[i]];
            return result;
        }

        public void Dispose()
        {
            optimizer?.Dispose();
            model.Dispose();
        }
    }
}
