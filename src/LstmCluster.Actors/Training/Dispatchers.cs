namespace LstmCluster.Actors.Training;

/// <summary>Dispatchers the actors run on, and the HOCON that defines them.</summary>
public static class Dispatchers
{
    /// <summary>
    /// One dedicated thread per actor for TorchSharp work: a handler that computes for a while
    /// then blocks only its own thread, never the default dispatcher that answers status and cancel.
    /// </summary>
    public const string Torch = "lstmcluster.torch-dispatcher";

    public const string Hocon = """
        lstmcluster.torch-dispatcher {
          type = PinnedDispatcher
          executor = thread-pool-executor
        }
        """;
}
