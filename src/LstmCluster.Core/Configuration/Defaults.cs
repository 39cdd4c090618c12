using System.Text.Json;

namespace LstmCluster.Core.Configuration;

/// <summary>
/// Option defaults from <c>config/lstmcluster.json</c> next to the executable (or the file named by
/// <c>LSTMCLUSTER_CONFIG</c>), so operators change defaults without rebuilding. The CLI and the HTTP job API read the same file. A missing key
/// falls back to the value compiled in here, which matches the shipped file.
/// </summary>
public sealed class Defaults
{
    private readonly JsonElement train;

    private Defaults(JsonElement train) => this.train = train;

    /// <summary>The config file in use: <c>LSTMCLUSTER_CONFIG</c>, else config/lstmcluster.json next to the executable.</summary>
    public static string ConfigPath => Environment.GetEnvironmentVariable("LSTMCLUSTER_CONFIG")
        ?? Path.Combine(AppContext.BaseDirectory, "config", "lstmcluster.json");

    public static Defaults Load()
    {
        var path = ConfigPath;
        if (!File.Exists(path)) return new Defaults(default);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
            return new Defaults(doc.RootElement.TryGetProperty("train", out var t) ? t.Clone() : default);
        }
        catch (JsonException ex)
        {
            throw new ConfigException($"config file {path} is not valid JSON: {ex.Message}");
        }
    }

    public int Int(string key, int fallback) => Get(key, e => e.GetInt32(), fallback);
    public long Long(string key, long fallback) => Get(key, e => e.GetInt64(), fallback);
    public double Double(string key, double fallback) => Get(key, e => e.GetDouble(), fallback);
    public string String(string key, string fallback) => Get(key, e => e.GetString() ?? fallback, fallback);

    /// <summary>The key's value as text whatever its JSON type (a number or a word such as "auto").</summary>
    public string Text(string key, string fallback) => Get(key, e => e.ValueKind == JsonValueKind.String ? e.GetString() ?? fallback : e.GetRawText(), fallback);

    public T Get<T>(string key, Func<JsonElement, T> read, T fallback)
    {
        if (train.ValueKind != JsonValueKind.Object || !train.TryGetProperty(key, out var value)) return fallback;
        try { return read(value); }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            throw new ConfigException($"config key train.{key} has the wrong type ({value})");
        }
    }
}

/// <summary>The config file is unreadable or a key has the wrong type (bad input: the CLI exits 2).</summary>
public sealed class ConfigException(string message) : ArgumentException(message);
