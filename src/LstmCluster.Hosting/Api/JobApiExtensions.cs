using System.IO.Compression;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using LstmCluster.Hosting.Dashboard;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The HTTP job API over the coordinator (minimal APIs): submit, list, status, results, cancel, health and
/// readiness, with its OpenAPI document at <c>/openapi/v1.json</c>. Bad input is a 4xx with
/// <c>{"error": reason}</c>, never a 500; a coordinator that does not answer in time is a 503.
/// </summary>
public static partial class JobApiExtensions
{
    public static IServiceCollection AddJobApi(this IServiceCollection services, JobApiOptions? options = null)
    {
        options ??= new JobApiOptions();
        // Read the config once, at startup: a broken config file fails the host, not every submission.
        var defaults = options.Defaults ?? RunOptionValues.FromDefaults(Defaults.Load());
        options = options with { Defaults = defaults };
        services.AddSingleton(options);
        services.AddApiSecurity(options);
        services.AddSingleton(_ => new ModelCache(options.ServedModels));
        // The OpenAPI schemas follow the host's JSON options: make them say what the endpoints write (JobApiJson).
        // Numbers as numbers: the web defaults also read numbers from strings, which the schemas would show as ["integer", "string"].
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JobApiJson.Options.PropertyNamingPolicy;
            json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        services.AddJobApiDocument();
        return services;
    }

    /// <summary>
    /// The API's middleware (<see cref="ApiSecurity"/>: host filtering, CORS, tokens, rate limits) and its endpoints. Every
    /// <c>/jobs</c> route needs role read; submitting and cancelling need submit (cancelling another's job, admin).
    /// </summary>
    public static WebApplication MapJobApi(this WebApplication app)
    {
        app.UseApiSecurity(app.Services.GetRequiredService<JobApiOptions>());
        app.MapOpenApi();
        app.MapHealthEndpoints();
        app.MapDashboard();

        var jobs = app.MapGroup("/jobs").AddEndpointFilter(CoordinatorFailures).RequireAuthorization(ApiRoles.Read)
            .WithMetadata(Answers(StatusCodes.Status401Unauthorized), Answers(StatusCodes.Status403Forbidden), Answers(StatusCodes.Status429TooManyRequests),
                Answers(StatusCodes.Status503ServiceUnavailable));
        jobs.MapPost("/", Submit).DisableAntiforgery().RequireAuthorization(ApiRoles.Submit).LimitedAsSubmission()
            // No Accepts<>(): its content-type check would answer other bodies with a bare 415; the handler gives the reason.
            // The form's fields are described by JobApiDocument (JobForm reads them by hand).
            .AddOpenApiOperationTransformer(JobApiDocument.DescribeJobForm)
            .Produces<SubmittedView>(StatusCodes.Status202Accepted)
            .Produces<ErrorView>(StatusCodes.Status400BadRequest)
            .Produces<ErrorView>(StatusCodes.Status413PayloadTooLarge)
            .Produces<ErrorView>(StatusCodes.Status507InsufficientStorage)
            .Produces<ErrorView>(StatusCodes.Status415UnsupportedMediaType)
            .WithName("SubmitJob").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Submit a training job: the CSV as file field 'data' (or a server-side 'path'), train's options as form fields");
        jobs.MapGet("/", List).Produces<JobListView>().WithName("ListJobs").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Every job the coordinator knows, queued, running and finished");
        jobs.MapGet("/{id}", Status).Produces<JobView>().Produces<ErrorView>(StatusCodes.Status404NotFound)
            .WithName("GetJob").WithTags(JobApiDocument.JobsTag)
            .WithSummary("One job: its state (Queued, Running, Succeeded, Failed, Cancelled), progress, losses, forecast and test MASE");
        jobs.MapDelete("/{id}", Cancel).RequireAuthorization(ApiRoles.Submit).Produces<JobView>().Produces<ErrorView>(StatusCodes.Status404NotFound)
            .AddOpenApiOperationTransformer(JobApiDocument.DescribeDeleteAnswers)
            .WithName("CancelJob").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Cancel a queued or running job (answers its status), or delete a finished one with its files (answers its id and state Deleted)")
            .WithDescription("With role submit, only the jobs the token submitted; another's job needs role admin.");
        jobs.MapGet("/{id}/history", History).Produces<HistoryView>().Produces<ErrorView>(StatusCodes.Status404NotFound)
            .WithName("GetJobHistory").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Train and validation loss per epoch: live while the job trains, from its metrics.json once it succeeded");
        jobs.MapGet("/{id}/metrics", Metrics).Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces<ErrorView>(StatusCodes.Status404NotFound).Produces<ErrorView>(StatusCodes.Status409Conflict)
            .WithName("GetJobMetrics").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("The job's metrics.json: test-split errors against the baselines, training figures");
        // The CSV first: of two declarations for one status the document keeps the last (JobApiDocument adds the CSV back).
        jobs.MapGet("/{id}/forecast", Forecast).Produces(StatusCodes.Status200OK, contentType: "text/csv").Produces<ForecastView>()
            .Produces<ErrorView>(StatusCodes.Status400BadRequest).Produces<ErrorView>(StatusCodes.Status404NotFound)
            .Produces<ErrorView>(StatusCodes.Status409Conflict)
            .WithName("GetJobForecast").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("The job's forecast after the data's last row: JSON, or forecast.csv with ?format=csv or Accept: text/csv");
        jobs.MapGet("/{id}/plot", Plot).Produces(StatusCodes.Status200OK, contentType: "image/png")
            .Produces<ErrorView>(StatusCodes.Status400BadRequest).Produces<ErrorView>(StatusCodes.Status404NotFound)
            .Produces<ErrorView>(StatusCodes.Status409Conflict)
            .WithName("GetJobPlot").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("A plot as PNG: kind forecast (default), loss or errors (errors by step, horizon above 1)");
        jobs.MapGet("/{id}/model", Model).Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .Produces<ErrorView>(StatusCodes.Status404NotFound).Produces<ErrorView>(StatusCodes.Status409Conflict)
            .WithName("GetJobModel").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("The job's model/ folder as a zip (what lstmcluster forecast and import read)");
        jobs.MapGet("/{id}/files/{**name}", FileByName).Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces<ErrorView>(StatusCodes.Status404NotFound).Produces<ErrorView>(StatusCodes.Status409Conflict)
            .WithName("GetJobFile").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("Any file train writes, by its name under --out: forecast.csv, test_predictions.csv, metrics.json, model/spec.json, ...");
        MapServing(app);
        MapGroups(app);
        MapSweeps(app);
        return app;
    }

