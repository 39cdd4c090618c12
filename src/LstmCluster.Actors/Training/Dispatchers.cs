namespace LstmCluster.Actors.Training;

/// <summary>Dispatchers the actors run on, and the HOCON that defines them.</summary>
public static class Dispatchers
{
    /// <summary>
    /// The dedicated threads TorchSharp work runs on, shared by a node's workers and parameter
    /// servers: never the default dispatcher, which keeps answering status and cancel. One thread
    /// per worker by default (<see cref="Hocon(int)"/>): a parameter server runs when its workers wait
    /// for it, so it needs no thread of its own, and a message between actors on the same thread is
    /// handed over without waking another thread. Measured with the bench (K = 1, 2-layer data,
    /// 17k parameters): 0.58 ms per round outside compute, against 1.3 ms with a pinned thread per actor.
    /// </summary>
    public const string Torch = "lstmcluster.torch-dispatcher";

    /// <summary>The dispatcher with <paramref name="threads"/> dedicated threads.</summary>
    public static string Hocon(int threads) => $$"""
        lstmcluster.torch-dispatcher {
          type = ForkJoinDispatcher
          throughput = 100
          dedicated-thread-pool {
            thread-count = {{Math.Max(1, threads)}}
            threadtype = background
          }
        }
        """;

    /// <summary>
    /// Applies a libtorch intra-op thread count to the calling thread. The count is per thread
    /// (OpenMP) and an actor may run on any of the dispatcher's threads, so actors call this before
    /// each computation; it only calls into libtorch when the thread's count differs.
    /// </summary>
    public static void UseTorchThreads(int? threads)
    {
        if (threads is { } n && TorchSharp.torch.get_num_threads() != n) TorchSharp.torch.set_num_threads(n);
    }
}
