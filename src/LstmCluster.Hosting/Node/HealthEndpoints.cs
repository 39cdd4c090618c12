using LstmCluster.Hosting.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// <c>/health</c> (liveness) and <c>/ready</c> (readiness) of every node, open to probes without a token.
/// Both run the ASP.NET Core health checks Akka.Hosting registers (<c>WithActorSystemLivenessCheck</c> tagged
/// <see cref="LiveTag"/>, <c>WithAkkaClusterReadinessCheck</c> tagged <see cref="ReadyTag"/>); <c>/ready</c> adds what a
/// job needs on top (<see cref="INodeReadiness"/>: the roles, <c>--expect-workers</c>, convergence) and lists the members.
/// </summary>
public static class HealthEndpoints
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", Health).Produces<HealthView>().Produces<HealthView>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Liveness: the actor system runs (no token needed)");
        app.MapGet("/ready", Ready).Produces<ReadyView>().Produces<ReadyView>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Readiness: this node is Up and a job could run (a coordinator, a parameter server and --expect-workers workers Up); lists the members");
        return app;
    }

    private static async Task<IResult> Health(IServiceProvider services, CancellationToken ct)
    {
        var report = await Run(services, LiveTag, ct);
        bool alive = report is null || report.Status != HealthStatus.Unhealthy;
        return Results.Json(new HealthView(alive ? "alive" : "unhealthy", Checks(report)), JobApiJson.Options,
            statusCode: alive ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> Ready(IServiceProvider services, CancellationToken ct)
    {
        var r = services.GetService<INodeReadiness>()?.Check()
            ?? new NodeReadiness(true, "no readiness check registered: ready", new Dictionary<string, int>(), Converged: true);
        var report = await Run(services, ReadyTag, ct);
        var failing = report?.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy)
            .Select(e => $"{e.Key}: {e.Value.Description ?? "unhealthy"}").ToList() ?? [];
        bool ready = r.Ready && failing.Count == 0;
        string detail = failing.Count == 0 ? r.Detail : $"{r.Detail}; failing checks: {string.Join("; ", failing)}";
        return Results.Json(new ReadyView(ready, detail, r.Roles, r.Converged, r.Members ?? [], Checks(report)), JobApiJson.Options,
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>The registered checks with <paramref name="tag"/>; null when the host registered no health checks (API tests).</summary>
    private static async Task<HealthReport?> Run(IServiceProvider services, string tag, CancellationToken ct)
    {
        var checks = services.GetService<HealthCheckService>();
        return checks is null ? null : await checks.CheckHealthAsync(c => c.Tags.Contains(tag), ct);
    }

    private static IReadOnlyDictionary<string, string> Checks(HealthReport? report) =>
        report?.Entries.ToDictionary(e => e.Key, e => e.Value.Status.ToString()) ?? new Dictionary<string, string>();
}
