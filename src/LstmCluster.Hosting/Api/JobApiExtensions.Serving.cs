using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Hosting;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Persistence;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// Live serving: <c>POST /models/{id}/forecast</c> answers the next H values after the rows in the body, from the model job
/// <c>id</c> trained. The model is loaded from the job's files once (through the coordinator) and kept in a
/// <see cref="ModelCache"/>; later requests never reach the coordinator.
/// </summary>
public static partial class JobApiExtensions
{
    /// <summary>Largest serving body: recent rows, not a training set.</summary>
    public const int MaxServingBodyBytes = 8 * 1024 * 1024;

    /// <summary>How a serving body names itself in error messages.</summary>
    public const string ServingBodyName = "request body";

    private static void MapServing(WebApplication app)
    {
        app.MapGroup("/models").AddEndpointFilter(CoordinatorFailures).RequireAuthorization(ApiRoles.Read)
            .WithMetadata(Answers(StatusCodes.Status401Unauthorized), Answers(StatusCodes.Status403Forbidden), Answers(StatusCodes.Status429TooManyRequests),
                Answers(StatusCodes.Status503ServiceUnavailable))
            .MapPost("/{id}/forecast", ServeForecast).DisableAntiforgery().LimitedAsServing()
            .Produces(StatusCodes.Status200OK, contentType: "text/csv").Produces<ForecastView>()
            .Produces<ErrorView>(StatusCodes.Status400BadRequest)
            .Produces<ErrorView>(StatusCodes.Status404NotFound)
            .Produces<ErrorView>(StatusCodes.Status409Conflict)
            .Produces<ErrorView>(StatusCodes.Status413PayloadTooLarge)
            .Produces<ErrorView>(StatusCodes.Status415UnsupportedMediaType)
            .AddOpenApiOperationTransformer(JobApiDocument.DescribeServingBody)
            .WithName("ForecastWithModel").WithTags(JobApiDocument.ServingTag)
            .WithSummary("Forecast the next values after the recent rows in the body (text/csv with the training file's columns, "
                + "or JSON {\"rows\": [{column: value, ...}, ...]}), with the model job 'id' trained; ?format=csv for CSV");
    }

