using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using LstmCluster.Contracts;
using LstmCluster.Cli.Tests;
using LstmCluster.Hosting.Api;
using LstmCluster.Hosting.Node;
using static LstmCluster.Hosting.Tests.Node.NodeOptionInput;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// A node's job API options: tokens from the flag, the environment or a file; a job API beyond loopback needs a token or
/// <c>--insecure-api</c>; host names, CORS origins and rate limits as options.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NodeApiSecurityTests : IDisposable
{
    private const string Token = "node-token-0123456789abcdef";
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-auth-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public void A_job_api_beyond_loopback_without_a_token_exits_2_with_one_line_before_anything_starts()
    {
        int http = FreePort();
        var r = CliRunner.Run("node", "--roles", "coordinator", "--host", "0.0.0.0", "--port", "0", "--http-port", $"{http}", "--state-dir", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: the job API would listen on 0.0.0.0:{http}, beyond loopback, with no token: give --api-token TOKEN "
            + "(or LSTMCLUSTER_API_TOKEN) or --api-tokens FILE, or --insecure-api to serve it open to anyone who reaches the port", r.Error.Trim());
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("127.0.0.1", "coordinator", 5080, true)]
    [InlineData("localhost", "coordinator", 5080, true)]
    [InlineData("::1", "coordinator", 5080, true)]
    [InlineData("0.0.0.0", "worker", 5080, true)]   // health only: no job API to protect
    [InlineData("0.0.0.0", "coordinator", 0, true)]  // no HTTP port
    [InlineData("0.0.0.0", "coordinator", 5080, false)]
    [InlineData("::", "coordinator", 5080, false)]
    [InlineData("10.1.2.3", "coordinator", 5080, false)]
    public void Only_a_job_api_beyond_loopback_needs_a_token(string host, string roles, int http, bool allowed)
    {
        var options = new NodeOptions { Host = host, Roles = [roles], Port = 0, HttpPort = http == 0 ? 0 : FreePort(), StateDir = dir };
        if (!allowed)
        {
            Assert.Contains("--insecure-api", Assert.Throws<UnprotectedApiException>(() => NodeHost.Build(options)).Message);
            return;
        }
        // Built, not started; a machine without IPv6 may refuse ::1's port probe, which is not what this test is about.
        var outcome = Record.Exception(() => NodeHost.Build(options).DisposeAsync().AsTask().GetAwaiter().GetResult());
        Assert.IsNotType<UnprotectedApiException>(outcome);
    }

    [Fact]
    public async Task With_insecure_api_a_node_on_every_address_starts_and_serves_health_to_any_host_name()
    {
        int http = FreePort();
        var options = new NodeOptions
        {
            Host = "0.0.0.0", PublicHost = "127.0.0.1", Roles = ["coordinator"], Port = 0, HttpPort = http, StateDir = dir, InsecureApi = true,
        };
        await using var app = NodeHost.Build(options);
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
            var health = new HttpRequestMessage(HttpMethod.Get, "health");
            health.Headers.Host = "10.9.8.7";   // a probe calling by address
            using (var response = await client.SendAsync(health))
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var jobs = new HttpRequestMessage(HttpMethod.Get, "jobs");
            jobs.Headers.Host = "rebound.example";
            using (var response = await client.SendAsync(jobs))
                Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task A_node_with_a_token_starts_beyond_loopback_and_asks_for_the_token()
    {
        int http = FreePort();
        var options = NodeOptions.Resolve(Flags(("roles", "coordinator"), ("host", "0.0.0.0"), ("public-host", "127.0.0.1"), ("port", "0"),
            ("http-port", $"{http}"), ("state-dir", dir)), Env(("LSTMCLUSTER_API_TOKEN", Token)), null);
        await using var app = NodeHost.Build(options);
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
            using (var response = await client.GetAsync("jobs"))
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            using (var response = await client.GetAsync("health"))
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var withToken = new HttpRequestMessage(HttpMethod.Get, "jobs/job-1");
            withToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using (var response = await client.SendAsync(withToken))
                // Past the token check: the coordinator answers (404) once the singleton is up, or the API says it is not yet (503).
                Assert.Contains(response.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable });
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public void Tokens_come_from_the_flag_the_environment_or_a_file_and_a_flag_wins()
    {
        string file = Path.Combine(dir, "tokens");
        File.WriteAllText(file, $"ci submit {Token}-ci\nops admin {Token}-ops\n");
        var fromEnv = NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_API_TOKEN", Token), ("LSTMCLUSTER_API_TOKENS", file)), null);
        Assert.Equal(Token, fromEnv.ApiToken);
        Assert.Equal(file, fromEnv.ApiTokensFile);
        var tokens = NodeHost.ApiTokensOf(fromEnv);
        Assert.Equal(["admin", "ci", "ops"], tokens.Tokens.Select(t => t.Name));
        Assert.Equal("admin", tokens.Find(Token)?.Role);
        Assert.Equal("submit", tokens.Find(Token + "-ci")?.Role);

        var flag = NodeOptions.Resolve(Flags(("api-token", Token + "-flag")), Env(("LSTMCLUSTER_API_TOKEN", Token)), null);
        Assert.Equal(Token + "-flag", flag.ApiToken);
        Assert.True(NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_INSECURE_API", "true")), null).InsecureApi);
        Assert.False(NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_INSECURE_API", "")), null).InsecureApi);

        var e = Assert.ThrowsAny<ArgumentException>(() => NodeHost.ApiTokensOf(NodeOptions.Resolve(Flags(("api-token", "short")), Env(), null)));
        Assert.Equal("--api-token (LSTMCLUSTER_API_TOKEN): an API token must be at least 16 characters (e.g. openssl rand -hex 32)", e.Message);
        var missing = Assert.ThrowsAny<ArgumentException>(() => NodeHost.ApiTokensOf(NodeOptions.Resolve(Flags(("api-tokens", Path.Combine(dir, "none"))), Env(), null)));
        Assert.StartsWith($"{Path.Combine(dir, "none")}: cannot read the API tokens file", missing.Message);
    }

    [Fact]
    public void Host_names_cors_origins_and_rate_limits_are_node_options()
    {
        var defaults = NodeOptions.Resolve(Flags(("host", "10.1.2.3"), ("public-host", "api.internal")), Env(), null);
        Assert.Null(defaults.AllowedHosts);
        Assert.Equal(["localhost", "127.0.0.1", "[::1]", "10.1.2.3", "api.internal"], defaults.DefaultAllowedHosts());
        Assert.Empty(defaults.CorsOrigins);
        Assert.Equal((20.0, 30.0), (defaults.RateLimit, defaults.SubmitRateLimit));

        var set = NodeOptions.Resolve(Flags(("allowed-hosts", "api.example.com, *.example.org"), ("cors-origins", "https://app.example.com/"),
            ("rate-limit", "5"), ("submit-rate-limit", "0")), Env(), null);
        Assert.Equal(["api.example.com", "*.example.org"], set.AllowedHosts!);
        Assert.Equal(["https://app.example.com"], set.CorsOrigins);
        Assert.Equal((5.0, 0.0), (set.RateLimit, set.SubmitRateLimit));

        Assert.Contains("is not an origin like https://app.example.com",
            Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(("cors-origins", "https://app.example.com/page")), Env(), null)).Message);
        Assert.Contains("rate-limit must be a number (got 'fast')",
            Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(("rate-limit", "fast")), Env(), null)).Message);
        Assert.Contains("insecure-api must be true or false",
            Assert.ThrowsAny<ArgumentException>(() => NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_INSECURE_API", "maybe")), null)).Message);
    }
}

/// <summary>The tokens file: its format, and what it refuses.</summary>
public sealed class ApiTokensTests
{
    [Fact]
    public void A_tokens_file_has_one_name_role_token_a_line_with_comments_and_blank_lines()
    {
        var tokens = ApiTokens.Parse("""
            # who     role     token
            ci        submit   ci-0123456789abcdef    # the build

            Dashboard READ     dash-0123456789abcdef
            """, "t");
        Assert.Equal([("ci", "submit"), ("Dashboard", "read")], tokens.Tokens.Select(t => (t.Name, t.Role)));
        Assert.Equal("Dashboard", tokens.Find("dash-0123456789abcdef")?.Name);
        Assert.Null(tokens.Find("dash-0123456789abcde"));
        Assert.Null(tokens.Find(""));
        Assert.Equal(["read", "submit"], ApiRoles.Granted("submit"));
        Assert.Equal(["read", "submit", "admin"], ApiRoles.Granted("admin"));
    }

    [Theory]
    [InlineData("a read", "t:1: expected 'name role token' (2 fields)")]
    [InlineData("a writer 0123456789abcdef", "t:1: unknown role 'writer' (roles: read, submit, admin)")]
    [InlineData("a read short", "t:1: an API token must be at least 16 characters")]
    [InlineData("a/b read 0123456789abcdef", "t:1: a token name is letters, digits")]
    [InlineData("a read 0123456789abcdef\nb read 0123456789abcdef", "t:2: this token is also given to another name")]
    [InlineData("a read 0123456789abcdef\na admin 0123456789abcdeX", "t:2: the name 'a' is given twice")]
    [InlineData("# nothing\n", "t: no tokens in the API tokens file")]
    public void A_bad_tokens_file_is_refused_naming_the_line_and_never_the_secret(string text, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => ApiTokens.Parse(text, "t"));
        Assert.StartsWith(reason, e.Message);
        Assert.DoesNotContain("0123456789abcdef", e.Message);
    }
}