    private static ProducesResponseTypeMetadata Answers(int status) => new(status, typeof(ErrorView), ["application/json"]);

    // --- jobs ---

    private static async Task<IResult> Submit(HttpContext context, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct)
    {
        var form = await JobForm.Read(context, options, ct);
        if (form.Error is { } error) return error;
        // The token's name owns the job: it may cancel and delete it with role submit.
        var job = form.Job! with { Owner = context.User.Identity?.Name };
        // The job carries its CSV: through the chunked path, which a large upload needs to reach a coordinator on another node.
        var reply = await Ask(coordinator, job, options.SubmitTimeout, ct, context.RequestServices.GetService<ActorSystem>());
        return reply switch
        {
            JobAccepted a => Results.Json(new SubmittedView(a.Job), JobApiJson.Options, statusCode: StatusCodes.Status202Accepted)
                .WithLocation($"/{(a.Job.StartsWith("group-", StringComparison.Ordinal) ? "groups" : "jobs")}/{Uri.EscapeDataString(a.Job)}"),
            JobRejected { Busy: true } r => Busy(context, r.Reason),
            JobRejected { OverQuota: true } r => Error(StatusCodes.Status507InsufficientStorage, r.Reason),
            JobRejected r => Error(StatusCodes.Status400BadRequest, WithoutServerPaths(r.Reason, options)),
            _ => Unexpected(reply),
        };
    }

    /// <summary>The queue is full: 429, and when to try again (a job takes tens of seconds at least).</summary>
    private static IResult Busy(HttpContext context, string reason)
    {
        context.Response.Headers.RetryAfter = "30";
        return Error(StatusCodes.Status429TooManyRequests, reason);
    }

