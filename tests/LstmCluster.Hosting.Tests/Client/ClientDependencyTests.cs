using System.Reflection;
using LstmCluster.Client;

namespace LstmCluster.Hosting.Tests.Client;

/// <summary>
/// The CLI's client commands (submit, status, jobs, ...) load LstmCluster.Client: what it references, all the way down,
/// must not bring the server (ASP.NET Core), Akka or libtorch with it.
/// </summary>
public sealed class ClientDependencyTests
{
    [Fact]
    public void The_client_assembly_closure_holds_neither_AspNetCore_nor_Akka_nor_TorchSharp()
    {
        var closure = Closure(typeof(JobApiClient).Assembly);

        Assert.Contains("LstmCluster.Contracts", closure);
        Assert.Contains("System.Net.Http", closure);
        var server = closure.Where(n => n.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            || n.StartsWith("Akka", StringComparison.Ordinal)
            || n.StartsWith("TorchSharp", StringComparison.Ordinal)
            || n is "LstmCluster.Hosting" or "LstmCluster.Actors" or "LstmCluster.Core").ToList();
        Assert.True(server.Count == 0, $"LstmCluster.Client depends on {string.Join(", ", server)}");
    }

    [Fact]
    public void The_closure_walk_finds_the_server_dependencies_of_the_hosting_assembly()
    {
        // The same walk over the server's assembly must find what the client's must not: the check above can fail.
        var closure = Closure(typeof(Hosting.Node.NodeHost).Assembly);

        Assert.Contains(closure, n => n.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        Assert.Contains("Akka.Cluster", closure);
    }

    /// <summary>Names of every assembly <paramref name="root"/> references, transitively (loaded as the test process resolves them).</summary>
    private static HashSet<string> Closure(Assembly root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<AssemblyName>(root.GetReferencedAssemblies());
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name.Name!)) continue;
            foreach (var reference in Assembly.Load(name).GetReferencedAssemblies()) pending.Push(reference);
        }
        return seen;
    }
}
