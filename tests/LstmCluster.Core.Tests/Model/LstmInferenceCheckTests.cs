using LstmCluster.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Model;

[Collection(TorchCollection.Name)]
public sealed class LstmInferenceCheckTests
{
    private static readonly ModelSpec Spec = new(3, 16, 2, 2);

    [Theory]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(48)]
    [InlineData(64)]
    public void Forecasts_in_evaluation_agree_with_the_model_computed_in_float64(int hiddenSize)
    {
        // Whatever this host's float32 inference LSTM does: sound, it agrees; wrong, the check has float64 answer instead.
        // The hidden sizes: on an AMD EPYC (Zen 5) VM of 2026-12-02, oneDNN's AVX-512 inference LSTM was off by 0.06-0.38 at
        // hidden 4, 8, 12, 16 and 48, and right at 20, 24, 32, 64, 96 and 128 (training's path was right at all of them).
        torch.manual_seed(4);
        using var model = new ForecastModel(new ModelSpec(3, hiddenSize, 2, 2));
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(5, 24, 3);
        using var noGrad = torch.no_grad();
        model.eval();
        var (hidden, point) = model.Features(x);
        Assert.True(LstmInferenceCheck.Deviation(hidden, model.Float64Output(x)[.., -1, ..]) < 1e-5);
        Assert.True(torch.allclose(point, model.forward(x)), "Features and forward give other points");
    }

    [Fact]
    public void A_float32_output_that_differs_from_float64_is_reported_once_and_float64_answers_for_its_geometry_from_then_on()
    {
        var check = new LstmInferenceCheck();
        var reports = new List<string>();
        check.FaultFound += reports.Add;
        int float32Calls = 0;
        using var scope = torch.NewDisposeScope();
        // A float32 path off by 3e-2, as the faulty processor's was.
        Tensor Wrong(Tensor x) { float32Calls++; return (Truth(x) + 0.03).to(ScalarType.Float32); }

        var first = check.Output(torch.ones(2, 5, 3), Spec, Wrong, Truth);
        Assert.True(LstmInferenceCheck.Deviation(first, Truth(torch.ones(2, 5, 3))) < 1e-6, "the float32 output was returned");
        Assert.Contains("float64", Assert.Single(check.Faults));
        Assert.Contains("hidden 16 × 2", reports.Single());

        // Another batch and length of the same geometry: float64 at once, the float32 path is not asked again.
        var second = check.Output(torch.ones(4, 7, 3), Spec, Wrong, Truth);
        Assert.True(LstmInferenceCheck.Deviation(second, Truth(torch.ones(4, 7, 3))) < 1e-6);
        Assert.Equal(1, float32Calls);
        Assert.Single(reports);
    }

    [Fact]
    public void A_geometry_found_wrong_leaves_the_float32_path_of_the_others()
    {
        var check = new LstmInferenceCheck();
        var reports = new List<string>();
        check.FaultFound += reports.Add;
        int float32Calls = 0, float64Calls = 0;
        using var scope = torch.NewDisposeScope();
        Tensor Wrong(Tensor x) => (Truth(x) + 0.03).to(ScalarType.Float32);
        Tensor Sound(Tensor x) { float32Calls++; return Truth(x).to(ScalarType.Float32); }
        Tensor Reference(Tensor x) { float64Calls++; return Truth(x); }

        check.Output(torch.ones(2, 5, 3), Spec, Wrong, Reference);
        Assert.Single(check.Faults);
        float64Calls = 0;
        // Another hidden size, another number of layers, another number of inputs: each checked once, then float32 alone.
        foreach (var (spec, inputs) in new[] { (new ModelSpec(3, 64, 2, 2), 3), (new ModelSpec(3, 16, 1, 2), 3), (new ModelSpec(2, 16, 2, 2), 2) })
        {
            check.Output(torch.ones(2, 5, inputs), spec, Sound, Reference);
            check.Output(torch.zeros(2, 5, inputs), spec, Sound, Reference);
        }
        Assert.Equal(6, float32Calls);
        Assert.Equal(3, float64Calls);
        Assert.Single(reports);
        // A second geometry found wrong is reported in its turn.
        check.Output(torch.ones(2, 5, 3), new ModelSpec(3, 48, 2, 2), Wrong, Reference);
        Assert.Equal(2, reports.Count);
        Assert.Equal(2, check.Faults.Count);
    }

    [Fact]
    public void An_agreeing_shape_is_checked_once_and_a_new_shape_again()
    {
        var check = new LstmInferenceCheck();
        int float64Calls = 0;
        using var scope = torch.NewDisposeScope();
        Tensor Reference(Tensor x) { float64Calls++; return Truth(x); }
        Tensor Float32(Tensor x) => Truth(x).to(ScalarType.Float32);

        check.Output(torch.ones(2, 5, 3), Spec, Float32, Reference);
        check.Output(torch.zeros(2, 5, 3), Spec, Float32, Reference);
        Assert.Equal(1, float64Calls);
        check.Output(torch.ones(3, 5, 3), Spec, Float32, Reference);
        Assert.Equal(2, float64Calls);
        Assert.Empty(check.Faults);
    }

    [Fact]
    public void Outputs_that_are_nan_both_ways_and_empty_batches_say_nothing_about_the_processor()
    {
        var check = new LstmInferenceCheck();
        using var scope = torch.NewDisposeScope();
        Tensor Nan(Tensor x) => torch.full(x.shape[0], x.shape[1], 16, double.NaN, ScalarType.Float64);
        check.Output(torch.ones(2, 5, 3), Spec, x => Nan(x).to(ScalarType.Float32), Nan);
        check.Output(torch.ones(0, 5, 3), Spec, x => Truth(x).to(ScalarType.Float32) + 1, Truth);
        Assert.Empty(check.Faults);
        // NaN in float32 alone is a fault.
        check.Output(torch.ones(2, 5, 3), Spec, x => Nan(x).to(ScalarType.Float32), Truth);
        Assert.NotEmpty(check.Faults);
    }

    [Fact]
    public void Building_the_float64_lstm_leaves_the_generator_where_it_was()
    {
        using var model = ForecastModel.Create(Spec, seed: 1);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, 5, 3);
        torch.manual_seed(5);
        using (torch.no_grad()) model.Float64Output(x);
        var after = torch.rand(4);
        torch.manual_seed(5);
        Assert.True(torch.allclose(after, torch.rand(4), rtol: 0, atol: 0));
    }

    [Fact]
    public void The_float64_lstm_outlives_the_dispose_scope_of_the_forward_that_built_it_and_leaves_training_as_it_was()
    {
        var x = torch.randn(3, 5, 3);
        float[] GradientAfter(bool evaluateFirst)
        {
            using var model = ForecastModel.Create(Spec, seed: 1);
            using (torch.no_grad()) foreach (var p in model.parameters()) p.add_(0.1);
            double[]? built = null;
            if (evaluateFirst)
                using (torch.NewDisposeScope())
                using (torch.no_grad())
                {
                    model.eval();
                    model.forward(x);
                    // Built in this scope (if the forward did not already): what it answers before the scope ends.
                    built = model.Float64Output(x).data<double>().ToArray();
                }
            using var scope = torch.NewDisposeScope();
            // Tensors that may take the memory of anything the first scope freed.
            for (int i = 0; i < 20; i++) torch.randn(Spec.HiddenSize * 4, Spec.HiddenSize);
            // Compared with itself, not with the float32 LSTM without autograd, which is the path that may be wrong on this host.
            if (built is not null)
                using (torch.no_grad()) Assert.Equal(built, model.Float64Output(x).data<double>().ToArray());
            model.train();
            model.zero_grad();
            model.forward(x).sum().backward();
            return ParameterVector.FlattenGradients(model);
        }
        Assert.Equal(GradientAfter(false), GradientAfter(true));
    }

    /// <summary>A stand-in for an LSTM's float64 output [batch, seq, 16]: any fixed function of the input.</summary>
    private static Tensor Truth(Tensor x) => torch.tanh(x.to(ScalarType.Float64).sum(2, keepdim: true).expand(-1, -1, 16) / 10);
}
