using System.Diagnostics;
using System.Globalization;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// Timestamps of a message's way across processes, for finding where a round's time goes (Actors README,
/// "Performance"). Off unless <c>LSTMCLUSTER_WIRE_TRACE</c> names a directory; then each process appends
/// <c>timestamp-ticks event manifest bytes</c> lines to <c>wire-{pid}.txt</c> there. The timestamps are
/// <see cref="Stopwatch.GetTimestamp"/> (CLOCK_MONOTONIC on Linux), so the files of all processes of one
/// machine merge on one clock.
/// </summary>
public static class WireTrace
{
    private static readonly StreamWriter? Writer = Open();
    private static readonly object Gate = new();

    public static bool Enabled => Writer is not null;

    public static void Mark(string what, string manifest, long bytes)
    {
        if (Writer is null) return;
        long now = Stopwatch.GetTimestamp();
        lock (Gate) Writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{now} {what} {manifest} {bytes}"));
    }

    private static StreamWriter? Open()
    {
        string? dir = Environment.GetEnvironmentVariable("LSTMCLUSTER_WIRE_TRACE");
        if (string.IsNullOrEmpty(dir)) return null;
        Directory.CreateDirectory(dir);
        var writer = new StreamWriter(Path.Combine(dir, $"wire-{Environment.ProcessId}.txt"), append: true) { AutoFlush = false };
        writer.WriteLine($"# {Environment.ProcessId} {string.Join(' ', Environment.GetCommandLineArgs())} ticks/s {Stopwatch.Frequency}");
        var flusher = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(1000);
                // Collections so far and the time paused in them: large vectors land on the large object heap, whose
                // collections are gen 2 ones.
                using var self = System.Diagnostics.Process.GetCurrentProcess();
                var cpu = self.TotalProcessorTime;
                // Then where resident memory is: the process's resident set, the managed heap (size after the last
                // collection / committed), glibc's heaps (taken from the kernel / in use / free inside) and its
                // one-by-one mapped blocks, in KiB, and the thread count (each thread that mallocs may get an arena).
                var info = GC.GetGCMemoryInfo();
                var heap = LstmCluster.Core.Runtime.NativeMemory.HeapInfo();
                string native = heap is { } h ? string.Create(CultureInfo.InvariantCulture, $"{h.Heaps / 1024}/{h.InUse / 1024}/{h.Free / 1024}/{h.Mapped / 1024}") : "-";
                string gc = string.Create(CultureInfo.InvariantCulture,
                    $"{Stopwatch.GetTimestamp()} gc {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} {GC.GetTotalPauseDuration().TotalMilliseconds:F0}/{cpu.TotalMilliseconds:F0} " +
                    $"mem {Environment.WorkingSet / 1024} {info.HeapSizeBytes / 1024}/{info.TotalCommittedBytes / 1024} {native} threads {self.Threads.Count}");
                lock (Gate)
                {
                    writer.WriteLine(gc);
                    writer.Flush();
                }
            }
        }) { IsBackground = true, Name = "wire-trace" };
        flusher.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { lock (Gate) writer.Flush(); };
        return writer;
    }
}
