using LstmCluster.Core.Runtime;

namespace LstmCluster.Core.Tests.Runtime;

public sealed class NativeMemoryTests
{
    [Fact]
    public void On_linux_with_glibc_the_thresholds_are_set_once_and_stay_set()
    {
        bool glibc = OperatingSystem.IsLinux() && File.Exists("/lib/x86_64-linux-gnu/libc.so.6") | File.Exists("/lib/aarch64-linux-gnu/libc.so.6")
            && Environment.GetEnvironmentVariable("LSTMCLUSTER_MALLOC_TUNING") != "off"
            && Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("glibc.malloc.", StringComparison.Ordinal) != true;
        bool first = NativeMemory.Tune();
        Assert.Equal(glibc, first);
        Assert.Equal(first, NativeMemory.Tune());
        Assert.Equal(first, NativeMemory.Tuned);
    }
}
