namespace LstmCluster.Actors.Jobs;

/// <summary>
/// The coordinator's files on disk, one folder per job under <c>{root}/jobs/{id}/</c>: the uploaded data
/// (<c>data/</c>) and, once the job succeeded, its outputs (<c>files/</c>: metrics.json, forecast.csv, plots,
/// model/...). The journal holds references to them, never their bytes, so a restarted or moved coordinator
/// serves every finished job's files from here. Outputs are written to a temporary folder and renamed into
/// place, so a crash mid-write leaves either all of a job's files or none.
/// </summary>
public sealed class JobStore
{
    private const string FilesFolder = "files";
    private const string DataFolder = "data";
    private const string CheckpointFile = "checkpoint.bin";

    public JobStore(string root)
    {
        Root = Path.GetFullPath(root);
        string jobs = Path.Combine(Root, "jobs");
        try
        {
            Directory.CreateDirectory(jobs);
            // Fail at start, naming the folder, rather than at the first upload.
            string probe = Path.Combine(jobs, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the state directory {Root} is not writable: {e.Message}", e);
        }
    }

    public string Root { get; }

    /// <summary>A store in a new private temporary folder (embedded runs and tests); <see cref="Temporary"/> says to delete it on stop.</summary>
    public static JobStore CreateTemporary()
    {
        // Private (mode 0700, made by mkdtemp): uploads and models in it are nobody else's to read on a shared machine.
        var store = new JobStore(Directory.CreateTempSubdirectory($"lstmcluster-state-{Environment.ProcessId}-").FullName);
        store.Temporary = true;
        return store;
    }

    public bool Temporary { get; private set; }

    public string JobFolder(string id)
    {
        // Ids are the coordinator's own (job-N); refuse anything that could leave the store.
        if (id.Length == 0 || id.Contains('/') || id.Contains('\\') || id.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"not a job id: {id}");
        return Path.Combine(Root, "jobs", id);
    }

    /// <summary>Stores an upload as <c>data/{name}</c> (the name the client gave, without folders) and returns its full path.</summary>
    public string SaveUpload(string id, string name, string text)
    {
        string dir = Path.Combine(JobFolder(id), DataFolder);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, SafeName(name));
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    public string UploadPath(string id, string name) => Path.Combine(JobFolder(id), DataFolder, SafeName(name));

    /// <summary>Writes a finished job's files by relative name, atomically (all or none).</summary>
    public void SaveFiles(string id, IReadOnlyDictionary<string, byte[]> files)
    {
        string folder = JobFolder(id);
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".files-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        foreach (var (name, bytes) in files)
        {
            string target = Path.GetFullPath(Path.Combine(temp, name));
            if (!target.StartsWith(temp + Path.DirectorySeparatorChar, StringComparison.Ordinal)) throw new ArgumentException($"not a relative file name: {name}");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target, bytes);
        }
        string final = Path.Combine(folder, FilesFolder);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
    }

    /// <summary>The job's checkpoint file as named in messages (relative to the state directory).</summary>
    public static string CheckpointName(string id) => $"jobs/{id}/{CheckpointFile}";

    /// <summary>
    /// Replaces the job's checkpoint atomically and durably (temp file flushed to disk, then renamed over the old one):
    /// a crash leaves the previous checkpoint or the new one, never a torn file.
    /// </summary>
    public void SaveCheckpoint(string id, byte[] file)
    {
        string folder = JobFolder(id);
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, CheckpointFile);
        string temp = path + $".{Guid.NewGuid():N}.tmp";
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(file);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The job's checkpoint file's bytes; null when it has none.</summary>
    public byte[]? ReadCheckpoint(string id)
    {
        string path = Path.Combine(JobFolder(id), CheckpointFile);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>Deletes the job's checkpoint (the job ended); none is fine.</summary>
    public void DeleteCheckpoint(string id)
    {
        string path = Path.Combine(JobFolder(id), CheckpointFile);
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>A finished job's files by relative name ('/' separated); empty when it has none.</summary>
    public IReadOnlyDictionary<string, byte[]> ReadFiles(string id)
    {
        string folder = Path.Combine(JobFolder(id), FilesFolder);
        var files = new Dictionary<string, byte[]>();
        if (!Directory.Exists(folder)) return files;
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            files[Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/')] = File.ReadAllBytes(path);
        return files;
    }

    /// <summary>
    /// Bytes the job's (or group's) folder holds on disk: its upload, checkpoint and files. A folder that does not exist
    /// holds 0. A runner may be writing into it meanwhile (its temporary folder renamed into place under the enumeration),
    /// so an enumeration that loses a file or folder is started again.
    /// </summary>
    public long Size(string id)
    {
        string folder = JobFolder(id);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true };
        for (int attempt = 1; ; attempt++)
        {
            long bytes = 0;
            try
            {
                if (!Directory.Exists(folder)) return 0;
                foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", options)) bytes += file.Length;
                return bytes;
            }
            catch (IOException) when (attempt < 3)
            {
                // A file or folder moved under the enumeration: count again.
            }
            catch (IOException)
            {
                // Still moving after three counts: what was counted, the rest is counted at the next look.
                return bytes;
            }
        }
    }

    /// <summary>Deletes the job's folder (data and files); a folder already gone is fine.</summary>
    public void Delete(string id)
    {
        string folder = JobFolder(id);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    /// <summary>Deletes a temporary store (<see cref="CreateTemporary"/>); a persistent one is left alone.</summary>
    public void DeleteIfTemporary()
    {
        if (!Temporary) return;
        try
        {
            if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    private static string SafeName(string name)
    {
        string file = Path.GetFileName(name);
        return file.Length == 0 || file is "." or ".." ? "data.csv" : file;
    }
}
