using Marshal = System.Runtime.InteropServices.Marshal;
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

    [Fact]
    public void Trim_gives_the_free_pages_inside_the_heap_back_to_the_kernel()
    {
        if (!NativeMemory.Tune()) return; // not glibc, or tuning off: Trim does nothing there by design
        // 64 MiB in blocks under the mmap threshold (so from the heap), touched so they are resident, then freed below a
        // block that stays: the free space sits inside the heap, where neither the trim threshold nor free() returns it.
        const int block = 4 << 20, count = 16;
        var blocks = Enumerable.Range(0, count).Select(_ => Marshal.AllocHGlobal(block)).ToList();
        var guard = Marshal.AllocHGlobal(64);
        try
        {
            foreach (var b in blocks)
                for (int offset = 0; offset < block; offset += 4096) Marshal.WriteByte(b, offset, 1);
            foreach (var b in blocks) Marshal.FreeHGlobal(b);
            var free = NativeMemory.HeapInfo()!.Value.Free;
            // (A thread's arena grows in heaps of at most 64 MiB, so a little of it may sit elsewhere.)
            Assert.True(free >= (long)block * count / 2, $"the heaps hold {free >> 20} MiB free after 64 MiB were freed");
            long before = Resident();
            Assert.True(NativeMemory.Trim(), "malloc_trim released nothing");
            long after = Resident();
            // Other tests of this process may allocate meanwhile: half of the 64 MiB is a margin they will not fill.
            Assert.True(before - after >= (long)block * count / 2, $"resident {before >> 20} MiB before the trim, {after >> 20} MiB after");
        }
        finally
        {
            Marshal.FreeHGlobal(guard);
        }
    }

    [Fact]
    public void A_large_block_freed_by_a_thread_leaves_its_pages_mapped_for_the_next_step()
    {
        if (!NativeMemory.Tune()) return; // not glibc, or tuning off: glibc's own behaviour by design
        // A worker's torch thread at hidden 128, in small: its arena holds 48 MiB that live on, and every step allocates
        // one 22 MiB block more than its 64 MiB heap has room for. glibc maps a heap of its own for that block and unmaps
        // it when the block is freed, so without the top pad every step faults all 5,632 of its pages in again (strace on
        // a worker node showed just that, once a round).
        const int held = 12, block = 22 << 20, steps = 4;
        var faults = new long[steps];
        var step = new Thread(() =>
        {
            var live = Enumerable.Range(0, held).Select(_ => Marshal.AllocHGlobal(4 << 20)).ToList();
            try
            {
                for (int s = 0; s < steps; s++)
                {
                    long before = ThreadFaults();
                    var b = Marshal.AllocHGlobal(block);
                    for (int offset = 0; offset < block; offset += 4096) Marshal.WriteByte(b, offset, 1);
                    Marshal.FreeHGlobal(b);
                    faults[s] = ThreadFaults() - before;
                }
            }
            finally
            {
                foreach (var b in live) Marshal.FreeHGlobal(b);
            }
        });
        step.Start();
        step.Join();
        // The first steps fault the block in once; after that a step touches pages that stayed mapped.
        Assert.True(faults[^1] + faults[^2] < block / 4096 / 4, $"minor faults per step: {string.Join(", ", faults)} (a step touches {block / 4096} pages)");
    }

    /// <summary>Minor page faults of the calling thread so far (Linux, <c>/proc/thread-self/stat</c>).</summary>
    private static long ThreadFaults()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7]);
    }

    private static long Resident()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }
}