    private static async Task<IResult> List(IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct) =>
        await Ask(coordinator, ListJobs.Instance, options.AskTimeout, ct) switch
        {
            JobList list => Json(new JobListView([.. list.Jobs.Select(j => View(j, options))])),
            var other => Unexpected(other),
        };

    private static async Task<IResult> Status(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct) =>
        await Ask(coordinator, new GetJobStatus(id), options.AskTimeout, ct) switch
        {
            JobStatus s => Json(View(s, options)),
            GroupStatus g => Json(GroupView.From(g)),
            UnknownJob u => NoJob(u.Job),
            var other => Unexpected(other),
        };

    /// <summary>
    /// DELETE: cancels a queued or running job (answers its status); deletes a finished one with its files. A token with role
    /// submit may do so to the jobs it submitted; another's job (or one submitted without a token) needs admin.
    /// </summary>
    private static async Task<IResult> Cancel(HttpContext context, string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct)
    {
        if (!context.User.IsInRole(ApiRoles.Admin))
        {
            // The owner does not change once a job exists, so checking first and deleting next is no race.
            switch (await Ask(coordinator, new GetJobStatus(id), options.AskTimeout, ct))
            {
                case UnknownJob u:
                    return NoJob(u.Job);
                case JobStatus s when s.Owner is null || s.Owner != context.User.Identity?.Name:
                    return ApiSecurity.Forbidden(context, $"job '{s.Job}' was submitted {(s.Owner is null ? "without a token" : $"by token '{s.Owner}'")}: cancelling or deleting another's job needs role admin");
                case JobStatus:
                    break;
                case GroupStatus g when g.Owner is null || g.Owner != context.User.Identity?.Name:
                    return ApiSecurity.Forbidden(context, $"group '{g.Group}' was submitted {(g.Owner is null ? "without a token" : $"by token '{g.Owner}'")}: cancelling or deleting another's group needs role admin");
                case GroupStatus:
                    break;
                case var other:
                    return Unexpected(other);
            }
        }
        return await Ask(coordinator, new DeleteJob(id), options.AskTimeout, ct) switch
        {
            JobStatus s => Json(View(s, options)),
            GroupStatus g => Json(GroupView.From(g)),
            JobRemoved r => Json(DeletedView.Of(r.Job)),
            UnknownJob u => NoJob(u.Job),
            var other => Unexpected(other),
        };
    }

    /// <summary>
    /// The coordinator's losses per epoch; a job that ended before this coordinator started has none there, and its metrics.json's
    /// <c>training.history</c> (when it succeeded and that file has one) takes their place.
    /// </summary>
    private static async Task<IResult> History(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct)
    {
        var reply = await Ask(coordinator, new GetJobHistory(id), options.AskTimeout, ct);
        if (reply is UnknownJob u) return NoJob(u.Job);
        if (reply is not JobHistory h) return Unexpected(reply);
        var epochs = h.Epochs.Select((e, i) => new EpochLossView(e, Finite(h.TrainLoss[i]), Finite(h.ValidationLoss[i]))).ToArray();
        if (epochs.Length == 0 && h.State == JobState.Succeeded
            && await Ask(coordinator, new GetJobArtifacts(id), options.AskTimeout, ct) is JobArtifacts a && a.Files.TryGetValue("metrics.json", out var metrics))
            return Json(new HistoryView(h.Job, h.State.ToString(), HistoryOf(metrics), "metrics.json"));
        return Json(new HistoryView(h.Job, h.State.ToString(), epochs, "coordinator"));
    }

