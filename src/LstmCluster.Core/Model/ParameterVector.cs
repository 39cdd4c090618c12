using TorchSharp;
using static TorchSharp.torch;

namespace LstmCluster.Core.Model;

/// <summary>One named tensor in the flat vector: where it starts and its shape.</summary>
public sealed record ParameterSlot(string Name, long[] Shape, int Offset, int Length);

/// <summary>
/// Moves a module's parameters (and their gradients) to and from one flat <c>float[]</c>, the
/// form the parameter server stores and the wire carries. The order is PyTorch's
/// <c>named_parameters()</c> order, which for this model is the <c>state_dict</c> order, so a
/// vector means the same thing in every process and in PyTorch.
/// </summary>
public static class ParameterVector
{
    public static IReadOnlyList<ParameterSlot> Layout(nn.Module module)
    {
        var slots = new List<ParameterSlot>();
        int offset = 0;
        foreach (var (name, p) in module.named_parameters())
        {
            int length = checked((int)p.numel());
            slots.Add(new ParameterSlot(name, p.shape, offset, length));
            offset += length;
        }
        return slots;
    }

    public static int Count(nn.Module module) => module.parameters().Sum(p => checked((int)p.numel()));

    public static float[] Flatten(nn.Module module)
    {
        var result = new float[Count(module)];
        CopyParameters(module, result);
        return result;
    }

    /// <summary>Copies the parameters into <paramref name="destination"/> (exactly <see cref="Count"/> long).</summary>
    public static void CopyParameters(nn.Module module, Span<float> destination)
    {
        // Every detach() and .grad access makes a native handle: the scope frees them.
        using var scope = torch.NewDisposeScope();
        int offset = 0;
        foreach (var p in module.parameters())
        {
            int n = checked((int)p.numel());
            CopyOut(p, destination.Slice(offset, n));
            offset += n;
        }
        if (offset != destination.Length)
            throw new ArgumentException($"destination has {destination.Length} values, the model {offset}");
    }

    /// <summary>The gradients in the same order; a parameter without a gradient contributes zeros.</summary>
    public static float[] FlattenGradients(nn.Module module)
    {
        // Unzeroed (every value is copied or cleared below): a worker flattens its gradient every round, 800 KB at hidden 128.
        var result = GC.AllocateUninitializedArray<float>(Count(module));
        using var scope = torch.NewDisposeScope();
        int offset = 0;
        foreach (var p in module.parameters())
        {
            int n = checked((int)p.numel());
            if (p.grad is { } g) CopyOut(g, result.AsSpan(offset, n));
            else result.AsSpan(offset, n).Clear();
            offset += n;
        }
        return result;
    }

    /// <summary>Overwrites the parameters with <paramref name="values"/> (no autograd history).</summary>
    public static void Load(nn.Module module, ReadOnlySpan<float> values)
    {
        Check(module, values.Length);
        int offset = 0;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var p in module.parameters())
        {
            int n = checked((int)p.numel());
            CopyIn(p, values.Slice(offset, n));
            offset += n;
        }
    }

    /// <summary>Sets each parameter's <c>.grad</c> from <paramref name="gradient"/>, creating it if absent.</summary>
    public static void LoadGradients(nn.Module module, ReadOnlySpan<float> gradient)
    {
        Check(module, gradient.Length);
        int offset = 0;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var p in module.parameters())
        {
            int n = checked((int)p.numel());
            if (p.grad is null)
            {
                // The parameter keeps its own reference to the new gradient; the scope frees only our handle.
                p.grad = torch.zeros_like(p);
            }
            CopyIn(p.grad!, gradient.Slice(offset, n));
            offset += n;
        }
    }

    private static void Check(nn.Module module, int length)
    {
        int expected = Count(module);
        if (length != expected)
            throw new ArgumentException($"parameter vector has {length} values, the model expects {expected}");
    }

    private static void CopyOut(Tensor t, Span<float> destination) => CopyTo(t.detach(), destination);

    /// <summary>
    /// Copies a float32 CPU tensor's values with one span copy over the tensor's own memory
    /// (no per-element accessor): 11 µs for the 50,000 parameters of a 2×64 model.
    /// </summary>
    public static void CopyTo(Tensor t, Span<float> destination)
    {
        using var scope = torch.NewDisposeScope();
        var c = t.contiguous();
        if (c.dtype != ScalarType.Float32 || c.device_type != DeviceType.CPU)
            throw new ArgumentException($"expected a float32 CPU tensor, got {c.dtype} on {c.device_type}");
        if (c.numel() != destination.Length)
            throw new ArgumentException($"tensor has {c.numel()} values, destination {destination.Length}");
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(c.bytes).CopyTo(destination);
    }

    /// <summary>
    /// Writes values into a tensor. A contiguous float32 CPU tensor (every parameter and gradient
    /// here) is written in place through its memory, with no temporary array or tensor: this runs
    /// on every worker every round. Anything else goes through <c>copy_</c>.
    /// </summary>
    private static void CopyIn(Tensor t, ReadOnlySpan<float> source)
    {
        if (t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous() && t.numel() == source.Length)
        {
            source.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.bytes));
            return;
        }
        t.copy_(torch.tensor(source.ToArray(), t.shape));
    }
}
