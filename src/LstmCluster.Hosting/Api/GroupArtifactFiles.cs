using LstmCluster.Core.Forecasting;
using LstmCluster.Reporting;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The coordinator's <see cref="LstmCluster.Actors.Jobs.GroupWriter"/>: the files <c>lstmcluster train --symbol all</c>
/// writes beside its members' folders (summary.json, series.csv, forecast.csv with a symbol column, grid.png), rendered
/// into a private temporary directory and returned by name. Each member's own files stay with its job.
/// </summary>
public static class GroupArtifactFiles
{
    public static IReadOnlyDictionary<string, byte[]> Write(GroupSummary summary, string strategy)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var dir = Directory.CreateTempSubdirectory("lstmcluster-group-").FullName;
        try
        {
            var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in GroupOutputs.Write(dir, summary, strategy)) files[name] = File.ReadAllBytes(Path.Combine(dir, name));
            return files;
        }
        finally
        {
            try
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless; the files are already in memory.
            }
        }
    }
}
