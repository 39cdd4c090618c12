namespace LstmCluster.Cluster.Tests;

/// <summary>Finds files of the repository from the test's output directory.</summary>
public static class RepoPaths
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException($"no LstmCluster.sln above {AppContext.BaseDirectory}");
        }
    }

    public static string Sample(string name) => Path.Combine(Root, "samples", name);

    /// <summary>The `lstmcluster` executable built beside these tests (same configuration: bin/&lt;Configuration&gt;/net10.0).</summary>
    public static string Lstmcluster
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            string exe = Path.Combine(Root, "src", "LstmCluster.Cli", "bin", configuration, "net10.0", "lstmcluster");
            return File.Exists(exe) ? exe : throw new FileNotFoundException($"{exe} is not built");
        }
    }
}
