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

    /// <summary>Bearer tokens the API accepts; <see cref="ApiTokens.None"/>: the API is open (every caller is an admin).</summary>
    public ApiTokens Tokens { get; init; } = ApiTokens.None;

    /// <summary>
    /// The tokens file <see cref="Tokens"/> came from in part, followed while the API runs (<see cref="ApiTokenSource"/>); null:
    /// <see cref="Tokens"/> stay as they are.
    /// </summary>
    public ApiTokensFile? TokensFile { get; init; }

    /// <summary>How often <see cref="TokensFile"/> is looked at for a change.</summary>
    public TimeSpan TokensReloadInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Host names (the <c>Host</c> header) the API answers; any other is a 400 (ASP.NET Core's host filtering), so a web page
    /// whose name was pointed at this address (DNS rebinding) gets nothing. <c>*</c> allows any. <c>/health</c> and
    /// <c>/ready</c> answer whatever the Host (probes call by address).
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = DefaultAllowedHosts;

    public static readonly IReadOnlyList<string> DefaultAllowedHosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Web origins allowed to call the API from a browser (CORS); empty: none, and a POST or DELETE that names another origin is refused.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>Models <c>POST /models/{id}/forecast</c> keeps loaded in memory (least recently used dropped beyond).</summary>
    public int ServedModels { get; init; } = 16;

    /// <summary>Requests per token (see <see cref="ApiRateLimits"/>); applied when <see cref="Tokens"/> is not empty.</summary>
    public ApiRateLimits RateLimits { get; init; } = new();
}

/// <summary>
/// Token buckets per token name (per client address for requests without an accepted token): every request to <c>/jobs</c>,
/// and submissions again on their own. A request over a limit is answered 429 with <c>Retry-After</c>. Zero: no limit.
/// </summary>
public sealed record ApiRateLimits
{
    /// <summary>Requests per second a token may sustain; twice as many may come at once.</summary>
    public double RequestsPerSecond { get; init; } = 20;

    /// <summary>Submissions per minute a token may sustain.</summary>
    public double SubmissionsPerMinute { get; init; } = 30;

    /// <summary>Submissions that may come at once before the per-minute rate holds them back.</summary>
    public int SubmissionBurst { get; init; } = 10;

    public int RequestBurst => Math.Max(1, (int)Math.Ceiling(RequestsPerSecond * 2));

    /// <summary>
    /// Serving requests (<c>POST /models/{id}/forecast</c>) per second a token may sustain, on their own bucket: a client
    /// that serves forecasts is a program, not a person polling jobs.
    /// </summary>
    public double ServingPerSecond { get; init; } = 2000;

    public int ServingBurst => Math.Max(1, (int)Math.Ceiling(ServingPerSecond * 2));
}
