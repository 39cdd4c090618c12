using System.Net;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Jobs;
using Microsoft.Extensions.Configuration;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Everything a cluster node process needs. Resolved through Microsoft.Extensions.Configuration (<see cref="Layers"/>), later
/// wins: built-in defaults, the <c>node</c> section of <c>config/lstmcluster.json</c>, environment variables
/// (<c>LSTMCLUSTER_ROLES</c>, <c>LSTMCLUSTER_HOST</c>, ...: see <see cref="EnvironmentNames"/>), the
/// command line; then validated (<see cref="Validate"/>) before the node starts anything. Containers set the
/// environment; a person types flags.
/// </summary>
public sealed record NodeOptions
{
    public const string SystemName = "lstm";

    public static readonly string[] KnownRoles = [.. Vocabulary.Roles.All];

    /// <summary>Roles of this node: any of coordinator, parameter-server, worker.</summary>
    public string[] Roles { get; init; } = [.. KnownRoles];

    /// <summary>Address the transport binds to (0.0.0.0 in a container).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>
    /// Address other nodes reach this one at. Empty: <see cref="Host"/>, or this machine's host name when
    /// <see cref="Host"/> is a wildcard (a container's own name, so <c>--scale worker=N</c> needs no per-replica setting).
    /// </summary>
    public string? PublicHost { get; init; }

    /// <summary>Akka.Remote port; 0 takes any free one.</summary>
    public int Port { get; init; } = 4053;

    /// <summary>Seed nodes, <c>akka.tcp://lstm@host:port</c>. Empty: this node is its own seed (a cluster of one to start).</summary>
    public string[] Seeds { get; init; } = [];

    /// <summary>HTTP port for the job API (coordinator nodes) and /health, /ready (every node); 0 = none.</summary>
    public int HttpPort { get; init; } = 5080;

    /// <summary>libtorch intra-op threads for this node's computations; null: libtorch's default (all cores).</summary>
    public int? TorchThreads { get; init; }

    /// <summary>
    /// Workers <c>/ready</c> waits for (Up and reachable) before it answers 200: a job submitted earlier would run on
    /// fewer workers than the deployment has.
    /// </summary>
    public int ExpectWorkers { get; init; } = 1;

    public const string TextLogFormat = "text";
    public const string JsonLogFormat = "json";

    /// <summary>How the node writes its log on stdout: one line of text per entry, or one JSON object per line (log collectors).</summary>
    public string LogFormat { get; init; } = TextLogFormat;

    /// <summary>Jobs the coordinator trains at once.</summary>
    public int MaxConcurrentJobs { get; init; } = 1;

    /// <summary>Directory a job may name as server-side <c>path</c> data (the API refuses paths outside it); null: uploads only.</summary>
    public string? DataRoot { get; init; }

    /// <summary>Largest CSV upload the API accepts, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Where a coordinator node keeps its job journal (SQLite <c>lstmcluster.db</c> unless <see cref="JournalConnection"/> names
    /// another database) and the jobs' files. Several coordinator-role nodes must share it (a volume, or PostgreSQL plus
    /// shared storage). Null: nothing is kept (in-memory journal, temporary files): for tests only. Resolved options
    /// default to <see cref="DefaultStateDir"/>.
    /// </summary>
    public string? StateDir { get; init; }

    public const string DefaultStateDir = "lstmcluster-state";

    /// <summary>The journal's connection string; null: SQLite in <see cref="StateDir"/>.</summary>
    public string? JournalConnection { get; init; }

    /// <summary>The journal's database, as a Linq2Db provider name (<c>SQLite.MS</c>, <c>PostgreSQL</c>, <c>SqlServer.2019</c>, ...).</summary>
    public string JournalProvider { get; init; } = SqliteProvider;

    public const string SqliteProvider = "SQLite.MS";

    /// <summary>Finished jobs kept with their files; the oldest are deleted first.</summary>
    public int KeepJobs { get; init; } = 1000;

    /// <summary>Finished jobs older than this many days are deleted with their files; null: kept by count only.</summary>
    public int? KeepDays { get; init; }

