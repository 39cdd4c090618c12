using System.Globalization;
using System.Text;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// Turns a <c>POST /jobs</c> multipart form into a <see cref="SubmitJob"/>: the CSV as file field <c>data</c>
/// (or a <c>path</c> under <see cref="JobApiOptions.DataRoot"/>), train's options by their CLI names without
/// dashes (underscores also accepted), plus <c>workers</c> and <c>priority</c>. Any problem is an error result
/// (400, or 413 for an upload over <see cref="JobApiOptions.MaxUploadBytes"/>).
/// </summary>
internal static class JobForm
{
    // Room for the multipart boundaries and the option fields around the file.
    private const long FormOverhead = 64 * 1024;

    internal sealed record Outcome(SubmitJob? Job, IResult? Error);

    public static async Task<Outcome> Read(HttpContext context, JobApiOptions options, CancellationToken ct)
    {
        var request = context.Request;
        if (!request.HasFormContentType)
            return new Outcome(null, JobApiExtensions.Error(StatusCodes.Status415UnsupportedMediaType, "expected a multipart/form-data body: the CSV as file field 'data' and train's options as fields"));
        long limit = options.MaxUploadBytes + FormOverhead;
        if (request.ContentLength > limit) return TooLarge(options);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize) bodySize.MaxRequestBodySize = limit;

        IFormCollection form;
        try
        {
            context.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions { MultipartBodyLengthLimit = limit }));
            form = await request.ReadFormAsync(ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(options);
        }
        catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        {
            return TooLarge(options);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            return Bad($"the form could not be read: {e.Message}");
        }

        var values = options.Defaults ?? new RunOptionValues();
        int priority = 0;
        int? workers = null, staleness = null, syncPeriod = null;
        TrainingMode? mode = null;
        string? path = null;
        try
        {
            foreach (var (key, value) in form)
            {
                string name = RunOptionValues.Key(key);
                if (value.Count != 1) throw new ArgumentException($"field '{key}' is given {value.Count} times");
                string text = value[0] ?? "";
                switch (name)
                {
                    case "data":
                        throw new ArgumentException("data must be a file upload (multipart file field 'data'); a server-side file goes in 'path'");
                    case "path":
                        path = text;
                        break;
                    case "workers":
                        workers = Int(key, text);
                        break;
                    case "priority":
                        priority = Int(key, text);
                        break;
                    case "mode":
                        mode = EngineOptions.ParseMode(text);
                        break;
                    case "staleness":
                        staleness = Int(key, text);
                        break;
                    case "sync-period":
                        syncPeriod = Int(key, text);
                        break;
                    default:
                        if (!RunOptionValues.IsOption(name))
                            throw new ArgumentException($"unknown field '{key}' (fields: data, path, workers, priority, mode, staleness, sync-period, {string.Join(", ", RunOptionValues.Names)})");
                        values = values.With(name, text);
                        break;
                }
            }
            var unexpected = form.Files.FirstOrDefault(f => !string.Equals(f.Name, "data", StringComparison.OrdinalIgnoreCase));
            if (unexpected is not null) throw new ArgumentException($"unexpected file field '{unexpected.Name}' (the CSV goes in 'data')");
            if (form.Files.Count > 1) throw new ArgumentException("more than one file in 'data'");
        }
        catch (ArgumentException e)
        {
            return Bad(e.Message);
        }

        var upload = form.Files.GetFile("data");
        if (upload is not null && path is not null) return Bad("give either an upload in 'data' or a server-side 'path', not both");
        if (upload is null && path is null) return Bad("no data: upload the CSV as file field 'data' (or name a server-side file with 'path')");
        if (upload is not null && upload.Length > options.MaxUploadBytes) return TooLarge(options);

        string? csv = null;
        string label;
        if (upload is not null)
        {
            label = SafeName(upload.FileName);
            using var reader = new StreamReader(upload.OpenReadStream(), new UTF8Encoding(false, throwOnInvalidBytes: true));
            try
            {
                csv = await reader.ReadToEndAsync(ct);
            }
            catch (DecoderFallbackException)
            {
                return Bad($"{label}: not UTF-8 text (a CSV file is expected)");
            }
            if (csv.Contains('\0')) return Bad($"{label}: contains NUL bytes (a CSV file is expected, not a binary file)");
        }
        else
        {
            var resolved = ResolveUnderRoot(path!, options.DataRoot, out var problem);
            if (resolved is null) return Bad(problem!);
            label = resolved;
        }

        try
        {
            var run = (values with { Data = label }).ToRunOptions();
            // The coordinator checks again (and loads the data); checking here answers the common mistakes without a round trip.
            run.Validate();
            if (workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {workers})");
            var job = new SubmitJob(run, csv, priority, workers, mode, staleness, syncPeriod);
            job.Apply(new EngineOptions()).Validate();
            return new Outcome(job, null);
        }
        catch (ArgumentException e)
        {
            return Bad(e.Message);
        }
    }

    /// <summary>The full path of <paramref name="path"/> when it names an existing file inside <paramref name="root"/>.</summary>
    internal static string? ResolveUnderRoot(string path, string? root, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(root))
        {
            problem = "this server accepts no 'path' (it has no data root); upload the CSV as file field 'data'";
            return null;
        }
        if (string.IsNullOrWhiteSpace(path))
        {
            problem = "path is empty";
            return null;
        }
        string fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        string full;
        try
        {
            full = Path.GetFullPath(Path.Combine(fullRoot, path));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            problem = $"path '{path}' is not a valid path";
            return null;
        }
        if (!full.StartsWith(fullRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !Inside(full, fullRoot))
        {
            problem = $"path '{path}' is outside the server's data root";
            return null;
        }
        if (!File.Exists(full))
        {
            problem = $"path '{path}': no such file under the server's data root";
            return null;
        }
        return full;
    }

    /// <summary>A file that is a symbolic link counts by its target, so a link inside the root cannot reach outside it.</summary>
    private static bool Inside(string full, string fullRoot)
    {
        try
        {
            string real = File.Exists(full) ? File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full : full;
            string realRoot = Path.TrimEndingDirectorySeparator(Directory.ResolveLinkTarget(fullRoot, returnFinalTarget: true)?.FullName ?? fullRoot);
            return real.StartsWith(realRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || real.StartsWith(fullRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string SafeName(string? fileName)
    {
        string name = Path.GetFileName(fileName ?? "");
        return string.IsNullOrWhiteSpace(name) ? "upload.csv" : name;
    }

    private static int Int(string name, string text) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new ArgumentException($"{name} must be an integer (got '{text}')");

    private static Outcome Bad(string reason) => new(null, JobApiExtensions.Error(StatusCodes.Status400BadRequest, reason));

    private static Outcome TooLarge(JobApiOptions options) => new(null, JobApiExtensions.Error(StatusCodes.Status413PayloadTooLarge,
        $"the upload is larger than this server accepts ({options.MaxUploadBytes:N0} bytes)"));
}
