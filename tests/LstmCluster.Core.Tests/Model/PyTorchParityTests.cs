using System.Text.Json;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Model;

/// <summary>
/// Loads PyTorch 1.13's weights for a 2×64 LSTM forecaster and checks that this model reproduces
/// PyTorch's prediction, loss, gradients and one Adam step (TestData/README.md).
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class PyTorchParityTests
{
    private const double Absolute = 1e-5;
    private const double Relative = 1e-4;

    private static readonly Lazy<Fixture> Data = new(Fixture.Load);

    [Fact]
    public void Parameter_layout_follows_the_pytorch_state_dict_names_and_shapes()
    {
        using var model = new ForecastModel(new ModelSpec(1, 64, 2, 1));
        var layout = ParameterVector.Layout(model);
        Assert.Equal(Data.Value.ParamNames, layout.Select(s => s.Name).ToArray());
        foreach (var slot in layout)
            Assert.Equal(Data.Value.Params[slot.Name].Shape, slot.Shape);
        Assert.Equal(model.Spec.ParameterCount, layout.Sum(s => s.Length));
    }

    [Fact]
    public void Loaded_weights_reproduce_pytorch_prediction_loss_and_gradients()
    {
        var f = Data.Value;
        using var model = LoadedModel(f);
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(f.X, [8, 32, 1]);
        var y = torch.tensor(f.Y, [8, 1]);
        var pred = model.forward(x);
        var loss = nn.functional.mse_loss(pred, y);
        loss.backward();

        AssertClose(f.Pred, pred.data<float>().ToArray(), "pred");
        AssertClose([(float)f.Loss], [loss.item<float>()], "loss");
        var grads = ParameterVector.FlattenGradients(model);
        foreach (var slot in ParameterVector.Layout(model))
            AssertClose(f.Grads[slot.Name].Values, grads.AsSpan(slot.Offset, slot.Length).ToArray(), $"grad {slot.Name}");
    }

    [Fact]
    public void One_adam_step_on_the_flat_gradient_matches_pytorch()
    {
        var f = Data.Value;
        using var model = LoadedModel(f);
        var windows = new LstmCluster.Core.Data.WindowSet(f.X, f.Y, Enumerable.Range(0, 8).ToArray(), 32, 1, 1);
        var gradient = Gradients.Compute(model, windows, Enumerable.Range(0, 8).ToArray());
        using var master = new MasterOptimizer(model, new TrainingOptions { LearningRate = 1e-3, ClipNorm = 0 });
        master.Step(gradient.Values);

        var after = master.Weights();
        foreach (var slot in ParameterVector.Layout(model))
            AssertClose(f.After[slot.Name].Values, after.AsSpan(slot.Offset, slot.Length).ToArray(), $"param after Adam {slot.Name}");
        AssertClose([(float)f.Loss], [(float)gradient.Loss], "loss via Gradients.Compute");
    }

    private static ForecastModel LoadedModel(Fixture f)
    {
        var model = new ForecastModel(new ModelSpec(1, 64, 2, 1));
        var flat = ParameterVector.Layout(model).SelectMany(s => f.Params[s.Name].Values).ToArray();
        ParameterVector.Load(model, flat);
        Assert.Equal(flat, ParameterVector.Flatten(model));
        return model;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            bool ok = diff <= Absolute || diff <= Relative * Math.Abs(expected[i]);
            Assert.True(ok, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (diff {diff:E2})");
        }
    }

    private sealed record Tensorish(long[] Shape, float[] Values);

    private sealed class Fixture
    {
        public required float[] X { get; init; }
        public required float[] Y { get; init; }
        public required float[] Pred { get; init; }
        public required double Loss { get; init; }
        public required string[] ParamNames { get; init; }
        public required Dictionary<string, Tensorish> Params { get; init; }
        public required Dictionary<string, Tensorish> Grads { get; init; }
        public required Dictionary<string, Tensorish> After { get; init; }

        public static Fixture Load()
        {
            var path = Path.Combine(AppContext.BaseDirectory, "TestData", "pytorch_lstm_2x64_f32.json");
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            return new Fixture
            {
                X = Floats(root.GetProperty("x")),
                Y = Floats(root.GetProperty("y")),
                Pred = Floats(root.GetProperty("pred")),
                Loss = root.GetProperty("loss").GetDouble(),
                ParamNames = root.GetProperty("params").EnumerateObject().Select(p => p.Name).ToArray(),
                Params = Named(root.GetProperty("params")),
                Grads = Named(root.GetProperty("grads")),
                After = Named(root.GetProperty("params_after_adam_step")),
            };
        }

        private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

        // `params` holds {shape, values} per name; `grads` and `params_after_adam_step` hold the values alone.
        private static Dictionary<string, Tensorish> Named(JsonElement e) => e.EnumerateObject().ToDictionary(
            p => p.Name,
            p => p.Value.ValueKind == JsonValueKind.Object
                ? new Tensorish(p.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray(),
                    Floats(p.Value.GetProperty("values")))
                : new Tensorish([], Floats(p.Value)));
    }
}