    private static EpochLossView[] HistoryOf(byte[] metricsJson)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(metricsJson);
            if (!doc.RootElement.TryGetProperty("training", out var training) || !training.TryGetProperty("history", out var history)) return [];
            return [.. history.EnumerateArray().Select(e => new EpochLossView(e.GetProperty("epoch").GetInt32(),
                Number(e, "train_loss"), Number(e, "validation_loss")))];
        }
        catch (System.Text.Json.JsonException)
        {
            return [];
        }

        static double? Number(System.Text.Json.JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() : null;
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static async Task<IResult> Metrics(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct) =>
        await WithFile(id, "metrics.json", coordinator, options, ct, bytes => Results.Bytes(bytes, "application/json"));

    private static async Task<IResult> Plot(string id, string? kind, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct)
    {
        string? name = kind?.ToLowerInvariant() switch
        {
            null or "" or "forecast" => "forecast.png",
            "loss" => "loss.png",
            "errors" => "errors_by_step.png",
            _ => null,
        };
        if (name is null) return Error(StatusCodes.Status400BadRequest, $"kind must be forecast, loss or errors (got '{kind}')");
        return await WithFile(id, name, coordinator, options, ct, bytes => Results.Bytes(bytes, "image/png"));
    }

    private static async Task<IResult> FileByName(string id, string name, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct) =>
        await WithFile(id, name, coordinator, options, ct, bytes => Results.Bytes(bytes, ContentType(name)));

    private static async Task<IResult> Model(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct)
    {
        var (artifacts, failure) = await Succeeded(id, "model", coordinator, options, ct);
        if (failure is not null) return failure;
        var model = artifacts!.Files.Where(f => f.Key.StartsWith("model/", StringComparison.Ordinal)).ToList();
        if (model.Count == 0) return Error(StatusCodes.Status404NotFound, $"job '{id}' has no model files (the coordinator keeps no artifacts)");
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in model)
            {
                using var entry = archive.CreateEntry(name, CompressionLevel.Fastest).Open();
                entry.Write(bytes);
            }
        }
        return Results.File(zip.ToArray(), "application/zip", $"{id}-model.zip");
    }

    private static async Task<IResult> Forecast(HttpContext context, string id, string? format, IRequiredActor<CoordinatorKey> coordinator,
        JobApiOptions options, CancellationToken ct)
    {
        bool csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
            || (format is null && context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)));
        if (format is not null && !csv && !string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
            return Error(StatusCodes.Status400BadRequest, $"format must be json or csv (got '{format}')");
        var reply = await Ask(coordinator, new GetJobStatus(id), options.AskTimeout, ct);
        if (reply is UnknownJob u) return NoJob(u.Job);
        if (reply is not JobStatus s) return Unexpected(reply);
        if (s.State != JobState.Succeeded || s.Forecast is null) return NotYet(s.Job, s.State, "forecast");
        if (csv)
        {
            // The same file train writes (forecast.csv) when the coordinator kept it; otherwise the same format from the status.
            return await Ask(coordinator, new GetJobArtifacts(id), options.AskTimeout, ct) is JobArtifacts a && a.Files.TryGetValue("forecast.csv", out var file)
                ? Results.Bytes(file, "text/csv")
                : Results.Text(ForecastCsv(s), "text/csv", Encoding.UTF8);
        }
        var points = s.Forecast.Select((v, i) => new ForecastPointView(i + 1, TimeOf(s, i), double.IsFinite(v) ? v : null)
        {
            Quantiles = ForecastPointView.QuantilesAt(s.ForecastLevels, s.ForecastQuantiles, i),
        }).ToArray();
        return Json(new ForecastView(s.Job, s.Target, points));
    }

    // --- helpers ---

    private static async Task<IResult> WithFile(string id, string name, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct, Func<byte[], IResult> answer)
    {
        var (artifacts, failure) = await Succeeded(id, name, coordinator, options, ct);
        if (failure is not null) return failure;
        return artifacts!.Files.TryGetValue(name, out var bytes)
            ? answer(bytes)
            : Error(StatusCodes.Status404NotFound, artifacts.Files.Count == 0
                ? $"job '{id}' has no files (the coordinator keeps no artifacts)"
                : $"job '{id}' has no file '{name}' (it has {string.Join(", ", artifacts.Files.Keys)})");
    }

    private static async Task<(JobArtifacts? Artifacts, IResult? Failure)> Succeeded(string id, string what,
        IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct)
    {
        var reply = await Ask(coordinator, new GetJobArtifacts(id), options.AskTimeout, ct);
        return reply switch
        {
            UnknownJob u => (null, NoJob(u.Job)),
            JobArtifacts { State: JobState.Succeeded } a => (a, null),
            JobArtifacts a => (null, NotYet(a.Job, a.State, what)),
            _ => (null, Unexpected(reply)),
        };
    }

    private static async Task<object> Ask(IRequiredActor<CoordinatorKey> required, object message, TimeSpan timeout, CancellationToken ct,
        ActorSystem? chunkedVia = null)
    {
        IActorRef coordinator;
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            wait.CancelAfter(timeout);
            try
            {
                coordinator = await required.GetAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CoordinatorUnavailableException($"the coordinator is not available (not started within {timeout.TotalSeconds:0} s)");
            }
        }
        try
        {
            return chunkedVia is null
                ? await coordinator.Ask<object>(message, timeout, ct)
                : await CoordinatorDelivery.AskAsync(chunkedVia, coordinator, message, timeout, ct);
        }
        catch (AskTimeoutException)
        {
            throw new CoordinatorUnavailableException($"the coordinator did not answer within {timeout.TotalSeconds:0} s");
        }
    }

    private static async ValueTask<object?> CoordinatorFailures(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (CoordinatorUnavailableException e)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, e.Message);
        }
    }

    /// <summary>
    /// The coordinator names an upload by the private temp file it went to (…/lstmcluster-jobs/job-3-…/data.csv);
    /// the client knows it by its file name.
    /// </summary>
    private static string WithoutTempDirectory(string reason) =>
        TempUpload().Replace(reason, "");

    /// <summary>
    /// A reason as a client may see it: no temporary upload folder, and a server-side file named relative to the data root
    /// (the coordinator names it by its real path), so an answer never shows the server's folders.
    /// </summary>
    internal static string WithoutServerPaths(string reason, JobApiOptions options)
    {
        reason = WithoutTempDirectory(reason);
        if (options.DataRoot is not { Length: > 0 } root) return reason;
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        foreach (var prefix in new[] { JobForm.RealPath(full), full }.OfType<string>().Distinct())
            reason = reason.Replace(prefix + Path.DirectorySeparatorChar, "", StringComparison.Ordinal);
        return reason;
    }

    private static JobView View(JobStatus s, JobApiOptions options)
    {
        var view = JobView.From(s);
        return view.Reason is { } reason ? view with { Reason = WithoutServerPaths(reason, options) } : view;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<=^|[\s'""(])[^\s'""(]*[/\\]lstmcluster-jobs[/\\][^/\\\s]+[/\\]")]
    private static partial System.Text.RegularExpressions.Regex TempUpload();

    private static string TimeOf(JobStatus s, int i) =>
        s.ForecastTimes is { } times && i < times.Length ? times[i] : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string ForecastCsv(JobStatus s)
    {
        var sb = new StringBuilder("step,time,forecast\n");
        for (int i = 0; i < s.Forecast!.Length; i++)
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i + 1},{TimeOf(s, i)},{s.Forecast[i]:R}\n");
        return sb.ToString();
    }

    private static string ContentType(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".json" => "application/json",
        ".csv" => "text/csv",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };

    internal static IResult Json<T>(T value, int status = StatusCodes.Status200OK) => Results.Json(value, JobApiJson.Options, statusCode: status);

    internal static IResult Error(int status, string reason) => Json(new ErrorView(reason), status);

    private static IResult NoJob(string id) => Error(StatusCodes.Status404NotFound, $"no job '{id}'");

    private static IResult NotYet(string id, JobState state, string what) => Error(StatusCodes.Status409Conflict, state switch
    {
        JobState.Queued or JobState.Running => $"job '{id}' is {state.ToString().ToLowerInvariant()}: its {what} is there once it succeeded",
        _ => $"job '{id}' {state.ToString().ToLowerInvariant()}: it has no {what}",
    });

    private static IResult Unexpected(object reply) =>
        Error(StatusCodes.Status502BadGateway, $"the coordinator answered with an unexpected {reply.GetType().Name}");

    private static IResult WithLocation(this IResult result, string location) => new LocatedResult(result, location);

    /// <summary>Adds a Location header to another result (Results.Accepted would serialize with the global JSON options).</summary>
    private sealed class LocatedResult(IResult inner, string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return inner.ExecuteAsync(httpContext);
        }
    }

    private sealed class CoordinatorUnavailableException(string message) : Exception(message);
}
