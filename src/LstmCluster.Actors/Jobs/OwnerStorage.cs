using System.Globalization;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// What one owner's jobs and groups hold in the <see cref="JobStore"/>, for <see cref="JobBudget.MaxStoredBytesPerOwner"/>.
/// Counted from the disk when a submission asks, not journaled: the files are the truth, and a job's outputs and
/// checkpoints are written by its runner, not by the coordinator. The folder of a job or group that has ended no longer
/// changes, so it is counted once and remembered until it is deleted; an open one (an upload, a checkpoint: a few files)
/// is counted each time.
/// </summary>
internal sealed class OwnerStorage(JobStore store)
{
    private readonly Dictionary<string, long> settled = [];

    /// <summary>Bytes the folders hold together, each given by its job's or group's id and whether it has ended.</summary>
    public long Of(IEnumerable<(string Id, bool Ended)> folders)
    {
        long bytes = 0;
        foreach (var (id, ended) in folders)
        {
            if (ended && settled.TryGetValue(id, out long known))
            {
                bytes += known;
                continue;
            }
            long size = store.Size(id);
            if (ended) settled[id] = size;
            bytes += size;
        }
        return bytes;
    }

    /// <summary>The folder was deleted (or is about to be): count it again should its id come back.</summary>
    public void Forget(string id) => settled.Remove(id);

    /// <summary>Bytes for a person: KB below a megabyte, MB below a gigabyte (of 1,024, as <c>--max-stored-mb-per-owner</c> counts), GB above.</summary>
    public static string Text(long bytes) => bytes switch
    {
        < 1L << 20 => (bytes / 1024.0).ToString("N1", CultureInfo.InvariantCulture) + " KB",
        < 1L << 30 => (bytes / 1048576.0).ToString("N2", CultureInfo.InvariantCulture) + " MB",
        _ => (bytes / 1073741824.0).ToString("N2", CultureInfo.InvariantCulture) + " GB",
    };
}
