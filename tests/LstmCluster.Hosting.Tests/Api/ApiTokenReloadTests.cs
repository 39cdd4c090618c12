using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using LstmCluster.Hosting.Api;
using LstmCluster.Hosting.Node;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>
/// Tokens that change while the API runs (the <c>--api-tokens</c> file followed), and the audit lines: who changed what, who was
/// refused, by token name, never by secret.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ApiTokenReloadTests : IDisposable
{
    private const string First = "first-token-0123456789abcdef";
    private const string Rotated = "rotated-token-0123456789abcd";
    private const string Ops = "ops-token-0123456789abcdefgh";
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-tokens-").FullName;
    private readonly LogLines logs = new();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static async Task<HttpStatusCode> Jobs(ApiHost host, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "jobs");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await host.Http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Replaces the file at once (a new file moved over it), as an operator's tooling or a secret update does.</summary>
    private static void Replace(string file, string text)
    {
        File.WriteAllText(file + ".new", text);
        File.Move(file + ".new", file, overwrite: true);
    }

    /// <summary>Waits for what the reloader does; the deadline only bounds a broken run.</summary>
    private static async Task Until(Func<bool> reached, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!reached())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within 30 s: {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_changed_tokens_file_takes_effect_without_a_restart_and_a_broken_or_missing_one_changes_nothing()
    {
        string file = Path.Combine(dir, "tokens");
        File.WriteAllText(file, $"ci submit {First}\n");
        await using var host = await ApiHost.Start(new JobApiOptions
        {
            Tokens = ApiTokens.Load(file), TokensFile = new ApiTokensFile(file, ApiTokens.None), TokensReloadInterval = TimeSpan.FromMilliseconds(50),
        }, logs: logs);
        var source = host.Services.GetRequiredService<ApiTokenSource>();
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, First));
        Assert.Equal(HttpStatusCode.Unauthorized, await Jobs(host, Rotated));

        // Rotated: ci's secret changes and a token is added. The old secret stops working at once.
        Replace(file, $"ci submit {Rotated}\nops admin {Ops}\n");
        await Until(() => source.Reloads == 1, "the rotated file taken");
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, Rotated));
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, Ops));
        Assert.Equal(HttpStatusCode.Unauthorized, await Jobs(host, First));
        Assert.Contains($"API tokens reloaded from {file}: 2 tokens; added [ops], removed [], changed [ci]", logs.Text);
        Assert.DoesNotContain(Rotated, logs.Text);

        // A file that does not parse, then no file at all: the tokens before it stay.
        Replace(file, $"ci superuser {Rotated}\n");
        await Until(() => source.LastRefusal?.Contains("unknown role 'superuser'", StringComparison.Ordinal) == true, "the broken file refused");
        Assert.Contains($"The API tokens file is not taken: {file}:1: unknown role 'superuser'", logs.Text);
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, Ops));
        File.Delete(file);
        await Until(() => source.LastRefusal?.StartsWith("cannot read the API tokens file", StringComparison.Ordinal) == true, "the missing file noticed");
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, Rotated));

        // Taken away: ops is gone from the file, and with it from the API.
        Replace(file, $"ci submit {Rotated}\n");
        await Until(() => source.Reloads == 2, "the file without ops taken");
        Assert.Equal(HttpStatusCode.Unauthorized, await Jobs(host, Ops));
        Assert.Equal(HttpStatusCode.OK, await Jobs(host, Rotated));
        Assert.Null(source.LastRefusal);
    }

    [Fact]
    public async Task Changes_and_refusals_are_audited_by_token_name_and_reads_are_not()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { Tokens = ApiSecurityTests.Tokens }, logs: logs);
        using (var read = new HttpRequestMessage(HttpMethod.Get, "jobs"))
        {
            read.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.ReadToken);
            using var response = await host.Http.SendAsync(read);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (var anonymous = await host.Http.GetAsync("jobs"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var cancel = new HttpRequestMessage(HttpMethod.Delete, "jobs/job-41"))
        {
            cancel.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.ReadToken);
            using var response = await host.Http.SendAsync(cancel);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
        using (var cancel = new HttpRequestMessage(HttpMethod.Delete, "jobs/job-41"))
        {
            cancel.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.AliceToken);
            using var response = await host.Http.SendAsync(cancel);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        // Each line is written after its answer has gone out, so the client may read the answer first: wait for the lines.
        List<(LogLevel, string)> Audit() => [.. logs.Lines.Where(l => l.Category == ApiSecurity.AuditCategory).Select(l => (l.Level, l.Message))];
        await Until(() => Audit().Count >= 3, "three audit lines");
        var audit = Audit();
        Assert.Equal(
        [
            (LogLevel.Warning, "GET /jobs by no accepted token, from 127.0.0.1: 401"),
            (LogLevel.Warning, "DELETE /jobs/job-41 by token 'viewer' (read): 403"),
            (LogLevel.Information, "DELETE /jobs/job-41 by token 'alice' (submit): 404"),
        ], audit);
    }

    [Fact]
    public async Task A_node_follows_its_tokens_file_and_keeps_its_single_token_beside_it()
    {
        string file = Path.Combine(dir, "tokens");
        File.WriteAllText(file, $"ci submit {First}\n");
        var options = new NodeOptions { Host = "127.0.0.1", Port = 0, HttpPort = TestNodes.FreePort(), StateDir = Path.Combine(dir, "state"), ApiTokensFile = file, ApiToken = Ops };
        await using var app = NodeHost.Build(options);
        var api = app.Services.GetRequiredService<JobApiOptions>();
        Assert.Equal(file, api.TokensFile!.Path);
        Assert.Equal(["admin"], api.TokensFile.Beside.Tokens.Select(t => t.Name));
        Assert.Equal(["admin", "ci"], api.Tokens.Tokens.Select(t => t.Name));
    }

    /// <summary>Log lines kept in memory, for the assertions above.</summary>
    private sealed class LogLines : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, LogLevel Level, string Message)> lines = new();

        public IEnumerable<(string Category, LogLevel Level, string Message)> Lines => lines;

        public string Text => string.Join("\n", lines.Select(l => l.Message));

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
