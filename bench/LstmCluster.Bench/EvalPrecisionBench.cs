using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// libtorch's LSTM in evaluation (no autograd: oneDNN's inference path) in float32 against float64, per hidden size: how far
/// apart they are, and what a float64 forward costs; beside them float32 with autograd on (the training path), the other
/// candidate for a fallback. Backs <c>LstmInferenceCheck</c>'s choice of falling back per geometry
/// rather than per process (README, "A float32 LSTM checked against float64").
/// Usage: eval-precision [--hidden 4,16,48,64,128] [--layers 2] [--batch 800] [--steps 32] [--repeats 7]
/// </summary>
internal static class EvalPrecisionBench
{
    public static void Run(string[] args)
    {
        var culture = CultureInfo.InvariantCulture;
        var o = new BenchOptions(args);
        var hiddens = o.Ints("hidden", [4, 16, 48, 64, 128]);
        int layers = o.Int("layers", 2), batch = o.Int("batch", 800), steps = o.Int("steps", 32), repeats = o.Int("repeats", 7);
        torch.set_num_threads(1);
        Console.WriteLine($"LSTM 1→hidden×{layers}, batch {batch}, {steps} steps, 1 torch thread, medians of {repeats} interleaved repeats of 5 forwards");
        Console.WriteLine($"{"hidden",6} | {"|float32 − float64|",19} | {"|autograd − float64|",20} | {"float32 ms",10} | {"autograd ms",11} | {"float64 ms",10} | {"autograd / float32",18} | {"float64 / float32",17}");
        foreach (int hidden in hiddens)
        {
            torch.manual_seed(1);
            using var lstm32 = nn.LSTM(1, hidden, layers, batchFirst: true);
            using var lstm64 = nn.LSTM(1, hidden, layers, batchFirst: true);
            lstm64.to(ScalarType.Float64);
            lstm32.eval();
            lstm64.eval();
            using (torch.no_grad())
                foreach (var (p32, p64) in lstm32.parameters().Zip(lstm64.parameters())) p64.copy_(p32.to(ScalarType.Float64));
            using var x = torch.randn(batch, steps, 1);
            using var x64 = x.to(ScalarType.Float64);
            using var noGrad = torch.no_grad();
            // The training path: float32 with autograd on (oneDNN's reference LSTM, not its inference kernels), output detached.
            Tensor Autograd()
            {
                using var grad = torch.enable_grad();
                return lstm32.forward(x).Item1.detach();
            }
            double deviation, autogradDeviation;
            using (var scope = torch.NewDisposeScope())
            {
                var reference = lstm64.forward(x64).Item1;
                deviation = (lstm32.forward(x).Item1.to(ScalarType.Float64) - reference).abs().max().item<double>();
                autogradDeviation = (Autograd().to(ScalarType.Float64) - reference).abs().max().item<double>();
            }
            var t32 = new List<double>();
            var tGrad = new List<double>();
            var t64 = new List<double>();
            double Time(Func<Tensor> forward)
            {
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < 5; i++)
                    using (torch.NewDisposeScope()) forward();
                return watch.Elapsed.TotalMilliseconds / 5;
            }
            Time(() => lstm32.forward(x).Item1);
            Time(Autograd);
            Time(() => lstm64.forward(x64).Item1);
            for (int r = 0; r < repeats; r++)
            {
                t32.Add(Time(() => lstm32.forward(x).Item1));
                tGrad.Add(Time(Autograd));
                t64.Add(Time(() => lstm64.forward(x64).Item1));
            }
            double m32 = Stats.Median(t32), mGrad = Stats.Median(tGrad), m64 = Stats.Median(t64);
            Console.WriteLine(string.Create(culture,
                $"{hidden,6} | {deviation,19:G2} | {autogradDeviation,20:G2} | {m32,10:F1} | {mGrad,11:F1} | {m64,10:F1} | {mGrad / m32,18:F2} | {m64 / m32,17:F2}"));
        }
    }
}
