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
}
