using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LstmCluster.Core.Model;

/// <summary>
/// PyTorch's <c>nn.LSTM(batch_first=True)</c> followed by a linear head on the last time step's
/// hidden state that emits <see cref="ModelSpec.Horizon"/> values at once (direct multi-step), or with
/// <see cref="ModelSpec.Quantiles"/> Horizon values per quantile level.
/// Submodule names (<c>lstm</c>, <c>head</c>) make the parameter names match a PyTorch
/// <c>state_dict</c> (<c>lstm.weight_ih_l0</c>, ..., <c>head.bias</c>).
/// </summary>
public sealed class ForecastModel : nn.Module<Tensor, Tensor>
{
    private readonly LSTM lstm;
    private readonly Linear head;

    /// <summary>Builds a model with PyTorch's default initialisation drawn from torch's global generator.</summary>
    public ForecastModel(ModelSpec spec) : base(nameof(ForecastModel))
    {
        spec.Validate();
        Spec = spec;
        lstm = nn.LSTM(spec.InputSize, spec.HiddenSize, spec.NumLayers, batchFirst: true, dropout: spec.Dropout);
        head = nn.Linear(spec.HiddenSize, spec.Outputs);
        RegisterComponents();
    }

    public ModelSpec Spec { get; }

    /// <summary>
    /// Builds a model for training whose initial weights depend only on <paramref name="seed"/>:
    /// PyTorch's initialisation for the LSTM, and a head of zeros. A zero head forecasts "no
    /// change" under window normalization, i.e. exactly the naive forecast, so training starts
    /// from the honest baseline and early stopping can only move away from it when validation
    /// improves (the zero head still receives gradients; the LSTM follows once it is non-zero).
    /// </summary>
    public static ForecastModel Create(ModelSpec spec, long seed)
    {
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
            }
            return model;
        }
    }

    private static readonly object InitLock = new();

    /// <param name="x">Inputs [batch, sequence, inputSize].</param>
    /// <returns>Forecasts [batch, <see cref="ModelSpec.Outputs"/>]: [batch, horizon], or with quantiles each level's horizon values one block after another.</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (output, h, c) = lstm.forward(x);
        var last = output[.., -1, ..];
        return head.forward(last).MoveToOuterDisposeScope();
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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lstm.Dispose();
            head.Dispose();
        }
        base.Dispose(disposing);
    }
}
