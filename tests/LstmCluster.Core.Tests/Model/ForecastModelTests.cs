using LstmCluster.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Model;

[Collection(TorchCollection.Name)]
public sealed class ForecastModelTests
{
    [Fact]
    public void Lstm_with_input_6_hidden_3_on_one_step_gives_output_1x1x3_and_state_1x1x3()
    {
        using var model = ForecastModel.Create(new ModelSpec(6, 3, 1, 1), seed: 1);
        using var scope = torch.NewDisposeScope();
        var (output, h, c) = model.Lstm(torch.randn(1, 1, 6));
        Assert.Equal(new long[] { 1, 1, 3 }, output.shape);
        Assert.Equal(new long[] { 1, 1, 3 }, h.shape);
        Assert.Equal(new long[] { 1, 1, 3 }, c.shape);
    }

    [Fact]
    public void Lstm_with_sequence_length_2_gives_output_1x2x3_and_state_of_the_last_step()
    {
        using var model = ForecastModel.Create(new ModelSpec(6, 3, 1, 1), seed: 1);
        using var scope = torch.NewDisposeScope();
        var (output, h, c) = model.Lstm(torch.randn(1, 2, 6));
        Assert.Equal(new long[] { 1, 2, 3 }, output.shape);
        Assert.Equal(new long[] { 1, 1, 3 }, h.shape);
        // With one layer, h is the output at the last step.
        Assert.True(torch.allclose(output[.., -1, ..], h[0]));
    }

    [Fact]
    public void Stacked_lstm_state_is_shaped_layers_by_batch_by_hidden()
    {
        using var model = ForecastModel.Create(new ModelSpec(4, 5, 3, 2), seed: 1);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(7, 11, 4);
        var (output, h, c) = model.Lstm(x);
        Assert.Equal(new long[] { 7, 11, 5 }, output.shape);
        Assert.Equal(new long[] { 3, 7, 5 }, h.shape);
        Assert.Equal(new long[] { 3, 7, 5 }, c.shape);
        Assert.Equal(new long[] { 7, 2 }, model.forward(x).shape);
    }

    [Fact]
    public void One_layer_recomputed_from_the_gate_equations_equals_nn_lstm()
    {
        const int input = 3, hidden = 4, steps = 5, batch = 2;
        using var model = ForecastModel.Create(new ModelSpec(input, hidden, 1, 1), seed: 7);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(batch, steps, input);
        var h0 = torch.randn(1, batch, hidden);
        var c0 = torch.randn(1, batch, hidden);
        var (output, hN, cN) = model.Lstm(x, (h0, c0));

        var p = model.named_parameters().ToDictionary(t => t.name, t => t.parameter.detach());
        var wih = p["lstm.weight_ih_l0"]; var whh = p["lstm.weight_hh_l0"];
        var bih = p["lstm.bias_ih_l0"]; var bhh = p["lstm.bias_hh_l0"];
        var h = h0[0];
        var c = c0[0];
        for (int t = 0; t < steps; t++)
        {
            var gates = x[.., t, ..].matmul(wih.t()) + bih + h.matmul(whh.t()) + bhh;
            // PyTorch's gate order in the stacked weights: input, forget, cell (g), output.
            var chunks = gates.chunk(4, 1);
            var i = torch.sigmoid(chunks[0]);
            var f = torch.sigmoid(chunks[1]);
            var g = torch.tanh(chunks[2]);
            var o = torch.sigmoid(chunks[3]);
            c = f * c + i * g;
            h = o * torch.tanh(c);
            Assert.True(torch.allclose(output[.., t, ..], h, rtol: 0, atol: 1e-5), $"step {t} output differs");
        }
        Assert.True(torch.allclose(hN[0], h, rtol: 0, atol: 1e-5));
        Assert.True(torch.allclose(cN[0], c, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Flat_vector_round_trips_and_loading_it_changes_the_output()
    {
        var spec = new ModelSpec(2, 8, 2, 3);
        using var a = ForecastModel.Create(spec, seed: 1);
        using var b = ForecastModel.Create(spec, seed: 2);
        var wa = ParameterVector.Flatten(a);
        Assert.Equal(spec.ParameterCount, wa.Length);
        Assert.NotEqual(wa, ParameterVector.Flatten(b));

        ParameterVector.Load(b, wa);
        Assert.Equal(wa, ParameterVector.Flatten(b));
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(4, 6, 2);
        Assert.Equal(a.forward(x).data<float>().ToArray(), b.forward(x).data<float>().ToArray());
    }

    [Fact]
    public void Parameters_without_a_gradient_flatten_to_zeros_whatever_memory_the_vector_reuses()
    {
        // FlattenGradients leaves its array unzeroed and writes every value: a model that has not run backward has no
        // gradients at all, and its flat gradient must be zeros even when its array reuses memory that held other values.
        var spec = new ModelSpec(1, 64, 2, 1);
        using var model = ForecastModel.Create(spec, seed: 1);
        for (int attempt = 0; attempt < 20; attempt++)
        {
            for (int i = 0; i < 8; i++) GC.KeepAlive(Enumerable.Repeat(float.NaN, spec.ParameterCount).ToArray());
            GC.Collect();
            var flat = ParameterVector.FlattenGradients(model);
            Assert.Equal(spec.ParameterCount, flat.Length);
            Assert.All(flat, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Same_seed_gives_identical_initial_weights()
    {
        var spec = new ModelSpec(1, 16, 2, 1);
        using var a = ForecastModel.Create(spec, seed: 42);
        using var b = ForecastModel.Create(spec, seed: 42);
        Assert.Equal(ParameterVector.Flatten(a), ParameterVector.Flatten(b));
    }

    [Fact]
    public void Loading_a_vector_of_the_wrong_length_is_rejected()
    {
        using var model = ForecastModel.Create(new ModelSpec(1, 4, 1, 1), seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => ParameterVector.Load(model, new float[3]));
        Assert.Contains("expects", ex.Message);
    }
}
