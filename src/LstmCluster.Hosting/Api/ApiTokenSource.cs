using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LstmCluster.Hosting.Api;

/// <summary>A tokens file the job API follows (<c>--api-tokens</c>): its tokens, with <see cref="Beside"/>'s, are the accepted ones.</summary>
/// <param name="Path">The file, reread when its content changes.</param>
/// <param name="Beside">Tokens that do not come from the file (<c>--api-token</c>'s), kept across rereads.</param>
public sealed record ApiTokensFile(string Path, ApiTokens Beside);

/// <summary>
/// The tokens the job API accepts now: <see cref="JobApiOptions.Tokens"/> at start, then, with a <see cref="JobApiOptions.TokensFile"/>,
/// whatever that file says after each change (<see cref="ApiTokensReloader"/>), so tokens are added, taken away or rotated without
/// restarting the coordinator. A file that no longer reads or parses changes nothing: the tokens before it stay.
/// </summary>
public sealed class ApiTokenSource(ApiTokens initial)
{
    private ApiTokens current = initial;
    private string? refusal;
    private int reloads;

    public ApiTokens Current => Volatile.Read(ref current);

    /// <summary>Why the file as it is now is not in force (it cannot be read, or its content does not parse; the tokens before it kept), or null.</summary>
    public string? LastRefusal => Volatile.Read(ref refusal);

    /// <summary>How many times a changed file replaced the tokens.</summary>
    public int Reloads => Volatile.Read(ref reloads);

    internal void Replace(ApiTokens tokens)
    {
        Volatile.Write(ref current, tokens);
        Volatile.Write(ref refusal, null);
        Interlocked.Increment(ref reloads);
    }

    internal void Refuse(string? why) => Volatile.Write(ref refusal, why);
}

/// <summary>
/// Rereads the job API's tokens file when its content changes (checked every <see cref="JobApiOptions.TokensReloadInterval"/>:
/// a digest of the bytes, so an editor's save, a <c>mv</c> over it and a Kubernetes secret's symlink swap are all seen) and logs
/// which token names were added, removed or changed, never a secret. A new content is taken once two looks in a row read
/// it: a file caught half written (an editor writing in place) could otherwise drop the tokens of its missing lines.
/// </summary>
internal sealed class ApiTokensReloader(ApiTokenSource source, JobApiOptions options, ILogger<ApiTokensReloader> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var file = options.TokensFile!;
        // The digest of the content in force (none yet: the first content read is compared token by token, and says nothing
        // if it is the one the node started with), and of a new content seen once, waiting for a second look.
        byte[]? inForce = null, pending = null;
        using var timer = new PeriodicTimer(options.TokensReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(file.Path, stoppingToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Report($"cannot read the API tokens file {file.Path}: {e.Message.TrimEnd('.')}");
                continue;
            }
            var digest = SHA256.HashData(bytes);
            if (inForce is not null && digest.AsSpan().SequenceEqual(inForce))
            {
                Report(null);
                pending = null;
                continue;
            }
            if (pending is null || !digest.AsSpan().SequenceEqual(pending))
            {
                pending = digest;
                continue;
            }
            ApiTokens next;
            try
            {
                next = file.Beside.With(ApiTokens.Parse(System.Text.Encoding.UTF8.GetString(bytes), file.Path));
            }
            catch (ArgumentException e)
            {
                Report(e.Message);
                continue;
            }
            inForce = digest;
            Report(null);
            var (added, removed, changed) = Differences(source.Current, next);
            if (added.Count + removed.Count + changed.Count == 0) continue;
            // Logged before it is published: whoever sees the new tokens in force (a test, a health probe) finds the line too.
            log.LogInformation("API tokens reloaded from {File}: {Count} tokens; added [{Added}], removed [{Removed}], changed [{Changed}]",
                file.Path, next.Tokens.Count, string.Join(", ", added), string.Join(", ", removed), string.Join(", ", changed));
            source.Replace(next);
        }
    }

    /// <summary>Why the file as it is now is not taken (null: it is the one in force); logged once per new reason, not at every look.</summary>
    private void Report(string? problem)
    {
        if (problem == source.LastRefusal) return;
        // Logged before the refusal is published, as a reload is (a refusal seen without its line failed a clean-clone CI).
        if (problem is not null)
            log.LogError("The API tokens file is not taken: {Problem}; the {Count} tokens before it stay accepted", problem, source.Current.Tokens.Count);
        source.Refuse(problem);
    }

    /// <summary>Token names added, removed, and kept with another role or secret.</summary>
    internal static (List<string> Added, List<string> Removed, List<string> Changed) Differences(ApiTokens before, ApiTokens after)
    {
        var old = before.Tokens.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var now = after.Tokens.ToDictionary(t => t.Name, StringComparer.Ordinal);
        return (
            [.. now.Keys.Where(n => !old.ContainsKey(n)).Order(StringComparer.Ordinal)],
            [.. old.Keys.Where(n => !now.ContainsKey(n)).Order(StringComparer.Ordinal)],
            [.. now.Values.Where(t => old.TryGetValue(t.Name, out var o) && (o.Role != t.Role || !o.Hash.AsSpan().SequenceEqual(t.Hash))).Select(t => t.Name).Order(StringComparer.Ordinal)]);
    }
}
