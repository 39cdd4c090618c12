namespace LstmCluster.Core.Data;

/// <summary>
/// Bad input data: names the file, the line (1-based, counting the header as line 1) when one
/// line is to blame, and the problem. The CLI prints <see cref="Exception.Message"/> and exits 2.
/// </summary>
public sealed class DataException : Exception
{
    public DataException(string file, int? line, string problem)
        : base(line is { } l ? $"{file}:{l}: {problem}" : $"{file}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    public string File { get; }
    public int? Line { get; }
    public string Problem { get; }

    /// <summary>The most of one cell a message quotes: enough to recognise it, never a flood.</summary>
    public const int ExcerptLength = 40;

    /// <summary>
    /// A cell as a message quotes it: in single quotes, at most <see cref="ExcerptLength"/> characters (then its
    /// length is said), control characters as '?', so the message stays one line whatever the file holds.
    /// </summary>
    public static string Quote(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int keep = text.Length <= ExcerptLength ? text.Length : ExcerptLength;
        // Never cut a surrogate pair in half.
        if (keep < text.Length && char.IsHighSurrogate(text[keep - 1])) keep--;
        var excerpt = string.Create(keep, text, (span, t) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = char.IsControl(t[i]) ? '?' : t[i];
        });
        return keep == text.Length
            ? $"'{excerpt}'"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"'{excerpt}...' ({text.Length:N0} characters)");
    }
}
