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
}
