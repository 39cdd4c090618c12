using System.Diagnostics.Metrics;
using Akka.Actor;
using LstmCluster.Actors.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// <c>GET /metrics</c> on every node, Prometheus text through OpenTelemetry: the product's instruments
/// (<see cref="ClusterMetrics"/>: rounds, samples, round duration, dropped gradients, parameter-server busy time, bytes on
/// the wire, checkpoints, jobs by state, queue length), the cluster's members by role and status as this node sees them,
/// and the runtime's own (GC, thread pool, ASP.NET Core requests). Open without a token, like the probes: it names no job.
/// </summary>
public static class NodeTelemetry
{
    /// <summary>The meter of the membership gauge: the product's name, so one <c>AddMeter</c> takes both.</summary>
    public const string MeterName = ClusterMetrics.MeterName;

    public static IServiceCollection AddNodeTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<ClusterMembershipGauge>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ClusterMetrics.MeterName, "System.Runtime", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        return services;
    }

    public static WebApplication MapNodeMetrics(this WebApplication app)
    {
        // Created with the app's meter factory: its gauge goes away with this host (tests run several nodes in one process).
        _ = app.Services.GetRequiredService<ClusterMembershipGauge>();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary><c>lstmcluster.cluster.members</c>: members by role and status (and <c>unreachable</c>), as this node sees them.</summary>
    private sealed class ClusterMembershipGauge
    {
        public ClusterMembershipGauge(IMeterFactory meters, IServiceProvider services)
        {
            var meter = meters.Create(MeterName);
            meter.CreateObservableGauge("lstmcluster.cluster.members", () => Observe(services), "{member}",
                "Cluster members by role and status as this node sees them (status 'unreachable' counts reachability apart)");
        }

        private static IEnumerable<Measurement<long>> Observe(IServiceProvider services)
        {
            if (services.GetService<ActorSystem>() is not { WhenTerminated.IsCompleted: false } system) return [];
            var state = Akka.Cluster.Cluster.Get(system).State;
            var measurements = new List<Measurement<long>>();
            foreach (var role in NodeOptions.KnownRoles)
            {
                var members = state.Members.Where(m => m.HasRole(role)).ToList();
                foreach (var group in members.GroupBy(m => m.Status))
                    measurements.Add(new Measurement<long>(group.Count(), Tag("role", role), Tag("status", group.Key.ToString().ToLowerInvariant())));
                measurements.Add(new Measurement<long>(members.Count(m => state.Unreachable.Contains(m)), Tag("role", role), Tag("status", "unreachable")));
            }
            return measurements;
        }

        private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);
    }
}
