using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The job API's roles, each including the ones before it: <c>read</c> lists and reads jobs and their files; <c>submit</c>
/// also submits, and cancels or deletes its own jobs; <c>admin</c> does everything, to any job.
/// </summary>
public static class ApiRoles
{
    public const string Read = "read";
    public const string Submit = "submit";
    public const string Admin = "admin";

    public static readonly string[] All = [Read, Submit, Admin];

    /// <summary><paramref name="role"/> and every role it includes.</summary>
    public static string[] Granted(string role) => All[..(Array.IndexOf(All, role) + 1)];
}

/// <summary>One accepted bearer token: its name (who, as a job's owner), its role, and the SHA-256 of its secret (never the secret).</summary>
public sealed record ApiToken(string Name, string Role, byte[] Hash);

/// <summary>
/// The bearer tokens a job API accepts. Empty: the API is open (no token asked for, every caller an admin), which a node
/// allows only on a loopback address or with <c>--insecure-api</c>.
/// </summary>
/// <remarks>
/// A tokens file has one token a line, <c>name role token</c> separated by blanks; <c>#</c> starts a comment, blank lines are
/// skipped. Names are letters, digits, <c>.</c>, <c>_</c> and <c>-</c>; roles <c>read</c>, <c>submit</c> or <c>admin</c>;
/// tokens at least <see cref="MinimumLength"/> characters without blanks (<c>openssl rand -hex 32</c>). Names and tokens are unique.
/// </remarks>
public sealed partial class ApiTokens
{
    /// <summary>Shorter tokens are refused: a token is a password that no rate limit alone protects.</summary>
    public const int MinimumLength = 16;

    /// <summary>The name the single <c>--api-token</c> goes by (as a job's owner).</summary>
    public const string SingleTokenName = "admin";

    private readonly ApiToken[] tokens;

    private ApiTokens(ApiToken[] tokens) => this.tokens = tokens;

    public static ApiTokens None { get; } = new([]);

    public bool IsEmpty => tokens.Length == 0;

    public IReadOnlyList<ApiToken> Tokens => tokens;

    /// <summary>The token with role admin that <c>--api-token</c> gives.</summary>
    public static ApiTokens Single(string token) => new([Make(SingleTokenName, ApiRoles.Admin, Checked(token.Trim(), "--api-token (LSTMCLUSTER_API_TOKEN)"))]);

    /// <summary>Reads a tokens file (see the remarks); a problem names the file and line.</summary>
    public static ApiTokens Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{path}: cannot read the API tokens file: {e.Message}");
        }
        return Parse(text, path);
    }

    public static ApiTokens Parse(string text, string source)
    {
        var list = new List<ApiToken>();
        int number = 0;
        foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            number++;
            string line = raw.Split('#', 2)[0].Trim();
            if (line.Length == 0) continue;
            string where = $"{source}:{number}";
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 3) throw new ArgumentException($"{where}: expected 'name role token' ({fields.Length} fields)");
            var (name, role, token) = (fields[0], fields[1].ToLowerInvariant(), fields[2]);
            if (!NamePattern().IsMatch(name)) throw new ArgumentException($"{where}: a token name is letters, digits, '.', '_' and '-' (got '{Bounded(name)}')");
            if (!ApiRoles.All.Contains(role)) throw new ArgumentException($"{where}: unknown role '{Bounded(fields[1])}' (roles: {string.Join(", ", ApiRoles.All)})");
            var made = Make(name, role, Checked(token, where));
            if (list.Any(t => t.Name == name)) throw new ArgumentException($"{where}: the name '{name}' is given twice");
            // The secret itself is never quoted.
            if (list.Any(t => t.Hash.AsSpan().SequenceEqual(made.Hash))) throw new ArgumentException($"{where}: this token is also given to another name");
            list.Add(made);
        }
        if (list.Count == 0) throw new ArgumentException($"{source}: no tokens in the API tokens file (one 'name role token' a line)");
        return new ApiTokens([.. list]);
    }

    /// <summary>Both sets, as a node given <c>--api-token</c> and <c>--api-tokens</c> accepts them.</summary>
    public ApiTokens With(ApiTokens other)
    {
        foreach (var t in other.tokens)
        {
            if (tokens.Any(m => m.Name == t.Name)) throw new ArgumentException($"the API token name '{t.Name}' is given twice (--api-token is named '{SingleTokenName}')");
            if (tokens.Any(m => m.Hash.AsSpan().SequenceEqual(t.Hash))) throw new ArgumentException($"the API token named '{t.Name}' is also given to another name");
        }
        return new ApiTokens([.. tokens, .. other.tokens]);
    }

    /// <summary>
    /// The token <paramref name="presented"/> matches, or null. Compares SHA-256 digests in constant time against every token,
    /// without stopping at a match, so neither the time taken nor which comparison answered tells anything about the secrets.
    /// </summary>
    public ApiToken? Find(string presented)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        ApiToken? found = null;
        foreach (var t in tokens)
            if (CryptographicOperations.FixedTimeEquals(hash, t.Hash)) found = t;
        return found;
    }

    private static ApiToken Make(string name, string role, string token) => new(name, role, SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Checked(string token, string where)
    {
        if (token.Length < MinimumLength)
            throw new ArgumentException($"{where}: an API token must be at least {MinimumLength} characters (e.g. openssl rand -hex 32)");
        if (token.Any(char.IsWhiteSpace) || token.Any(char.IsControl)) throw new ArgumentException($"{where}: an API token has no blanks or control characters");
        return token;
    }

    private static string Bounded(string text) => text.Length <= 40 ? text : text[..40] + "...";

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}