    private static async Task<IResult> ServeForecast(HttpContext context, string id, string? format, IRequiredActor<CoordinatorKey> coordinator,
        JobApiOptions options, ModelCache cache, CancellationToken ct)
    {
        bool csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
            || (format is null && context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)));
        if (format is not null && !csv && !string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
            return Error(StatusCodes.Status400BadRequest, $"format must be json or csv (got '{format}')");
        var (text, bodyError) = await ServingBody(context.Request, ct);
        if (bodyError is not null) return bodyError;

        ServedModel model;
        bool hit;
        try
        {
            (model, hit) = await cache.Get(id, () => LoadServedModel(id, coordinator, options, ct));
        }
        catch (ServingRefusedException refused)
        {
            return refused.Answer;
        }
        catch (ModelFileException e)
        {
            return Error(StatusCodes.Status500InternalServerError, $"job '{id}''s stored model cannot be loaded: {e.Problem}");
        }

        var selection = model.Stored.Metadata.Data.ForFile(ServingBodyName);
        TimeSeries series;
        IReadOnlyList<ForecastPoint>? forecast;
        try
        {
            series = CsvSeriesLoader.LoadText(selection, text!);
            if (series.Columns.Length != model.Stored.Preprocessor.Features)
                return Error(StatusCodes.Status400BadRequest,
                    $"{ServingBodyName}: the model takes {model.Stored.Preprocessor.Features} input columns, the body gave {series.Columns.Length}");
            // Dropped from the cache by another model's load between Get and here: load it again, once.
            forecast = model.Forecast(series) ?? (await cache.Get(id, () => LoadServedModel(id, coordinator, options, ct))).Model.Forecast(series);
        }
        catch (DataException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }
        if (forecast is null) return Error(StatusCodes.Status503ServiceUnavailable, "the model cache is overloaded: retry");
        context.Response.Headers["X-Model-Cache"] = hit ? "hit" : "miss";
        if (csv)
        {
            var sb = new StringBuilder("step,time,forecast\n");
            foreach (var f in forecast) sb.Append(CultureInfo.InvariantCulture, $"{f.Step},{f.Time},{f.Value:R}\n");
            return Results.Text(sb.ToString(), "text/csv", Encoding.UTF8);
        }
        var points = forecast.Select(f => new ForecastPointView(f.Step, f.Time, double.IsFinite(f.Value) ? f.Value : null)
        {
            Quantiles = ForecastPointView.QuantilesAt([.. f.Quantiles.Select(q => q.Level)], [.. f.Quantiles.Select(q => new[] { q.Value })], 0),
        }).ToArray();
        return Json(new ForecastView(id, model.Stored.Metadata.Data.Target, points));
    }

    /// <summary>The job's model files, fetched through the coordinator, loaded by <see cref="ModelStore.Load"/> from a private temp folder.</summary>
    private static async Task<StoredModel> LoadServedModel(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct)
    {
        var (artifacts, failure) = await Succeeded(id, "model", coordinator, options, ct);
        if (failure is not null) throw new ServingRefusedException(failure);
        var files = artifacts!.Files.Where(f => f.Key.StartsWith("model/", StringComparison.Ordinal)).ToList();
        if (files.Count == 0)
            throw new ServingRefusedException(Error(StatusCodes.Status404NotFound, $"job '{id}' has no model files (the coordinator keeps no artifacts)"));
        // Created with mode 0700: another user of the machine cannot swap the files between writing and loading.
        var dir = Directory.CreateTempSubdirectory("lstmcluster-serve-");
        try
        {
            foreach (var (name, bytes) in files)
            {
                string path = Path.GetFullPath(Path.Combine(dir.FullName, name["model/".Length..]));
                if (!path.StartsWith(dir.FullName + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllBytesAsync(path, bytes, ct);
            }
            return ModelStore.Load(dir.FullName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The body as CSV text: text/csv as it is, JSON <c>{"rows": [...]}</c> turned into CSV with the rows' keys as header.</summary>
    private static async Task<(string? Text, IResult? Error)> ServingBody(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxServingBodyBytes) return (null, TooLarge());
        string media = request.ContentType is { } type ? type.Split(';')[0].Trim().ToLowerInvariant() : "";
        bool json = media is "application/json";
        if (!json && media is not ("text/csv" or "text/plain"))
            return (null, Error(StatusCodes.Status415UnsupportedMediaType,
                $"send the recent rows as text/csv (the training file's columns, with its header) or application/json {{\"rows\": [...]}}; got '{(media.Length == 0 ? "no content type" : media)}'"));
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxServingBodyBytes) return (null, TooLarge());
            buffer.Write(chunk, 0, read);
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            return (null, Error(StatusCodes.Status400BadRequest, $"{ServingBodyName}: not UTF-8 text"));
        }
        if (!json) return (text, null);
        try
        {
            return (RowsToCsv(text), null);
        }
        catch (JsonException e)
        {
            return (null, Error(StatusCodes.Status400BadRequest, $"{ServingBodyName}: {e.Message}"));
        }
    }

    private static IResult TooLarge() =>
        Error(StatusCodes.Status413PayloadTooLarge, $"{ServingBodyName} is larger than {MaxServingBodyBytes:N0} bytes: send the recent rows only");

    /// <summary>JSON <c>{"rows": [{"date": "1960-12", "value": 432}, ...]}</c> as CSV; every row must have the first row's keys.</summary>
    internal static string RowsToCsv(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
            throw new JsonException("expected an object {\"rows\": [{column: value, ...}, ...]}");
        var list = rows.EnumerateArray().ToList();
        if (list.Count == 0) throw new JsonException("'rows' is empty");
        if (list[0].ValueKind != JsonValueKind.Object) throw new JsonException("row 1 is not an object {column: value, ...}");
        var columns = list[0].EnumerateObject().Select(p => p.Name).ToList();
        var sb = new StringBuilder();
        sb.AppendJoin(',', columns.Select(Quote)).Append('\n');
        for (int i = 0; i < list.Count; i++)
        {
            var row = list[i];
            if (row.ValueKind != JsonValueKind.Object) throw new JsonException($"row {i + 1} is not an object");
            var names = row.EnumerateObject().Select(p => p.Name).ToList();
            if (!names.SequenceEqual(columns))
                throw new JsonException($"row {i + 1} has the columns [{string.Join(", ", names)}], row 1 has [{string.Join(", ", columns)}]");
            sb.AppendJoin(',', row.EnumerateObject().Select(p => p.Value.ValueKind switch
            {
                JsonValueKind.Number => p.Value.GetRawText(),
                JsonValueKind.String => Quote(p.Value.GetString()!),
                JsonValueKind.Null => "",
                _ => throw new JsonException($"row {i + 1}, '{p.Name}': a number, a string or null, not {p.Value.ValueKind.ToString().ToLowerInvariant()}"),
            })).Append('\n');
        }
        return sb.ToString();
    }

    private static string Quote(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>Why a model cannot be served (no such job, not finished, no files), as the answer to give.</summary>
    private sealed class ServingRefusedException(IResult answer) : Exception("the model cannot be served")
    {
        public IResult Answer { get; } = answer;
    }
}
