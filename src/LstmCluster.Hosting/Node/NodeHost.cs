using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using LstmCluster.Actors.Jobs;
using LstmCluster.Hosting.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// A cluster node process: the <c>lstm</c> ActorSystem wired through Akka.Hosting (<c>WithRemoting</c>,
/// <c>WithClustering</c> and the rest of the configuration from <see cref="NodeConfig"/>; actors, the coordinator singleton
/// and its proxy in the actor registry as <see cref="CoordinatorKey"/> from <see cref="NodeActors"/>; liveness and
/// readiness checks), and an HTTP server: /health and /ready on every node, the
/// job API on coordinator nodes.
/// </summary>
public static class NodeHost
{
    /// <summary>Builds the node; coordinator nodes serve the job API and render finished jobs' files with <see cref="JobArtifactFiles"/>.</summary>
    public static WebApplication Build(NodeOptions options)
    {
        ArtifactWriter artifacts = JobArtifactFiles.Write;
        options.Validate();
        bool api = options.Has(Vocabulary.Roles.Coordinator) && options.HttpPort > 0;
        var tokens = ApiTokensOf(options);
        if (api && tokens.IsEmpty && !options.InsecureApi && !options.ApiOnLoopback) throw new UnprotectedApiException(options);
        // Before anything binds: Akka.Remote's transport would share a taken port without a word (and join as a second
        // node at the same address), and Kestrel would fail only after the actor system had started.
        CheckPortFree(options.Host, options.Port, "Akka.Remote, --port");
        CheckPortFree(options.Host, options.HttpPort, "HTTP, --http-port");
        NodeDiscovery.CheckPorts(options);
        // Unusable certificates, password or CA: refuse to start, naming the file, before the transport would fail on its own.
        var tls = NodeTls.Load(options);
        var https = NodeHttps.Load(options);
        // A coordinator without a usable state directory would lose what it accepts: refuse to start, naming the folder.
        if (options.Has(Vocabulary.Roles.Coordinator) && options.StateDir is { } state) _ = new JobStore(state);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (options.LogFormat == NodeOptions.JsonLogFormat)
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        else
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Akka", LogLevel.Information);
        builder.Logging.AddFilter("LstmCluster", LogLevel.Information);
        if (options.HttpPort > 0)
        {
            string bind = options.Host is "0.0.0.0" or "::" or "*" ? "0.0.0.0" : options.Host;
            builder.WebHost.UseUrls($"{options.HttpScheme}://{bind}:{options.HttpPort}");
            // The slim builder leaves Kestrel's HTTPS out until asked for; the certificate is the one loaded (and checked) above.
            if (https is not null) builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.Limits.MaxRequestBodySize = options.MaxUploadBytes + 1024 * 1024;
                if (https is not null)
                    k.ConfigureHttpsDefaults(h =>
                    {
                        h.ServerCertificate = https.Certificate;
                        h.ServerCertificateChain = https.Chain;
                    });
            });
        }
        else
        {
            // No HTTP port asked for: listen on a loopback port nobody is told about (Kestrel would otherwise take localhost:5000).
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }

        builder.Services.AddAkka(NodeOptions.SystemName, (akka, services) =>
        {
            // Remoting, clustering and TLS through Akka.Hosting's builders; the rest of the configuration as HOCON (NodeConfig).
            NodeConfig.Configure(akka, options, tls);
            akka.WithNodeDiscovery(options);   // --discovery config|kubernetes: Akka.Management's Cluster Bootstrap (NodeDiscovery.cs)
            // Akka's log through Microsoft.Extensions.Logging (NodeLogger): one format (--log-format) and the filters above for the whole node.
            akka.AddSetup(new NodeLoggingSetup(services.GetRequiredService<ILoggerFactory>(), options.Roles));
            akka.ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = Akka.Event.LogLevel.InfoLevel;
                loggers.ClearLoggers();
                loggers.AddLogger<NodeLogger>();
            });
            // Akka.Hosting's own checks behind /health and /ready (HealthEndpoints): the actor system runs; this node joined.
            akka.WithActorSystemLivenessCheck(tags: [HealthEndpoints.LiveTag]);
            akka.WithAkkaClusterReadinessCheck(tags: [HealthEndpoints.ReadyTag]);
            // The node's actors for its roles; the coordinator singleton and its proxy under CoordinatorKey.
            NodeActors.Configure(akka, options, artifacts, tls);
        });
        builder.Services.AddHealthChecks();
        builder.Services.AddNodeTelemetry();
        builder.Services.AddSingleton<INodeReadiness>(sp => new ClusterReadiness(sp.GetRequiredService<ActorSystem>(), options.ExpectWorkers));
        if (api)
            builder.Services.AddJobApi(new JobApiOptions
            {
                MaxUploadBytes = options.MaxUploadBytes,
                DataRoot = options.DataRoot,
                Tokens = tokens,
                // The file is followed while the node runs: tokens added, taken away or rotated without a restart.
                TokensFile = options.ApiTokensFile is { } file
                    ? new ApiTokensFile(file, options.ApiToken is { } single ? ApiTokens.Single(single) : ApiTokens.None)
                    : null,
                AllowedHosts = options.AllowedHosts ?? options.DefaultAllowedHosts(),
                CorsOrigins = options.CorsOrigins,
                RateLimits = new ApiRateLimits { RequestsPerSecond = options.RateLimit, SubmissionsPerMinute = options.SubmitRateLimit },
            });

        var app = builder.Build();
        if (api) app.MapJobApi();
        else app.MapHealthEndpoints();
        app.MapNodeMetrics();
        return app;
    }

    /// <summary>The tokens of <c>--api-token</c> and <c>--api-tokens</c> together; a bad file or token is an <see cref="ArgumentException"/> naming it.</summary>
    public static ApiTokens ApiTokensOf(NodeOptions options)
    {
        var tokens = options.ApiToken is { } single ? ApiTokens.Single(single) : ApiTokens.None;
        return options.ApiTokensFile is { } file ? tokens.With(ApiTokens.Load(file)) : tokens;
    }

    /// <summary>
    /// Throws <see cref="PortInUseException"/> when <paramref name="port"/> cannot be bound on <paramref name="host"/> (0 takes any free port:
    /// nothing to check). A plain listener, without address or port sharing, is the probe: it fails on a port any other socket listens on.
    /// </summary>
    public static void CheckPortFree(string host, int port, string what)
    {
        if (port <= 0) return;
        var probe = new System.Net.Sockets.TcpListener(Actors.Remoting.RemoteConfig.BindAddress(host), port) { ExclusiveAddressUse = true };
        try
        {
            probe.Start();
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.AddressAlreadyInUse or System.Net.Sockets.SocketError.AccessDenied)
        {
            throw new PortInUseException(port, host, what, e.SocketErrorCode == System.Net.Sockets.SocketError.AccessDenied);
        }
        finally
        {
            probe.Stop();
        }
    }

    /// <summary>
    /// Runs the node until Ctrl+C / SIGTERM (leaving the cluster gracefully, exit code 0) or until its actor
    /// system stops on its own (downed by the split-brain resolver, or it gave up joining): then the process
    /// ends with exit code 1, so an orchestrator restarts it (see <see cref="ExitCode"/>).
    /// </summary>
    public static async Task<int> RunAsync(WebApplication app, NodeOptions options, TextWriter output, CancellationToken cancel = default)
    {
        await app.StartAsync(cancel);
        var system = app.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        output.WriteLine($"node {cluster.SelfAddress} roles [{string.Join(", ", options.Roles)}]"
            + (options.Tls ? ", TLS between nodes (mutual authentication)" : "")
            + (options.HttpPort > 0 ? $", {options.HttpScheme}://{options.AdvertisedHost}:{options.HttpPort}" : "")
            + (options.Seeds.Length > 0 ? $", joining {string.Join(", ", options.Seeds)}"
                : options.Discovery.Bootstraps ? $", finding the cluster through {options.Discovery.Method} discovery (management port {options.Discovery.ManagementPort})"
                : ", founding a new cluster"));
        if (options.Has(Vocabulary.Roles.Coordinator) && options.HttpPort > 0 && options.InsecureApi && !options.ApiOnLoopback
            && options.ApiToken is null && options.ApiTokensFile is null)
            output.WriteLine($"warning: the job API on {options.Host}:{options.HttpPort} takes no token (--insecure-api): anyone who reaches the port can submit and delete jobs");
        else if (options.Has(Vocabulary.Roles.Coordinator) && options.HttpPort > 0 && !options.Https && !options.ApiOnLoopback)
            output.WriteLine($"warning: the job API on {options.Host}:{options.HttpPort} is plain HTTP beyond loopback: its tokens and data cross the network readable; "
                + "serve it with --https-certificate, or behind a TLS proxy");
        cluster.RegisterOnMemberUp(() => output.WriteLine($"node {cluster.SelfAddress} is Up in the cluster"));
        // Akka.Hosting stops the host too when the system terminates; this keeps the node's exit independent of that.
        _ = system.WhenTerminated.ContinueWith(_ => app.Lifetime.StopApplication(), TaskScheduler.Default);
        using var parentWatch = WatchParent(app, output);
        await app.WaitForShutdownAsync(cancel);
        int code = ExitCode(system);
        if (CoordinatedShutdown.Get(system).ShutdownReason is JournalUnreadableReason journal) output.WriteLine($"error: {journal.Problem}");
        if (IsTlsHandshakeFailure(CoordinatedShutdown.Get(system).ShutdownReason))
            output.WriteLine($"error: {CoordinatedShutdown.Get(system).ShutdownReason}: the peer refused this node's certificate or this node refused the peer's "
                + "(they are not from the same CA, or the peer speaks plaintext); see the TLS lines above");
        output.WriteLine($"node {cluster.SelfAddress} stopped ({CoordinatedShutdown.Get(system).ShutdownReason?.GetType().Name ?? "no shutdown reason"}), exit code {code}");
        return code;
    }

    /// <summary>
    /// 1 when the actor system stopped for a reason of its own (the cluster downed this node, it gave up joining,
    /// or it ended without a coordinated shutdown), 0 when it was asked to stop.
    /// </summary>
    /// <remarks>
    /// Decided by <see cref="CoordinatedShutdown.ShutdownReason"/>, which the first caller of
    /// <c>CoordinatedShutdown.Run</c> sets once: a stop the host asks for (SIGTERM, Ctrl+C, the parent gone)
    /// reaches Akka.Hosting's <c>StopAsync</c>, which runs it with <see cref="CoordinatedShutdown.ClrExitReason"/>
    /// before the cluster leaves, so the later leaving and downing steps of that same shutdown do not change it.
    /// Not whether the host was stopping when the system ended: a terminated system makes both Akka.Hosting and
    /// <see cref="RunAsync"/> call <c>StopApplication</c>, so "stopping" is set by the downing itself, and which of
    /// them comes first is a race.
    /// </remarks>
    public static int ExitCode(ActorSystem system)
    {
        if (!system.WhenTerminated.IsCompleted) return 0;
        return CoordinatedShutdown.Get(system).ShutdownReason switch
        {
            CoordinatedShutdown.ClrExitReason => 0,
            // Asked to leave (`Cluster.Leave` of this node from anywhere): a deliberate removal, not a failure to restart.
            CoordinatedShutdown.ClusterLeavingReason => 0,
            // Restarting cannot help: an operator has to look at the journal.
            JournalUnreadableReason => 2,
            // Nor here: this node and a peer do not trust each other's certificates.
            var reason when IsTlsHandshakeFailure(reason) => 2,
            _ => 1,
        };
    }

    /// <summary>
    /// Akka.Remote stops a node whose outbound TLS handshake failed with its internal <c>TlsHandshakeFailureReason</c>
    /// (exit code 79), known here by its name.
    /// </summary>
    private static bool IsTlsHandshakeFailure(CoordinatedShutdown.Reason? reason) => reason?.GetType().Name == "TlsHandshakeFailureReason";

    /// <summary>
    /// A node started by <c>simulate</c> (or a test) gets its parent's id in <c>LSTMCLUSTER_PARENT_PID</c> and stops
    /// when that process is gone: no orphans, even when the parent was killed and could not clean up.
    /// </summary>
    private static Timer? WatchParent(WebApplication app, TextWriter output)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("LSTMCLUSTER_PARENT_PID"), out int pid)) return null;
        return new Timer(_ =>
        {
            bool alive;
            try
            {
                using var parent = System.Diagnostics.Process.GetProcessById(pid);
                alive = !parent.HasExited;
            }
            catch (ArgumentException)
            {
                alive = false;
            }
            if (alive) return;
            output.WriteLine($"parent process {pid} is gone: stopping");
            app.Lifetime.StopApplication();
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }
}

/// <summary>A port the node is configured to listen on is taken (or not allowed): bad input, the node does not start.</summary>
public sealed class PortInUseException(int port, string host, string what, bool denied)
    : Exception(denied
        ? $"port {port} on {host} cannot be used ({what}): permission denied (ports below 1024 need privileges)"
        : $"port {port} is in use on {host} ({what}): another node or program holds it; choose another port")
{
    public int Port { get; } = port;
}

/// <summary>The coordinator could not read its job journal: the node stops (exit code 2) and says why.</summary>
public sealed class JournalUnreadableReason(string problem) : CoordinatedShutdown.Reason
{
    public string Problem { get; } = problem;

    public override int ExitCode => 2;
}

/// <summary>A node would serve its job API beyond loopback with no token and no <c>--insecure-api</c>: bad usage, the node does not start.</summary>
public sealed class UnprotectedApiException(NodeOptions options)
    : ArgumentException($"the job API would listen on {options.Host}:{options.HttpPort}, beyond loopback, with no token: give --api-token TOKEN "
        + "(or LSTMCLUSTER_API_TOKEN) or --api-tokens FILE, or --insecure-api to serve it open to anyone who reaches the port");
