namespace LstmCluster.Reporting;

/// <summary>An output location that cannot be written: the CLI prints the message and exits 2, before any work is done.</summary>
public sealed class OutputPathException(string message) : Exception(message);

/// <summary>
/// Where commands write. Checked before the work (a training run is not thrown away because its output path
/// is a file), and written through a temporary name and a rename, so a failure leaves either the old files
/// or the new ones, never half of a run.
/// </summary>
public static class OutputPaths
{
    /// <summary>
    /// Throws <see cref="OutputPathException"/> unless <paramref name="directory"/> is an existing directory or can be
    /// created: it must not be a file, nor lie under one, and the folder it goes into must be writable.
    /// </summary>
    public static void CheckDirectory(string directory, string option = "--out")
    {
        string full = Full(directory, option);
        if (File.Exists(full)) throw new OutputPathException($"{option} {directory}: is a file, not a directory");
        string existing = CheckAncestors(full, directory, option);
        Probe(Directory.Exists(full) ? full : existing, directory, option);
    }

    /// <summary>
    /// Throws <see cref="OutputPathException"/> unless <paramref name="path"/> can be written as a file: not a directory,
    /// not under a file, and not an existing file unless <paramref name="force"/>.
    /// </summary>
    public static void CheckFile(string path, bool force, string option = "--out")
    {
        string full = Full(path, option);
        if (Directory.Exists(full))
            throw new OutputPathException($"{option} {path}: is a directory; give a file name, e.g. {Path.Combine(path, "forecast.csv")}");
        if (File.Exists(full) && !force)
            throw new OutputPathException($"{option} {path}: the file exists; add --force to overwrite it");
        Probe(CheckAncestors(full, path, option), path, option);
    }

    /// <summary>Writes a file through a temporary name in the same folder and a rename: readers see the old file or the whole new one.</summary>
    public static void WriteFile(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.partial-{Guid.NewGuid():N}");
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Fills a fresh staging folder next to <paramref name="directory"/> with <paramref name="write"/>, then moves it into
    /// place: renamed as a whole when <paramref name="directory"/> does not exist yet, entry by entry (each a rename) over an
    /// existing one. Nothing of a write that fails is left behind.
    /// </summary>
    public static void WriteDirectory(string directory, Action<string> write)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string parent = Path.GetDirectoryName(full) ?? throw new OutputPathException($"cannot write into the root folder {full}");
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(full)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            write(staging);
            if (!Directory.Exists(full))
            {
                Directory.Move(staging, full);
                return;
            }
            foreach (var entry in new DirectoryInfo(staging).EnumerateFileSystemInfos())
            {
                string target = Path.Combine(full, entry.Name);
                if (entry is FileInfo file)
                {
                    file.MoveTo(target, overwrite: true);
                    continue;
                }
                // A folder (model/) replaces the old one: the old moves aside first, then goes.
                string? old = null;
                if (Directory.Exists(target))
                {
                    old = Path.Combine(full, $".{entry.Name}.old-{Guid.NewGuid():N}");
                    Directory.Move(target, old);
                }
                Directory.Move(entry.FullName, target);
                if (old is not null) Directory.Delete(old, recursive: true);
            }
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static string Full(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OutputPathException($"{option} is empty");
        try
        {
            return Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new OutputPathException($"{option} {path}: not a valid path");
        }
    }

    /// <summary>The nearest existing folder above <paramref name="full"/>; an error when that is a file.</summary>
    private static string CheckAncestors(string full, string given, string option)
    {
        for (string? dir = Path.GetDirectoryName(full); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir)) throw new OutputPathException($"{option} {given}: {dir} is a file, so nothing can be created under it");
            if (Directory.Exists(dir)) return dir;
        }
        return Path.GetPathRoot(full) ?? "/";
    }

    /// <summary>Creates and deletes a file in <paramref name="dir"/>: the only sure test that it can be written.</summary>
    private static void Probe(string dir, string given, string option)
    {
        string probe = Path.Combine(dir, $".lstmcluster-probe-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputPathException($"{option} {given}: cannot write in {dir} ({e.Message})");
        }
    }
}
