using Akka.Actor;
using Akka.Hosting;
using LstmCluster.Contracts;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Hosting.Api;
using LstmCluster.Client;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmCluster.Hosting.Tests;

/// <summary>
/// A real in-process API host on 127.0.0.1, port 0: Kestrel, a plain local ActorSystem with the
/// coordinator (one worker, artifacts rendered by <see cref="JobArtifactFiles"/>) registered under
/// <see cref="CoordinatorKey"/>, and the job API.
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private ApiHost(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
        Http = new HttpClient(JobApiClient.CreateHandler()) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        Client = new JobApiClient(Http);
    }

    public Uri Address { get; }
    public IServiceProvider Services => app.Services;
    public HttpClient Http { get; }
    public JobApiClient Client { get; }

    /// <param name="coordinator">Props of what answers as the coordinator; null is the real one.</param>
    /// <param name="nodeBodyLimit">Kestrel's request body limit set as a node sets it (<see cref="NodeHost.Build"/>: the upload limit plus 1 MiB).</param>
    /// <param name="logs">Where the host's log lines go; null: nowhere.</param>
    public static async Task<ApiHost> Start(JobApiOptions? options = null, INodeReadiness? readiness = null, Props? coordinator = null,
        bool nodeBodyLimit = false, ILoggerProvider? logs = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (nodeBodyLimit)
            builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = (options ?? new JobApiOptions()).MaxUploadBytes + 1024 * 1024);
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Services.AddAkka("lstm", (akka, _) =>
        {
            akka.AddHocon(EmbeddedEngine.Configuration(), HoconAddMode.Prepend);
            akka.WithActors((system, registry) =>
            {
                var props = coordinator ?? CoordinatorActor.Props(new CoordinatorSettings
                {
                    Engine = new EngineOptions { Workers = 1 },
                    Artifacts = JobArtifactFiles.Write,
                });
                registry.Register<CoordinatorKey>(system.ActorOf(props, "coordinator"));
            });
        });
        if (readiness is not null) builder.Services.AddSingleton(readiness);
        builder.Services.AddJobApi(options);
        var app = builder.Build();
        app.MapJobApi();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ApiHost(app, new Uri(address + "/"));
    }

    /// <summary>Polls the job's status until it has ended (or the wait runs out).</summary>
    public Task<JobView> WaitForEnd(string id, TimeSpan? timeout = null) => WaitFor(Client, id, s => s.Ended, timeout);

    /// <summary>Polls a job group's status until it ended; the timeout only bounds a broken run.</summary>
    public Task<GroupView> WaitForGroupEnd(string id, TimeSpan? timeout = null) =>
        WaitForGroup(id, g => g.State is "Succeeded" or "Failed" or "Cancelled", timeout);

    /// <summary>Polls a job group's status until <paramref name="reached"/> holds; the timeout only bounds a broken run.</summary>
    public Task<GroupView> WaitForGroup(string id, Func<GroupView, bool> reached, TimeSpan? timeout = null) =>
        Poll(() => Client.GroupStatusAsync(id), reached, timeout ?? TimeSpan.FromSeconds(180), status => $"group {id} is {status.State} after the wait");

    /// <summary>
    /// A host whose coordinator runs job groups: <paramref name="pool"/> workers, up to <paramref name="concurrent"/> runs at
    /// once, each of <paramref name="workers"/> workers by default, writing job and group files.
    /// </summary>
    public static Task<ApiHost> StartForGroups(int workers, int concurrent, int pool) => Start(coordinator: CoordinatorActor.Props(new CoordinatorSettings
    {
        Engine = new EngineOptions { Workers = workers, MaxConcurrentJobs = concurrent, WorkerPool = pool },
        Artifacts = JobArtifactFiles.Write,
        GroupFiles = GroupArtifactFiles.Write,
    }));

    /// <summary>A long-format file in <paramref name="dir"/>: the shipped MSFT and IBM prices and a symbol with too few rows (TINY).</summary>
    public static string TwoStocksAndATinyOne(string dir)
    {
        var lines = File.ReadAllLines(Path.Combine(Samples, "vega_stocks.csv"));
        var keep = lines.Skip(1).Where(l => l.StartsWith("MSFT,", StringComparison.Ordinal) || l.StartsWith("IBM,", StringComparison.Ordinal));
        var tiny = Enumerable.Range(1, 6).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"TINY,Jan {i} 2000,{10 + i}"));
        string path = Path.Combine(dir, "stocks.csv");
        File.WriteAllLines(path, [lines[0], .. keep, .. tiny]);
        return path;
    }

    /// <summary>Polls a job's status until <paramref name="reached"/> holds; the timeout only bounds a broken run.</summary>
    public static Task<JobView> WaitFor(JobApiClient client, string id, Func<JobView, bool> reached, TimeSpan? timeout = null) =>
        Poll(() => client.StatusAsync(id), reached, timeout ?? TimeSpan.FromSeconds(120), status => $"job {id} is {status.State} at epoch {status.Epoch} after the wait");

    /// <summary>Reads a status every 100 ms until <paramref name="reached"/> holds; past <paramref name="timeout"/> (which only bounds a broken run) throws with <paramref name="late"/>'s account of the last status.</summary>
    private static async Task<T> Poll<T>(Func<Task<T>> read, Func<T, bool> reached, TimeSpan timeout, Func<T, string> late)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await read();
            if (reached(status)) return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException(late(status));
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>The repository's samples directory.</summary>
    public static string Samples
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repo root not found"), "samples");
        }
    }

    public static string AirPassengers => Path.Combine(Samples, "AirPassengers.csv");

    /// <summary>Options that train AirPassengers in well under a second.</summary>
    public static Dictionary<string, string> TinyJob(int epochs = 2) => new()
    {
        ["target"] = "value",
        ["epochs"] = epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["hidden"] = "8",
        ["layers"] = "1",
        ["lookback"] = "12",
        ["season"] = "12",
        ["patience"] = "0",
        // One model per job (auto trains a candidate per normalization and never checkpoints): the resume tests need checkpoints.
        ["normalize"] = "window-seasonal",
    };
}

/// <summary>Tests that train share two cores and torch's global generator: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ApiCollection
{
    public const string Name = "api";
}
