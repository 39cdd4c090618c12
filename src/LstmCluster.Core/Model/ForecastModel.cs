using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LstmCluster.Core.Model;

/// <summary>
/// PyTorch's <c>nn.LSTM(batch_first=True)</c> followed by a linear head on the last time step's hidden state that emits
/// <see cref="ModelSpec.Horizon"/> values at once (direct multi-step). With <see cref="ModelSpec.Quantiles"/> an offset head
/// on the same hidden state gives every level relative to that point forecast (<see cref="QuantileHead.PointOffsets"/>).
/// Submodule names (<c>lstm</c>, <c>head</c>, <c>offsets</c>) make the parameter names match a PyTorch <c>state_dict</c>
/// (<c>lstm.weight_ih_l0</c>, ..., <c>head.bias</c>, <c>offsets.weight</c>, <c>offsets.bias</c>).
/// </summary>
/// <remarks>
/// The offset head reads the hidden state detached, and builds the levels on the point forecast detached: the pinball loss
/// trains the offset head alone, so the LSTM and the point head get exactly the gradients of the mean squared error, and a
/// model with quantiles forecasts the same points as one without (same seed, same data; tested bit for bit). The levels
/// are ordered by construction: the 0.5 level is the point plus an unconstrained offset (the median of the point's error,
/// which need not be zero), each level above it adds a softplus (positive) gap to the one below, each level below subtracts
/// one from the one above.
/// </remarks>
public sealed class ForecastModel : nn.Module<Tensor, Tensor>
{
    private readonly LSTM lstm;
    private readonly Linear head;
    private readonly Linear? offsets;

    /// <summary>The LSTM in float64, built on first need (<see cref="LstmInferenceCheck"/>); not a registered component.</summary>
    private LSTM? float64;
    private readonly object float64Lock = new();

    /// <summary>Builds a model with PyTorch's default initialisation drawn from torch's global generator.</summary>
    public ForecastModel(ModelSpec spec) : base(nameof(ForecastModel))
    {
        spec.Validate();
        Spec = spec;
        lstm = nn.LSTM(spec.InputSize, spec.HiddenSize, spec.NumLayers, batchFirst: true, dropout: spec.Dropout);
        head = nn.Linear(spec.HiddenSize, spec.HeadOutputs);
        if (spec.OffsetOutputs > 0)
        {
            // Its initialisation draws from the global generator too: put the generator back, so that anything drawn after
            // the model is built (dropout masks) is what it is for the same model without quantiles.
            using var state = torch.Generator.Default.get_state();
            offsets = nn.Linear(spec.HiddenSize, spec.OffsetOutputs);
            torch.Generator.Default.set_state(state);
        }
        RegisterComponents();
    }

    public ModelSpec Spec { get; }

    /// <summary>
    /// Builds a model for training whose initial weights depend only on <paramref name="seed"/>:
    /// PyTorch's initialisation for the LSTM, and a head of zeros. A zero head forecasts "no
    /// change" under window normalization, i.e. exactly the naive forecast, so training starts
    /// from the honest baseline and early stopping can only move away from it when validation
    /// improves (the zero head still receives gradients; the LSTM follows once it is non-zero).
    /// A zero offset head puts the 0.5 level on the point and spaces the levels softplus(0) = ln 2 apart (model space).
    /// </summary>
    public static ForecastModel Create(ModelSpec spec, long seed)
    {
        if (spec.IsMedianHead)
            throw new ArgumentException("a quantile model of format 1 (its 0.5 level the point forecast) can be loaded to forecast, not trained");
        // Initialisation draws from torch's process-wide generator; serialise so concurrent
        // constructions (several actors in one process) cannot interleave their draws.
        lock (InitLock)
        {
            torch.manual_seed(seed);
            var model = new ForecastModel(spec);
            using (torch.no_grad())
            {
                model.head.weight!.zero_();
                model.head.bias!.zero_();
                model.offsets?.weight!.zero_();
                model.offsets?.bias!.zero_();
            }
            return model;
        }
    }

    private static readonly object InitLock = new();

