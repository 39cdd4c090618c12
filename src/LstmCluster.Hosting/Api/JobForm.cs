using System.Globalization;
using System.Text;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Training;
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

    internal sealed record Outcome(SubmitJob? Job, IResult? Error)
    {
        /// <summary>The options as read (data: the upload's name or the resolved path), for a sweep to apply its trials over.</summary>
        public RunOptionValues? Values { get; init; }

        /// <summary>The <c>extraFields</c> the form gave, by name (a sweep's grid and plan).</summary>
        public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
    }

    /// <param name="extraFields">Fields beyond train's that the caller reads itself (POST /sweeps: grid, eta, ...); taken before train's of the same name.</param>
    public static async Task<Outcome> Read(HttpContext context, JobApiOptions options, CancellationToken ct, IReadOnlySet<string>? extraFields = null)
    {
        var request = context.Request;
        // Multipart only: a url-encoded form is what any web page can post to any address (CSRF), and it cannot carry a file anyway.
        if (!IsMultipart(request))
            return new Outcome(null, JobApiExtensions.Error(StatusCodes.Status415UnsupportedMediaType,
                $"expected a multipart/form-data body: the CSV as file field 'data' and train's options as fields (got {ContentTypeOf(request)})"));
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
        catch (InvalidDataException e) when (e.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase))
        {
            return TooLarge(options);
        }
        catch (InvalidDataException e) when (FormLimit(e.Message) is { } reason)
        {
            // Limits on the form's shape (field count, name or header length), not its size: a 400 with the real reason.
            return Bad(reason);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            return Bad($"the form could not be read: {Bounded(e.Message)}");
        }

        var values = options.Defaults ?? new RunOptionValues();
        int priority = 0;
        int? workers = null, staleness = null, syncPeriod = null;
        TrainingMode? mode = null;
        BatchSampling? sampling = null;
        string? path = null;
        SeriesStrategy? strategy = null;
        var extra = new Dictionary<string, string>(StringComparer.Ordinal);
        SeriesIdFeature? seriesId = null;
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
                    case "sampling":
                        sampling = EngineOptions.ParseSampling(text);
                        break;
                    case "strategy":
                        // with symbol=all or a list: a group of one job per series, or of one global model's job
                        strategy = SeriesSelection.ParseStrategy(text);
                        break;
                    case "series-id":
                        seriesId = SeriesSelection.ParseSeriesId(text);
                        break;
                    case var _ when extraFields?.Contains(name) == true:
                        extra[name] = text;
                        break;
                    default:
                        if (!RunOptionValues.IsOption(name))
                            throw new ArgumentException($"unknown field '{key}' (fields: data, path, workers, priority, mode, staleness, sync-period, sampling, strategy, series-id, {string.Join(", ", RunOptionValues.Names)})");
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
            var run = (values with { Data = label }).ToRunOptions() with
            {
                Strategy = strategy ?? SeriesStrategy.PerSeries,
                SeriesId = seriesId ?? SeriesIdFeature.None,
            };
            if (strategy is not null && !SeriesSelection.IsMany(run.Data.Symbol))
                throw new ArgumentException("strategy applies to several series: give symbol=all or a list (symbol=A,B,C)");
            if (seriesId is not null && strategy != SeriesStrategy.Global)
                throw new ArgumentException("series-id applies to strategy=global (one model over several series)");
            // The coordinator checks again (and loads the data); checking here answers the common mistakes without a round trip.
            run.Validate();
            if (workers is < 1 or > 1024) throw new ArgumentException($"workers must be between 1 and 1024 (got {workers})");
            var job = new SubmitJob(run, csv, priority, workers, mode, staleness, syncPeriod, sampling);
            job.Apply(new EngineOptions()).Validate();
            return new Outcome(job, null) { Values = values with { Data = label }, Extra = extra };
        }
        catch (ArgumentException e)
        {
            return Bad(e.Message);
        }
    }

    /// <summary>
    /// The real path of <paramref name="path"/> (every symbolic link in it resolved) when it names an existing file whose
    /// real path is inside the real path of <paramref name="root"/>; null and a problem otherwise. The loader is given the
    /// real path, so what was checked is what is opened. Problems name the path as the client gave it, never the server's
    /// folders.
    /// </summary>
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
        string shown = DisplayPath(path);
        string fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        string full;
        try
        {
            if (path.Contains('\0')) throw new ArgumentException("NUL in path");
            full = Path.GetFullPath(Path.Combine(fullRoot, path));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            problem = $"path {shown} is not a valid path";
            return null;
        }
        // Lexically outside (../x, /etc/x): refused without looking at the disk.
        if (!Under(full, fullRoot))
        {
            problem = $"path {shown} is outside the server's data root";
            return null;
        }
        string? realRoot = RealPath(fullRoot);
        string? real = RealPath(full);
        if (realRoot is null || real is null)
        {
            problem = $"path {shown}: no such file under the server's data root";
            return null;
        }
        // A symbolic link anywhere on the way (a file, or a folder such as dirlink/secret.csv) counts by where it leads.
        if (!Under(real, realRoot))
        {
            problem = $"path {shown} is outside the server's data root";
            return null;
        }
        if (!File.Exists(real))
        {
            problem = $"path {shown}: no such file under the server's data root";
            return null;
        }
        return real;
    }

    private static bool Under(string path, string root) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>
    /// <paramref name="path"/> with every symbolic link in every component resolved, as realpath(3) gives it; null when a
    /// component does not exist, a link is broken, or links nest deeper than 40 (a loop).
    /// </summary>
    internal static string? RealPath(string path, int depth = 0)
    {
        if (depth > 40) return null;
        string full = Path.GetFullPath(path);
        string current = Path.GetPathRoot(full) ?? "/";
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            string? target;
            try
            {
                if (!File.Exists(next) && !Directory.Exists(next)) return null;
                target = new FileInfo(next).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
            if (target is not null)
            {
                // A relative target is taken from the link's folder, which is already real.
                next = RealPath(Path.GetFullPath(target, current), depth + 1) ?? "";
                if (next.Length == 0) return null;
            }
            current = next;
        }
        return current;
    }

    /// <summary>A client's path as a message quotes it: bounded, one line.</summary>
    private static string DisplayPath(string path) => Core.Data.DataException.Quote(path);

    /// <summary>The reason for one of the form reader's shape limits (FormOptions' defaults), in the client's terms.</summary>
    private static string? FormLimit(string message)
    {
        var limits = new FormOptions();
        if (message.Contains("value count limit", StringComparison.OrdinalIgnoreCase))
            return $"the form has more than {limits.ValueCountLimit:N0} fields";
        if (message.Contains("key length limit", StringComparison.OrdinalIgnoreCase))
            return $"a field name is longer than {limits.KeyLengthLimit:N0} characters";
        if (message.Contains("value length limit", StringComparison.OrdinalIgnoreCase))
            return $"a field's value is longer than {limits.ValueLengthLimit:N0} characters";
        if (message.Contains("header length limit", StringComparison.OrdinalIgnoreCase) || message.Contains("headers count limit", StringComparison.OrdinalIgnoreCase))
            return $"a form part's headers are over {limits.MultipartHeadersLengthLimit:N0} bytes (a field or file name that long?)";
        if (message.Contains("boundary length limit", StringComparison.OrdinalIgnoreCase))
            return $"the multipart boundary is longer than {limits.MultipartBoundaryLengthLimit:N0} characters";
        return null;
    }

    private static bool IsMultipart(HttpRequest request) =>
        request.GetTypedHeaders().ContentType is { } type
        && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
        && type.Boundary.HasValue && type.Boundary.Length > 0;

    private static string ContentTypeOf(HttpRequest request) =>
        string.IsNullOrWhiteSpace(request.ContentType) ? "no content type" : Bounded(request.ContentType.Split(';')[0].Trim());

    private static string Bounded(string text)
    {
        string line = text.ReplaceLineEndings(" ");
        return line.Length <= 200 ? line : line[..200] + "...";
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
