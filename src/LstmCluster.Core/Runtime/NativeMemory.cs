using System.Runtime.InteropServices;

namespace LstmCluster.Core.Runtime;

/// <summary>
/// glibc malloc settings for a process that trains with libtorch. Every training step allocates and frees tensors of
/// hundreds of KB to a few MB (an LSTM's gates and activations for a batch). With glibc's defaults, blocks that large are
/// mapped with mmap and unmapped on free, and free space at the top of a heap is given back to the kernel, so every step
/// maps fresh pages and takes a page fault per 4 KB touched: measured on the model of issue #12 (1→64×2, batch 64,
/// window 32, one torch thread), `train --workers 1` ran ~140,000 minor faults a second and spent 37–40 % of its CPU in
/// the kernel. Keeping those blocks in the heap (an mmap threshold of 32 MiB, the largest glibc takes) and the heap's
/// free top up to 128 MiB removes nearly all of it: ~3,000 faults a second, 3–4 % system time (README, "Performance"; docs/performance-log.md).
/// Either setting alone does not (the other one keeps returning the pages).
/// <para>
/// A thread other than the main one allocates from its own arena, which grows in heaps of at most 64 MiB; a block its
/// heap has no room for gets a new heap, and glibc unmaps a heap as soon as everything in it is free, whatever the trim
/// threshold says. At hidden 128 (1→128×2, batch 64, window 32) a worker node's torch thread did that once a round
/// (strace: a 22 MB heap mapped, then unmapped): 77,000–90,000 minor faults per CPU-second, 14–18 % system time and the
/// worker's compute 33–46 ms a round against 24–26 ms in `train --workers 1`, in 11 of 15 `simulate --workers 1` runs
/// (README, "Performance"; docs/performance-log.md). A top pad of a whole heap (<see cref="TopPad"/>) keeps such a heap mapped; only
/// <see cref="Trim"/> gives its free pages back.
/// </para>
/// <para>
/// Applied once, before libtorch allocates, by whatever hosts training (the CLI's start-up). Skipped on other systems
/// and C libraries, when <c>LSTMCLUSTER_MALLOC_TUNING=off</c>, or when the operator's own <c>GLIBC_TUNABLES</c> sets
/// malloc parameters.
/// </para>
/// </summary>
public static class NativeMemory
{
    /// <summary>glibc's largest mmap threshold on 64-bit systems (4 MiB × sizeof(long)).</summary>
    public const int MmapThreshold = 32 * 1024 * 1024;

    /// <summary>Free memory at a heap's top kept before it is given back to the kernel.</summary>
    public const int TrimThreshold = 128 * 1024 * 1024;

    /// <summary>
    /// Extra space glibc keeps when it grows or shrinks a heap. glibc keeps a thread arena's emptied heap while its free
    /// space and the previous heap's room to grow stay below this pad; one heap's largest size (64 MiB) means always. In
    /// the main heap it only means growing 64 MiB of address space at a time (pages count once touched) and trimming a
    /// free top of over 128 MiB down to 64 MiB instead of to nothing.
    /// </summary>
    public const int TopPad = 64 * 1024 * 1024;

    private const int M_TRIM_THRESHOLD = -1;
    private const int M_TOP_PAD = -2;
    private const int M_MMAP_THRESHOLD = -3;

    private static int applied;

    /// <summary>True when the settings are in force in this process.</summary>
    public static bool Tuned { get; private set; }

    /// <summary>Sets the thresholds once (later calls do nothing); returns whether they are in force.</summary>
    public static bool Tune()
    {
        if (Interlocked.Exchange(ref applied, 1) == 1) return Tuned;
        if (!OperatingSystem.IsLinux()) return false;
        if (string.Equals(Environment.GetEnvironmentVariable("LSTMCLUSTER_MALLOC_TUNING"), "off", StringComparison.OrdinalIgnoreCase)) return false;
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("glibc.malloc.", StringComparison.Ordinal) == true) return false;
        try
        {
            // mallopt answers 1 on success; musl's answers 0 and changes nothing.
            Tuned = Mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1 && Mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1
                && Mallopt(M_TOP_PAD, TopPad) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Tuned = false;
        }
        return Tuned;
    }

    /// <summary>
    /// Gives the free pages inside glibc's heaps back to the kernel (<c>malloc_trim(0)</c>), where <see cref="Tune"/> is in
    /// force. With the high thresholds above, free space that libtorch's mixed block sizes leave between live blocks stays
    /// resident: a worker's heaps kept 50 → 90 MiB free while their live blocks held at ~70 MiB over 10,000 rounds
    /// (<c>scripts/memory_trace.py</c>; docs/performance-log.md). Called at a rare point (a worker's epoch end), so the pages
    /// it releases are faulted back at most once an epoch. Returns whether any memory was released.
    /// </summary>
    public static bool Trim()
    {
        if (!Tuned) return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>
    /// glibc's heap over all arenas (<c>mallinfo2</c>): bytes taken from the kernel by the heaps (<c>arena</c>, sbrk and
    /// the threads' arenas), bytes in blocks mapped one by one (<c>hblkhd</c>), bytes in use and bytes free inside the
    /// heaps. For diagnosis (the wire trace's once-a-second line): whether a process's resident growth is the native
    /// heap's free space, its live blocks or something else. Null where glibc is not the C library.
    /// </summary>
    public static (long Heaps, long Mapped, long InUse, long Free)? HeapInfo()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var m = Mallinfo2();
            return ((long)m.Arena, (long)m.Hblkhd, (long)m.Uordblks, (long)m.Fordblks);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 Mallinfo2();

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);
}
