using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Model;

[Collection(TorchCollection.Name)]
public sealed class TorchSharpLoadTests
{
    [Fact]
    public void Native_library_loads_and_runs_a_forward_and_backward_pass()
    {
        torch.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        var lstm = nn.LSTM(2, 3, 1, batchFirst: true);
        var x = torch.randn(4, 5, 2);
        var (output, h, c) = lstm.forward(x);
        var loss = output.pow(2).mean();
        loss.backward();

        Assert.Equal(new long[] { 4, 5, 3 }, output.shape);
        var grad = lstm.parameters().First().grad;
        Assert.NotNull(grad);
        // A real backward pass gives a non-zero, finite gradient.
        var norm = grad!.norm().item<float>();
        Assert.True(float.IsFinite(norm) && norm > 0, $"gradient norm {norm}");
    }
}
