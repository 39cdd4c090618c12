namespace LstmCluster.Contracts;

/// <summary>
/// The names every layer spells the same way: node roles (cluster membership, <c>--roles</c>, <c>/ready</c>), training
/// modes (<c>--mode</c>, the API's <c>mode</c> field) and job states (the API's <c>state</c>). Written once here; the
/// actors' enums (<c>TrainingMode</c>, <c>JobState</c>) map to and from these names, and VocabularyTests holds them equal.
/// </summary>
public static class Vocabulary
{
    /// <summary>Cluster roles: what a node runs.</summary>
    public static class Roles
    {
        public const string Coordinator = "coordinator";
        public const string ParameterServer = "parameter-server";
        public const string Worker = "worker";

        /// <summary>Every role, in the order nodes list them (a node with no <c>--roles</c> has all three).</summary>
        public static IReadOnlyList<string> All { get; } = [Coordinator, ParameterServer, Worker];

        public static bool IsKnown(string role) => All.Contains(role, StringComparer.Ordinal);
    }

    /// <summary>How a parameter server aggregates, as the command line and the API spell it.</summary>
    public static class Modes
    {
        public const string Sync = "sync";
        public const string Async = "async";
        public const string LocalSgd = "local-sgd";

        /// <summary>Also accepted for <see cref="LocalSgd"/>.</summary>
        public const string LocalSgdAlias = "localsgd";

        public static IReadOnlyList<string> All { get; } = [Sync, Async, LocalSgd];
    }

    /// <summary>A job's states as the API shows them.</summary>
    public static class JobStates
    {
        public const string Queued = "Queued";
        public const string Running = "Running";
        public const string Succeeded = "Succeeded";
        public const string Failed = "Failed";
        public const string Cancelled = "Cancelled";

        public static IReadOnlyList<string> All { get; } = [Queued, Running, Succeeded, Failed, Cancelled];

        /// <summary>True for the states a job never leaves.</summary>
        public static bool IsEnded(string state) => state is Succeeded or Failed or Cancelled;
    }
}
