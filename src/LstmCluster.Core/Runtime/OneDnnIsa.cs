using System.Runtime.InteropServices;

namespace LstmCluster.Core.Runtime;

/// <summary>
/// Caps oneDNN (libtorch's CPU kernels) at AVX2 on AMD processors. On this project's AMD EPYC test host (AVX-512 with
/// VP2INTERSECT and BF16) libtorch 2.10's oneDNN LSTM returned forecasts 0.03–0.2 % away from PyTorch's and from a float64
/// reference computed by hand: the export/import parity tests failed by up to 3e-2 on normalized outputs, where Intel
/// hosts with AVX-512 agree to 1e-7. With <c>DNNL_MAX_CPU_ISA</c> at <c>AVX2_VNNI</c> or below, the same model gives
/// PyTorch's output to the last digit (measured 2026-12-02: 441.17742965181435 both ways, against 441.927 uncapped;
/// AVX512_CORE, _VNNI and _BF16 caps all still gave 441.927). oneDNN reads the variable once, at its first primitive,
/// so it is set natively (libc setenv: .NET's own environment is not what native code reads) before the first model is
/// built. A value the user set is left alone.
/// </summary>
public static class OneDnnIsa
{
    private const string Variable = "DNNL_MAX_CPU_ISA";
    /// <summary>Called once, from <see cref="Model.ForecastModel"/>'s static constructor.</summary>
    public static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null || !IsAmd()) return;
        if (setenv(Variable, "AVX2", 0) == 0) Environment.SetEnvironmentVariable(Variable, "AVX2");
    }

    private static bool IsAmd()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("AuthenticAMD"));
        }
        catch (IOException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    private static extern int setenv(string name, string value, int overwrite);
}