    /// <param name="x">Inputs [batch, sequence, inputSize].</param>
    /// <returns>
    /// Forecasts [batch, <see cref="ModelSpec.Outputs"/>]: the point forecast's horizon values, then with quantiles each
    /// level's horizon values one block after another (<see cref="ModelSpec.LevelOutput"/>), never decreasing with the level
    /// (the <see cref="QuantileHead.Median"/> layout of older files: as its head gave them, its 0.5 block as the point).
    /// </returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (point, levels) = Forward(x);
        return (levels is null ? point : torch.cat([point, levels], 1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="forward"/> in its two parts: the point forecast [batch, horizon] and, with quantiles, the levels [batch,
    /// levels × horizon] (else null). Training takes the loss of each part as it comes out of its head: the point's gradient
    /// then reaches the point head as a tensor of its own, and is reduced (the bias's sum over the batch) exactly as
    /// without quantiles, which a slice of the joined output would not be.
    /// </summary>
    public (Tensor Point, Tensor? Levels) Forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var last = LstmOutput(x)[.., -1, ..];
        var point = head.forward(last);
        if (!Spec.IsQuantile) return (point.MoveToOuterDisposeScope(), null);
        long horizon = Spec.Horizon;
        if (Spec.IsMedianHead)
            return (point.narrow(1, Spec.MedianIndex * horizon, horizon).contiguous().MoveToOuterDisposeScope(), point.MoveToOuterDisposeScope());
        return (point.MoveToOuterDisposeScope(), LevelsOf(last, point).MoveToOuterDisposeScope());
    }

    /// <summary>The offset head (<see cref="QuantileHead.PointOffsets"/>), or null: what <see cref="Forecasting.QuantileCalibration"/> refits.</summary>
    public nn.Module? OffsetHead => offsets;

    /// <summary>The LSTM's last hidden state [batch, hidden] and the point forecast [batch, horizon]: what the offset head reads.</summary>
    public (Tensor Hidden, Tensor Point) Features(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var last = LstmOutput(x)[.., -1, ..];
        var point = head.forward(last);
        return (last.MoveToOuterDisposeScope(), point.MoveToOuterDisposeScope());
    }

    /// <summary>The levels [batch, levels × horizon] the offset head gives on <see cref="Features"/> (detached).</summary>
    public Tensor LevelsOf(Tensor hidden, Tensor point)
    {
        if (offsets is null) throw new InvalidOperationException("the model has no offset head");
        using var scope = torch.NewDisposeScope();
        var raw = offsets.forward(hidden.detach()).view(-1, Spec.QuantileCount, Spec.Horizon);
        return Levels(point.detach(), raw, Spec.MedianIndex).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The levels [batch, levels, horizon] from the point [batch, horizon] and the offset head's raw values [batch, levels,
    /// horizon]: level m (0.5) = point + raw_m; level j &gt; m = level j − 1 + softplus(raw_j); level j &lt; m = level j + 1 −
    /// softplus(raw_j).
    /// </summary>
    public static Tensor Levels(Tensor point, Tensor raw, int median)
    {
        using var scope = torch.NewDisposeScope();
        long levels = raw.shape[1];
        var anchor = (point + raw[.., median, ..]).unsqueeze(1);
        var parts = new List<Tensor>();
        if (median > 0)
        {
            var gaps = nn.functional.softplus(raw[.., ..median, ..]);
            parts.Add(anchor - gaps.flip(1).cumsum(1).flip(1));
        }
        parts.Add(anchor);
        if (median < levels - 1)
            parts.Add(anchor + nn.functional.softplus(raw[.., (median + 1).., ..]).cumsum(1));
        return torch.cat(parts, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The bare LSTM, as in PyTorch: output [batch, seq, hidden] and state (h, c) each
    /// [layers, batch, hidden]. Used by <c>inspect</c> and the tutorial-shape tests.
    /// </summary>
    public (Tensor Output, Tensor H, Tensor C) Lstm(Tensor x, (Tensor H, Tensor C)? state = null)
    {
        var (output, h, c) = lstm.forward(x, state);
        return (output, h, c);
    }

    /// <summary>
    /// The LSTM's output [batch, seq, hidden]; in evaluation without autograd (validation, forecasts) through
    /// <see cref="LstmInferenceCheck"/>, which has it computed in float64 on a processor whose float32 inference LSTM is wrong.
    /// </summary>
    private Tensor LstmOutput(Tensor x)
    {
        if (training || torch.is_grad_enabled()) return lstm.forward(x).Item1;
        return LstmInferenceCheck.Process.Output(x, Spec, v => lstm.forward(v).Item1, Float64Output);
    }

    /// <summary>The LSTM's output [batch, seq, hidden] computed in float64 with this model's current weights.</summary>
    internal Tensor Float64Output(Tensor x)
    {
        lock (float64Lock)
        {
            if (float64 is null)
            {
                // Building a module draws its initial weights from the global generator: put it back, so that building it
                // (on a forecast or a validation pass) changes nothing that training draws afterwards. It lives as long as
                // this model, so its parameters leave the dispose scope of the forward that builds it: freed there, their
                // memory went to other tensors and corrupted training (tested).
                using var build = torch.NewDisposeScope();
                lock (InitLock)
                {
                    using var state = torch.Generator.Default.get_state();
                    float64 = nn.LSTM(Spec.InputSize, Spec.HiddenSize, Spec.NumLayers, batchFirst: true);
                    torch.Generator.Default.set_state(state);
                }
                float64.to(ScalarType.Float64);
                float64.eval();
                foreach (var parameter in float64.parameters()) parameter.DetachFromDisposeScope();
            }
            using (torch.no_grad())
            {
                foreach (var (from, to) in lstm.parameters().Zip(float64.parameters())) to.copy_(from);
            }
            using var scope = torch.NewDisposeScope();
            return float64.forward(x.to(ScalarType.Float64)).Item1.MoveToOuterDisposeScope();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            float64?.Dispose();
            lstm.Dispose();
            head.Dispose();
            offsets?.Dispose();
        }
        base.Dispose(disposing);
    }
}
