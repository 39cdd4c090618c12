using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LstmCluster.Hosting.Dashboard;

/// <summary>
/// The web dashboard of a coordinator node: one page (<c>/</c>) and its script and style (<c>/dashboard/...</c>), plain files
/// embedded in this assembly (nodes may have no internet: no CDN, no build step). The page needs no token; it calls the job
/// API with the token its user types (<c>Authorization: Bearer</c>), so it can do what that token may and nothing more.
/// </summary>
public static class DashboardEndpoints
{
    private const string Prefix = "dashboard/";

    /// <summary>The embedded files by name (<c>index.html</c>, <c>dashboard.js</c>, ...), read once.</summary>
    private static readonly Lazy<FrozenDictionary<string, byte[]>> Assets = new(Load);

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext context) => Serve(context, "index.html")).ExcludeFromDescription();
        app.MapGet("/dashboard/{name}", (HttpContext context, string name) => Serve(context, name)).ExcludeFromDescription();
        return app;
    }

    /// <summary>The names of the embedded files (for tests).</summary>
    public static IReadOnlyCollection<string> Files => Assets.Value.Keys;

    private static IResult Serve(HttpContext context, string name)
    {
        if (!Assets.Value.TryGetValue(name, out var bytes)) return Results.NotFound();
        var headers = context.Response.Headers;
        // Everything the page loads comes from this node; its images are blobs it fetched with the token.
        headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
            + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // The files change with the node's version only: revalidating each load keeps an upgraded node's page consistent.
        headers.CacheControl = "no-cache";
        return Results.Bytes(bytes, ContentType(name));
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private static FrozenDictionary<string, byte[]> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource[Prefix.Length..]] = copy.ToArray();
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
