namespace LstmCluster.Core.Tests;

/// <summary>
/// Finds files of the repository from the test assembly, which runs from bin/ at a depth that
/// depends on configuration and framework: walking up to the solution file avoids hard-coding it.
/// </summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> root = new(FindRoot);

    public static string Root => root.Value;

    /// <summary>A file shipped in samples/.</summary>
    public static string Sample(string name) => Path.Combine(Root, "samples", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no LstmCluster.sln above {AppContext.BaseDirectory}");
    }
}