    /// <summary>
    /// Parameter-server checkpoints of journaled jobs: at epoch ends and at least this often (see
    /// <c>EngineOptions.CheckpointEvery</c>); zero: at every epoch end; null: none.
    /// </summary>
    public TimeSpan? CheckpointEvery { get; init; } = EngineOptions.DefaultCheckpointEvery;

    /// <summary>What one submitted job may cost and how many may wait (coordinator): see <see cref="JobBudget"/>.</summary>
    public JobBudget Budget { get; init; } = new();

    /// <summary>One bearer token with role admin for the job API (named <c>admin</c>); null: none.</summary>
    public string? ApiToken { get; init; }

    /// <summary>A file of job API tokens, one <c>name role token</c> a line (<see cref="Api.ApiTokens"/>); null: none.</summary>
    public string? ApiTokensFile { get; init; }

    /// <summary>Serve the job API without tokens on an address other than loopback (refused otherwise).</summary>
    public bool InsecureApi { get; init; }

    /// <summary>Host names the job API answers (the Host header); null: localhost, 127.0.0.1, ::1 and this node's own names; <c>*</c>: any.</summary>
    public string[]? AllowedHosts { get; init; }

    /// <summary>Web origins allowed to call the job API from a browser (CORS); empty: none.</summary>
    public string[] CorsOrigins { get; init; } = [];

    /// <summary>Job API requests per second per token (twice as many at once); 0: no limit.</summary>
    public double RateLimit { get; init; } = 20;

    /// <summary>Job API submissions per minute per token (10 at once); 0: no limit.</summary>
    public double SubmitRateLimit { get; init; } = 30;

    /// <summary>
    /// A PKCS#12 (.pfx) file with this node's certificate and private key: Akka.Remote then speaks TLS with mutual
    /// authentication (see <see cref="NodeTls"/>) and the node's address is <c>akka.ssl.tcp://</c>. Null: plaintext.
    /// </summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The password of <see cref="TlsCertificate"/>; null: none.</summary>
    public string? TlsPassword { get; init; }

    /// <summary>The cluster's CA certificate (PEM or DER) peers' certificates must chain to; null: the CA certificate inside <see cref="TlsCertificate"/>.</summary>
    public string? TlsCa { get; init; }

    /// <summary>
    /// The job API's (and /health's, /ready's, /metrics') HTTPS certificate: a .pfx with its key, or a PEM certificate (or full
    /// chain) with its key in the same file or in <see cref="HttpsKey"/>; the HTTP port then serves HTTPS only (<see cref="NodeHttps"/>).
    /// Null: plain HTTP.
    /// </summary>
    public string? HttpsCertificate { get; init; }

    /// <summary>The PEM private key of a PEM <see cref="HttpsCertificate"/>; null: in the certificate's file.</summary>
    public string? HttpsKey { get; init; }

    /// <summary>The password of the .pfx, or of an encrypted PEM key; null: none.</summary>
    public string? HttpsPassword { get; init; }

    /// <summary>Whether the HTTP port serves HTTPS.</summary>
    public bool Https => HttpsCertificate is not null;

    /// <summary>The HTTP port's scheme: https with <see cref="HttpsCertificate"/>, else http.</summary>
    public string HttpScheme => Https ? "https" : "http";

    /// <summary>Whether Akka.Remote runs over TLS.</summary>
    public bool Tls => TlsCertificate is not null;

    /// <summary>The protocol of this node's address and of its seeds': <c>akka.ssl.tcp</c> with TLS, else <c>akka.tcp</c>.</summary>
    public string Protocol => Tls ? "akka.ssl.tcp" : "akka.tcp";

    /// <summary>How this node finds the cluster: static seeds (default) or Cluster Bootstrap (<see cref="NodeDiscoveryOptions"/>).</summary>
    public NodeDiscoveryOptions Discovery { get; init; } = new();

    /// <summary>Extra HOCON placed before the node's own (failure-detector timings in tests, ...).</summary>
    public string? Hocon { get; init; }

