using System.CommandLine;
using LstmCluster.Core.Model;
using TorchSharp;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster inspect</c>: runs one LSTM on random input and prints the shapes of its output
/// and state, as a tutorial would: a quick way to see what batch_first and stacking do.
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var input = Positive("--input", "features per time step", 6);
        var hidden = Positive("--hidden", "hidden units", 3);
        var layers = Positive("--layers", "stacked layers", 1);
        var batch = Positive("--batch", "batch size", 1);
        var seq = Positive("--seq", "sequence length", 2);
        var command = new Command("inspect", "Print the shapes of an LSTM layer's output and (h, c) state") { input, hidden, layers, batch, seq };
        command.SetAction(p => Run(p.GetValue(input), p.GetValue(hidden), p.GetValue(layers), p.GetValue(batch), p.GetValue(seq)));
        return command;
    }

    /// <summary>The largest tensor inspect builds (4 bytes a value: 400 MB); beyond it libtorch fails with a C++ trace, or the machine swaps.</summary>
    public const long MaxValues = 100_000_000;

    private static int Run(int input, int hidden, int layers, int batch, int seq)
    {
        var spec = new ModelSpec(input, hidden, layers, 1);
        spec.Validate();
        Check("the input x (batch × seq × input)", (long)batch * seq * input);
        Check("the output (batch × seq × hidden)", (long)batch * seq * hidden);
        Check("the LSTM's weights (about 4 × hidden × (input + hidden) per layer)", 4L * hidden * ((long)input + hidden) * layers);
        using var model = ForecastModel.Create(spec, seed: 0);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(batch, seq, input);
        var (output, h, c) = model.Lstm(x);
        Console.WriteLine($"nn.LSTM(input_size={input}, hidden_size={hidden}, num_layers={layers}, batch_first=True)");
        Console.WriteLine($"input  x       {Shape(x.shape)}   (batch, seq, input)");
        Console.WriteLine($"output         {Shape(output.shape)}   (batch, seq, hidden): h of the last layer at every step");
        Console.WriteLine($"h_n            {Shape(h.shape)}   (layers, batch, hidden): last step, every layer");
        Console.WriteLine($"c_n            {Shape(c.shape)}   (layers, batch, hidden)");
        Console.WriteLine($"parameters     {ParameterVector.Count(model)} (LSTM + a linear head of 1 output)");
        return 0;
    }

    private static void Check(string what, long values)
    {
        if (values > MaxValues)
            throw new CliUsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"inspect: {what} would hold {values:N0} values ({values * 4.0 / 1e9:0.#} GB), over the {MaxValues:N0} this command allows; use smaller sizes"));
    }

    private static string Shape(long[] shape) => $"({string.Join(", ", shape)})";

    private static Option<int> Positive(string name, string description, int fallback)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.Validators.Add(r =>
        {
            if (OptionValues.TryGet<int>(r, out int v) && v < 1) r.AddError($"{name} must be at least 1");
        });
        return option;
    }
}
