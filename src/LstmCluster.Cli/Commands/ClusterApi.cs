using LstmCluster.Actors.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Cli.Commands;

/// <summary>What a coordinator node serves over HTTP and leaves for finished jobs (filled in with the job API).</summary>
internal static class ClusterApi
{
    public static ArtifactWriter? Artifacts => null;

    public static (Action<IServiceCollection> Services, Action<WebApplication> Endpoints)? Configure => null;
}
