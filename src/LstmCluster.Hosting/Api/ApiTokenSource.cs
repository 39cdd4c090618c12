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

    /// <summary>Why the file's last content was not taken (the tokens before it kept), or null once a content was taken.</summary>
    public string? LastRefusal => Volatile.Read(ref refusal);

    /// <summary>How many times a changed file replaced the tokens.</summary>
    public int Reloads => Volatile.Read(ref reloads);

    internal void Replace(ApiTokens tokens)
    {
        Volatile.Write(ref current, tokens);
        Volatile.Write(ref refusal, null);
        Interlocked.Increment(ref reloads);
    }

    internal void Refuse(string why) => Volatile.Write(ref refusal, why);
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
        // The file as the node read it at start: no digest yet, so the first check compares tokens and says nothing if they are the same.
        byte[]? seen = null, pending = null;
        bool unreadable = false;
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
                string why = $"cannot read the API tokens file {file.Path}: {e.Message.TrimEnd('.')}";
                source.Refuse(why);
                if (!unreadable) log.LogError("{Problem}; the {Count} tokens before it stay accepted", why, source.Current.Tokens.Count);
                unreadable = true;
                continue;
            }
            unreadable = false;
            var digest = SHA256.HashData(bytes);
            if (seen is not null && digest.AsSpan().SequenceEqual(seen)) continue;
            if (pending is null || !digest.AsSpan().SequenceEqual(pending))
            {
                pending = digest;
                continue;
            }
            seen = digest;
            ApiTokens next;
            try
            {
                next = file.Beside.With(ApiTokens.Parse(System.Text.Encoding.UTF8.GetString(bytes), file.Path));
            }
            catch (ArgumentException e)
            {
                source.Refuse(e.Message);
                log.LogError("The API tokens file changed and is refused: {Problem}; the {Count} tokens before it stay accepted", e.Message, source.Current.Tokens.Count);
                continue;
            }
            var (added, removed, changed) = Differences(source.Current, next);
            if (added.Count + removed.Count + changed.Count == 0) continue;
            source.Replace(next);
            log.LogInformation("API tokens reloaded from {File}: {Count} tokens; added [{Added}], removed [{Removed}], changed [{Changed}]",
                file.Path, next.Tokens.Count, string.Join(", ", added), string.Join(", ", removed), string.Join(", ", changed));
        }
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