    public bool Has(string role) => Roles.Contains(role, StringComparer.Ordinal);

    /// <summary>The address the cluster knows this node by.</summary>
    public string AdvertisedHost => PublicHost is { Length: > 0 } p ? p
        : Host is "0.0.0.0" or "::" or "*" or "" ? Dns.GetHostName() : Host;

    /// <summary>Every option's name, as the command line spells it (<c>--http-port</c>).</summary>
    public static IReadOnlyList<string> OptionNames { get; } =
    [
        "roles", "expect-workers", "log-format", "host", "public-host", "port", "seeds", "http-port", "torch-threads",
        "max-concurrent-jobs", "data-root", "max-upload-mb", "hocon", "state-dir", "journal-connection", "journal-provider",
        "keep-jobs", "keep-days", "checkpoint-every", "max-queued-jobs", "max-queued-per-owner", "max-running-per-owner", "max-stored-mb-per-owner", "max-job-parameters", "max-job-work", "api-token",
        "api-tokens", "insecure-api", "allowed-hosts", "cors-origins", "rate-limit", "submit-rate-limit", "tls-certificate",
        "tls-password", "tls-ca", "https-certificate", "https-key", "https-password",
        // How the node finds the cluster (--discovery and its settings: NodeDiscoveryOptions).
        .. NodeDiscoveryOptions.EnvironmentNames.Keys,
    ];

    /// <summary>The prefix of the node's environment variables: <c>LSTMCLUSTER_HTTP_PORT</c> sets <c>http-port</c>.</summary>
    public const string EnvironmentPrefix = "LSTMCLUSTER_";

    /// <summary>Option name → environment variable (<see cref="EnvironmentPrefix"/> and the name in capitals, <c>_</c> for <c>-</c>).</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentNames { get; } =
        OptionNames.ToDictionary(n => n, n => EnvironmentPrefix + Key(n).ToUpperInvariant(), StringComparer.Ordinal);

    /// <summary>
    /// An option's configuration key: the config file's spelling (<c>http_port</c>), which is also what the
    /// environment variable provider leaves of <c>LSTMCLUSTER_HTTP_PORT</c> (keys compare without case).
    /// </summary>
    private static string Key(string option) => option.Replace('-', '_');

    /// <summary>
    /// Resolves the options of a node process: <paramref name="flags"/> (option name → value; null values are not given) over
    /// the process's <c>LSTMCLUSTER_*</c> environment over the config file's <c>node</c> section (<paramref name="configPath"/>,
    /// skipped when missing) over the defaults; see <see cref="Layers"/>. Validated: a bad value is an <see cref="ArgumentException"/>
    /// naming it, which the CLI prints as one line before it exits 2.
    /// </summary>
    public static NodeOptions Resolve(IReadOnlyDictionary<string, string?> flags, string? configPath) =>
        From(Layers(flags, configPath, environment: null));

    /// <summary><see cref="Resolve(IReadOnlyDictionary{string, string?}, string?)"/> with the environment read from <paramref name="environment"/> instead of the process (tests).</summary>
    public static NodeOptions Resolve(IReadOnlyDictionary<string, string?> flags, Func<string, string?> environment, string? configPath) =>
        From(Layers(flags, configPath, environment));

