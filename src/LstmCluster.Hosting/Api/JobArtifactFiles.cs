using LstmCluster.Core.Forecasting;
using LstmCluster.Reporting;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The coordinator's <see cref="LstmCluster.Actors.Jobs.ArtifactWriter"/>: the files <c>lstmcluster train</c>
/// writes into <c>--out</c> (metrics.json, forecast.csv, test_predictions.csv, forecast.png, loss.png, model/...),
/// rendered into a private temporary directory and returned by relative name ('/' separated).
/// </summary>
public static class JobArtifactFiles
{
    public static IReadOnlyDictionary<string, byte[]> Write(RunOptions options, RunResult result, string engine, Actors.Embedded.EngineStats? figures = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(result);
        // Uploaded data sits in a private temp file and a server-side path is nobody's business:
        // the files name the data by its file name only.
        var labelled = options with { Data = options.Data with { Path = Path.GetFileName(options.Data.Path) } };
        // A new private folder (mode 0700, made by mkdtemp): a model and a forecast are nobody else's to read on a shared machine.
        var dir = Directory.CreateTempSubdirectory("lstmcluster-artifacts-").FullName;
        try
        {
            RunOutputs.Write(dir, result, labelled, engine, writeModel: true,
                extra: figures is null ? null : new System.Text.Json.Nodes.JsonObject { ["engine"] = figures.ToJson() });
            var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
                files[Path.GetRelativePath(dir, file).Replace(Path.DirectorySeparatorChar, '/')] = File.ReadAllBytes(file);
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
