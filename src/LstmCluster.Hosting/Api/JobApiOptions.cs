using LstmCluster.Core.Configuration;

namespace LstmCluster.Hosting.Api;

/// <summary>Limits and defaults of the HTTP job API (<see cref="JobApiExtensions.AddJobApi"/>).</summary>
public sealed record JobApiOptions
{
    /// <summary>Largest CSV upload accepted; a bigger one is answered 413.</summary>
    public long MaxUploadBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Directory a submission's <c>path</c> field may name files under; null refuses <c>path</c>
    /// (only uploads are accepted).
    /// </summary>
    public string? DataRoot { get; init; }

    /// <summary>Option values a submission starts from; null reads config/lstmcluster.json as the CLI does.</summary>
    public RunOptionValues? Defaults { get; init; }

    /// <summary>How long a query (status, list, cancel, files) waits for the coordinator before answering 503.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a submission waits for the coordinator, which loads and checks the data before it accepts.</summary>
    public TimeSpan SubmitTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