    /// <summary>
    /// The node's settings as one <see cref="IConfiguration"/> (Microsoft.Extensions.Configuration), later sources winning: the
    /// config file's <c>node</c> section (JSON), the <c>LSTMCLUSTER_</c> environment variables, the command line. Keys are
    /// <see cref="Key"/>s; a list is a comma-separated value or, in the file, a JSON array.
    /// </summary>
    /// <param name="environment">Null: the process environment (the environment variables provider); else these variables, mapped the same way.</param>
    public static IConfiguration Layers(IReadOnlyDictionary<string, string?> flags, string? configPath, Func<string, string?>? environment)
    {
        foreach (var key in flags.Keys)
            if (!EnvironmentNames.ContainsKey(key)) throw new ArgumentException($"unknown node option '{key}'");
        var builder = new ConfigurationBuilder();
        builder.AddInMemoryCollection(new Dictionary<string, string?> { [Key("state-dir")] = DefaultStateDir });
        if (configPath is not null && File.Exists(configPath)) builder.AddConfiguration(FileSection(configPath));
        if (environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
            builder.AddInMemoryCollection(EnvironmentNames
                .Select(e => (Key: e.Value[EnvironmentPrefix.Length..], Value: environment(e.Value)))
                .Where(e => e.Value is not null)
                .ToDictionary(e => e.Key, e => e.Value));
        // --name=value (not "--name value"): a value may start with a dash and still be the flag's.
        builder.AddCommandLine(
            [.. flags.Where(f => f.Value is not null).Select(f => $"--{f.Key}={f.Value}")],
            OptionNames.ToDictionary(n => "--" + n, Key));
        return builder.Build();
    }

    /// <summary>The file's <c>node</c> section, its names checked (<c>//</c> keys are comments; <c>http-port</c> is taken as <c>http_port</c>).</summary>
    private static IConfigurationSection FileSection(string path)
    {
        IConfigurationRoot file;
        try
        {
            file = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: true, reloadOnChange: false).Build();
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"{path}: not valid JSON ({e.InnerException?.Message ?? e.Message})");
        }
        var node = file.GetSection("node");
        foreach (var option in node.GetChildren())
        {
            if (option.Key.StartsWith("//", StringComparison.Ordinal)) continue;
            string name = option.Key.Replace('_', '-').ToLowerInvariant();
            if (!EnvironmentNames.ContainsKey(name)) throw new ArgumentException($"{path}: unknown node option '{option.Key}'");
        }
        return node;
    }

    /// <summary>An option's value: the configuration's, a file's JSON array joined with commas; null when not set anywhere.</summary>
    private static string? Value(IConfiguration c, string option)
    {
        var section = c.GetSection(Key(option));
        if (section.Value is { } value) return value;
        // The file may spell a name with dashes, as the flag does.
        var dashed = c.GetSection(option);
        if (dashed.Value is { } d) return d;
        var items = (section.GetChildren().Any() ? section : dashed).GetChildren().Select(i => i.Value ?? "").ToList();
        return items.Count > 0 ? string.Join(",", items) : null;
    }

    private static NodeOptions From(IConfiguration c)
    {
        var v = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in OptionNames)
            if (Value(c, option) is { } value) v[option] = value;
        return From(v);
    }

    private static NodeOptions From(Dictionary<string, string> v)
    {
        var o = new NodeOptions();
        if (v.TryGetValue("roles", out var roles)) o = o with { Roles = List(roles) };
        if (v.TryGetValue("host", out var host) && host.Length > 0) o = o with { Host = host.Trim() };
        if (v.TryGetValue("public-host", out var pub)) o = o with { PublicHost = pub.Trim() is { Length: > 0 } p ? p : null };
        if (v.TryGetValue("port", out var port)) o = o with { Port = Int("port", port) };
        if (v.TryGetValue("seeds", out var seeds)) o = o with { Seeds = List(seeds) };
        if (v.TryGetValue("http-port", out var http)) o = o with { HttpPort = Int("http-port", http) };
        if (v.TryGetValue("torch-threads", out var threads)) o = o with { TorchThreads = threads.Trim().Length == 0 ? null : Int("torch-threads", threads) };
        if (v.TryGetValue("log-format", out var format) && format.Trim().Length > 0) o = o with { LogFormat = format.Trim().ToLowerInvariant() };
        if (v.TryGetValue("expect-workers", out var expect)) o = o with { ExpectWorkers = Int("expect-workers", expect) };
        if (v.TryGetValue("max-concurrent-jobs", out var jobs)) o = o with { MaxConcurrentJobs = Int("max-concurrent-jobs", jobs) };
        if (v.TryGetValue("data-root", out var root)) o = o with { DataRoot = root.Trim().Length == 0 ? null : Path.GetFullPath(root.Trim()) };
        if (v.TryGetValue("max-upload-mb", out var mb)) o = o with { MaxUploadBytes = Int("max-upload-mb", mb) * 1024L * 1024 };
        if (v.TryGetValue("hocon", out var hocon)) o = o with { Hocon = hocon.Length == 0 ? null : hocon };
        if (v.TryGetValue("state-dir", out var state)) o = o with { StateDir = state.Trim().Length == 0 ? null : Path.GetFullPath(state.Trim()) };
        if (v.TryGetValue("journal-connection", out var connection)) o = o with { JournalConnection = connection.Trim().Length == 0 ? null : connection.Trim() };
        if (v.TryGetValue("journal-provider", out var provider) && provider.Trim().Length > 0) o = o with { JournalProvider = provider.Trim() };
        if (v.TryGetValue("keep-jobs", out var keep)) o = o with { KeepJobs = Int("keep-jobs", keep) };
        if (v.TryGetValue("keep-days", out var days)) o = o with { KeepDays = days.Trim().Length == 0 ? null : Int("keep-days", days) };
        if (v.TryGetValue("checkpoint-every", out var every)) o = o with { CheckpointEvery = Interval("checkpoint-every", every) };
        if (v.TryGetValue("max-queued-jobs", out var queued)) o = o with { Budget = o.Budget with { MaxQueuedJobs = Int("max-queued-jobs", queued) } };
        if (v.TryGetValue("max-queued-per-owner", out var perOwner))
            o = o with { Budget = o.Budget with { MaxQueuedPerOwner = perOwner.Trim().Length == 0 ? null : Int("max-queued-per-owner", perOwner) } };
        if (v.TryGetValue("max-running-per-owner", out var runningPerOwner))
            o = o with { Budget = o.Budget with { MaxRunningPerOwner = runningPerOwner.Trim().Length == 0 ? null : Int("max-running-per-owner", runningPerOwner) } };
        if (v.TryGetValue("max-stored-mb-per-owner", out var storedPerOwner))
        {
            int? stored = storedPerOwner.Trim().Length == 0 ? null : Int("max-stored-mb-per-owner", storedPerOwner);
            if (stored < 1) throw new ArgumentException($"max stored MB per owner must be at least 1 (got {stored})");
            o = o with { Budget = o.Budget with { MaxStoredBytesPerOwner = stored * 1048576L } };
        }
        if (v.TryGetValue("max-job-parameters", out var parameters))
            o = o with { Budget = o.Budget with { MaxParameters = (long)Positive("max-job-parameters", parameters) } };
        if (v.TryGetValue("max-job-work", out var work)) o = o with { Budget = o.Budget with { MaxWork = Positive("max-job-work", work) } };
        o.Budget.Validate();
        if (v.TryGetValue("api-token", out var token)) o = o with { ApiToken = token.Trim().Length == 0 ? null : token.Trim() };
        if (v.TryGetValue("api-tokens", out var tokens)) o = o with { ApiTokensFile = tokens.Trim().Length == 0 ? null : Path.GetFullPath(tokens.Trim()) };
        if (v.TryGetValue("insecure-api", out var insecure)) o = o with { InsecureApi = Bool("insecure-api", insecure) };
        if (v.TryGetValue("allowed-hosts", out var hosts)) o = o with { AllowedHosts = List(hosts) is { Length: > 0 } h ? h : null };
        if (v.TryGetValue("cors-origins", out var origins)) o = o with { CorsOrigins = [.. List(origins).Select(c => c.TrimEnd('/'))] };
        if (v.TryGetValue("rate-limit", out var rate)) o = o with { RateLimit = Number("rate-limit", rate) };
        if (v.TryGetValue("submit-rate-limit", out var submitRate)) o = o with { SubmitRateLimit = Number("submit-rate-limit", submitRate) };
        if (v.TryGetValue("tls-certificate", out var certificate)) o = o with { TlsCertificate = certificate.Trim().Length == 0 ? null : Path.GetFullPath(certificate.Trim()) };
        // A password is taken as given (spaces included); an empty one is the empty password.
        if (v.TryGetValue("tls-password", out var password)) o = o with { TlsPassword = password };
        if (v.TryGetValue("tls-ca", out var ca)) o = o with { TlsCa = ca.Trim().Length == 0 ? null : Path.GetFullPath(ca.Trim()) };
        if (v.TryGetValue("https-certificate", out var https)) o = o with { HttpsCertificate = https.Trim().Length == 0 ? null : Path.GetFullPath(https.Trim()) };
        if (v.TryGetValue("https-key", out var httpsKey)) o = o with { HttpsKey = httpsKey.Trim().Length == 0 ? null : Path.GetFullPath(httpsKey.Trim()) };
        if (v.TryGetValue("https-password", out var httpsPassword)) o = o with { HttpsPassword = httpsPassword };
        // With TLS every node's address is akka.ssl.tcp://: seeds written as akka.tcp:// (the compose file's, an operator's
        // habit) name the same nodes, so they are taken as such rather than refused.
        if (o.Tls) o = o with { Seeds = [.. o.Seeds.Select(s => s.StartsWith("akka.tcp://", StringComparison.Ordinal) ? "akka.ssl.tcp://" + s["akka.tcp://".Length..] : s)] };
        o = o with { Discovery = NodeDiscoveryOptions.From(v) };
        o.Validate();
        return o;
    }

    /// <summary>A positive number, also in exponent form (<c>4e13</c>).</summary>
    private static double Positive(string name, string text) =>
        double.TryParse(text.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            && value > 0 && double.IsFinite(value) && value < 1e30
            ? value
            : throw new ArgumentException($"{name} must be a positive number like 4000000 or 4e13 (got '{text}')");

    /// <summary>Seconds (<c>30</c>, <c>30s</c>), minutes (<c>5m</c>), <c>0</c> or <c>epoch</c> (every epoch end), <c>off</c> (none).</summary>
    private static TimeSpan? Interval(string name, string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t is "off" or "none") return null;
        if (t is "epoch" or "0") return TimeSpan.Zero;
        double scale = t.EndsWith('m') ? 60 : 1;
        string number = t.TrimEnd('s', 'm');
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < 0 || value * scale > 86_400)
            throw new ArgumentException($"{name} must be a duration like 30s or 5m, 'epoch' or 'off' (got '{text}')");
        return TimeSpan.FromSeconds(value * scale);
    }

    public void Validate()
    {
        if (Roles.Length == 0) throw new ArgumentException("a node needs at least one role: coordinator, parameter-server or worker");
        foreach (var r in Roles)
            if (!KnownRoles.Contains(r)) throw new ArgumentException($"unknown role '{r}' (roles: {string.Join(", ", KnownRoles)})");
        if (Port is < 0 or > 65535) throw new ArgumentException($"port must be between 0 and 65535 (got {Port})");
        if (HttpPort is < 0 or > 65535) throw new ArgumentException($"http port must be between 0 and 65535 (got {HttpPort})");
        if (TorchThreads is < 1 or > 1024) throw new ArgumentException($"torch threads must be between 1 and 1024 (got {TorchThreads})");
        if (LogFormat is not (TextLogFormat or JsonLogFormat)) throw new ArgumentException($"log-format must be text or json (got '{LogFormat}')");
        if (ExpectWorkers is < 1 or > 100_000) throw new ArgumentException($"expect-workers must be between 1 and 100000 (got {ExpectWorkers})");
        if (MaxConcurrentJobs is < 1 or > 1024) throw new ArgumentException($"max concurrent jobs must be between 1 and 1024 (got {MaxConcurrentJobs})");
        if (MaxUploadBytes < 1024) throw new ArgumentException($"max upload must be at least 1 KiB (got {MaxUploadBytes} bytes)");
        if (KeepJobs is < 1 or > 1_000_000) throw new ArgumentException($"keep-jobs must be between 1 and 1000000 (got {KeepJobs})");
        if (KeepDays is < 1 or > 36_500) throw new ArgumentException($"keep-days must be between 1 and 36500 (got {KeepDays})");
        if (RateLimit is < 0 or > 1_000_000) throw new ArgumentException($"rate-limit must be between 0 (none) and 1000000 requests per second (got {RateLimit})");
        if (SubmitRateLimit is < 0 or > 1_000_000) throw new ArgumentException($"submit-rate-limit must be between 0 (none) and 1000000 submissions per minute (got {SubmitRateLimit})");
        foreach (var origin in CorsOrigins)
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && u.AbsolutePath == "/"))
                throw new ArgumentException($"cors origin '{origin}' is not an origin like https://app.example.com (scheme, host and port only) or *");
        if (JournalConnection is not null && StateDir is null)
            throw new ArgumentException("a journal connection needs a state directory too (for the jobs' files)");
        foreach (var seed in Seeds)
        {
            if (!Akka.Actor.Address.TryParse(seed, out var address) || address.Host is null || address.Port is null)
                throw new ArgumentException($"seed '{seed}' is not an address like {Protocol}://{SystemName}@host:4053");
            if (address.System != SystemName)
                throw new ArgumentException($"seed '{seed}' names actor system '{address.System}': every node's system is '{SystemName}'");
            if (address.Protocol != Protocol)
                throw new ArgumentException(Tls
                    ? $"seed '{seed}' is a plaintext address: with --tls-certificate seeds are {Protocol}://{SystemName}@host:port"
                    : $"seed '{seed}' is a TLS address: give this node --tls-certificate (and the cluster's CA) to join it");
        }
        Discovery.Validate(Seeds);
        if (!Tls && TlsCa is not null) throw new ArgumentException("--tls-ca needs --tls-certificate (this node's own certificate and key)");
        if (!Tls && TlsPassword is { Length: > 0 }) throw new ArgumentException("--tls-password needs --tls-certificate (the file it opens)");
        if (!Https && HttpsKey is not null) throw new ArgumentException("--https-key needs --https-certificate (the certificate the key belongs to)");
        if (!Https && HttpsPassword is { Length: > 0 }) throw new ArgumentException("--https-password needs --https-certificate (the file it opens)");
        if (Https && HttpPort == 0) throw new ArgumentException("--https-certificate needs an HTTP port to serve HTTPS on (--http-port is 0)");
    }

    /// <summary>Whether the job API listens on a loopback address only (127.x, ::1, localhost, or a name resolving to those alone).</summary>
    public bool ApiOnLoopback
    {
        get
        {
            if (Host is "0.0.0.0" or "::" or "*" or "") return false;
            if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
            if (IPAddress.TryParse(Host, out var ip)) return IPAddress.IsLoopback(ip);
            try
            {
                var addresses = Dns.GetHostAddresses(Host);
                return addresses.Length > 0 && addresses.All(IPAddress.IsLoopback);
            }
            catch (System.Net.Sockets.SocketException)
            {
                return false;
            }
        }
    }

    /// <summary>The names the job API answers to unless <see cref="AllowedHosts"/> says otherwise: loopback, and this node's own names.</summary>
    public string[] DefaultAllowedHosts()
    {
        var hosts = new List<string>(Api.JobApiOptions.DefaultAllowedHosts);
        foreach (var name in new[] { Host, PublicHost, AdvertisedHost })
            if (name is { Length: > 0 } && name is not ("0.0.0.0" or "::" or "*") && !hosts.Contains(name, StringComparer.OrdinalIgnoreCase)) hosts.Add(name);
        return [.. hosts];
    }

    private static bool Bool(string name, string text) => text.Trim().ToLowerInvariant() switch
    {
        "" or "0" or "false" or "no" or "off" => false,
        "1" or "true" or "yes" or "on" => true,
        _ => throw new ArgumentException($"{name} must be true or false (got '{text}')"),
    };

    private static double Number(string name, string text) =>
        double.TryParse(text.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double n) && double.IsFinite(n)
            ? n
            : throw new ArgumentException($"{name} must be a number (got '{text}')");

    private static string[] List(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Int(string name, string text) =>
        int.TryParse(text.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new ArgumentException($"{name} must be a whole number (got '{text}')");
}
