using System.Globalization;
using System.Text.Json.Nodes;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Training;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// What <c>/openapi/v1.json</c> says beyond what ASP.NET Core reads off the endpoints, so that a generated client (NSwag,
/// Kiota) can use the API: the multipart body of <c>POST /jobs</c> with every field, its range and the server's default
/// (<see cref="JobForm"/> parses it by hand, so nothing describes it otherwise), the bearer scheme with the role each
/// operation needs, resource tags, what each error status means, and examples. Redocly's recommended rules pass without an
/// error (the Hosting tests lint it).
/// </summary>
internal static class JobApiDocument
{
    public const string BearerScheme = "bearer";

    public const string JobsTag = "Jobs";
    public const string ResultsTag = "Results";
    public const string ServingTag = "Serving";
    public const string HealthTag = "Health";

    /// <summary>What a form field the job leaves out takes: the node's configuration.</summary>
    private const string NodesDefault = "; default: the node's.";

    private static readonly (string Name, string Description)[] Tags =
    [
        (JobsTag, "Training jobs: submit one (multipart form), list them, follow one, cancel or delete it."),
        (ResultsTag, "What a succeeded job wrote, as `lstmcluster train` writes it into --out: forecast, metrics, plots, model, any file."),
        (ServingTag, "Live forecasts from the model a job trained, after the recent rows in the request body."),
        (HealthTag, "Liveness and readiness for probes and scripts: open, no token needed."),
    ];

    public static IServiceCollection AddJobApiDocument(this IServiceCollection services) =>
        services.AddOpenApi(openApi =>
        {
            openApi.AddDocumentTransformer(Document);
            openApi.AddOperationTransformer(Operation);
        });

    private static Task Document(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info.Title = "LstmCluster job API";
        document.Info.Description = "Train LSTM forecasting models on a cluster: submit a CSV with train's options, follow the job, read its "
            + "forecast and files, forecast live with its model. JSON names are snake_case; a loss or MASE that is not a number is null. "
            + "Every error is `{\"error\": reason}`.";
        // The server entry is the address the document was read at; a trailing slash would double it in front of every path.
        foreach (var server in document.Servers ?? [])
            if (server.Url is { Length: > 1 } url) server.Url = url.TrimEnd('/');
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "`Authorization: Bearer TOKEN`, a token the node was given (--api-token, or one line of --api-tokens FILE). "
                + "Each token has a role, and a role includes the ones before it: read (list, status, results, serving) < submit (also "
                + "submit, and cancel or delete its own jobs) < admin (any job). An operation's security names the role it needs. A node "
                + "without tokens (loopback only) is open: every caller is an anonymous admin. 401: no token, or one not accepted; 403: the "
                + "token's role is too low.",
        };
        return Task.CompletedTask;
    }

    private static Task Operation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        string path = context.Description.RelativePath ?? "";
        // /health and /ready are mapped beside the API (Node/HealthEndpoints): named and tagged here, by address.
        if (operation.OperationId is null && path is "health" or "ready")
        {
            operation.OperationId = path == "health" ? "GetHealth" : "GetReadiness";
            operation.Tags = new HashSet<OpenApiTagReference> { new(HealthTag, context.Document) };
        }

        var roles = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Where(ApiRoles.All.Contains).ToList();
        // No authorization metadata is an open operation: an explicit empty list says so (no requirement anywhere else).
        operation.Security = roles.Count == 0
            ? []
            : [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [Highest(roles)] }];

        // A response declared with a content type and no body type (files, plots, CSV) gets no content from ASP.NET Core, and of
        // two declarations for one status only the last is kept: the content types are added here, as bytes (a generated
        // client then hands out a stream, NSwag's FileResponse) or, for metrics.json, as a free-form object.
        foreach (var produces in metadata.OfType<IProducesResponseTypeMetadata>().Where(p => p.Type is null || p.Type == typeof(void)))
        {
            if (operation.Responses?.TryGetValue(produces.StatusCode.ToString(CultureInfo.InvariantCulture), out var declared) != true
                || declared is not OpenApiResponse response) continue;
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            foreach (var media in produces.ContentTypes.Where(m => !response.Content.ContainsKey(m)))
                response.Content[media] = new OpenApiMediaType
                {
                    Schema = media == "application/json"
                        ? new OpenApiSchema { Type = JsonSchemaType.Object, Description = "the job's metrics.json, as train writes it" }
                        : new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" },
                };
        }
        if (operation.OperationId is { } id && SuccessExample(id) is { } success
            && operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse okResponse
            && okResponse.Content?.TryGetValue("application/json", out var okJson) == true)
            okJson.Example = success;
        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (response is not OpenApiResponse r || ErrorMeaning(status) is not { } meaning) continue;
            r.Description = meaning;
            if (r.Content?.TryGetValue("application/json", out var json) == true && IsErrorView(json.Schema)) json.Example = ErrorExample(status);
        }
        return Task.CompletedTask;
    }

    private static string Highest(List<string> roles) => ApiRoles.All.Last(roles.Contains);

    private static bool IsErrorView(IOpenApiSchema? schema) =>
        schema is OpenApiSchemaReference reference && reference.Reference.Id == nameof(ErrorView);

    private static string? ErrorMeaning(string status) => status switch
    {
        "400" => "A bad value, an unknown field or column, a malformed CSV or an out-of-range option: the reason is in `error`",
        "401" => "No bearer token, or one the node does not accept (header WWW-Authenticate: Bearer)",
        "403" => "The token's role is too low (the reason names the role needed), or a cross-origin write",
        "404" => "No such job (or no such file of it)",
        "409" => "The job has not succeeded (yet): it has no such result",
        "413" => "The upload or body is larger than the node accepts",
        "415" => "The body's content type is not one this operation reads",
        "429" => "Too many requests for this token, or the job queue is full: retry after the Retry-After header's seconds",
        "503" => "The coordinator did not answer in time, or the node is not ready",
        "507" => "The token's jobs already hold its share of the node's storage (--max-stored-mb-per-owner): delete jobs it no longer needs, then submit again",
        _ => null,
    };

    /// <summary>A succeeded job (AirPassengers, 3 epochs) as the API shows it, for the operations that answer one.</summary>
    private static JsonNode? SuccessExample(string operationId) => operationId switch
    {
        "GetJob" or "CancelJob" => JobExample(),
        "ListJobs" => new JsonObject { ["jobs"] = new JsonArray(JobExample()) },
        "GetJobForecast" or "ForecastWithModel" => new JsonObject
        {
            ["job"] = "job-1",
            ["target"] = "value",
            ["points"] = new JsonArray(
                new JsonObject { ["step"] = 1, ["time"] = "1961-01", ["value"] = 446.2 },
                new JsonObject { ["step"] = 2, ["time"] = "1961-02", ["value"] = 431.8 }),
        },
        "GetJobHistory" => new JsonObject
        {
            ["id"] = "job-1",
            ["state"] = "Succeeded",
            ["epochs"] = new JsonArray(
                new JsonObject { ["epoch"] = 1, ["train_loss"] = 0.91, ["validation_loss"] = 1.12 },
                new JsonObject { ["epoch"] = 2, ["train_loss"] = 0.47, ["validation_loss"] = 0.63 }),
            ["source"] = "coordinator",
        },
        _ => null,
    };

    private static JsonObject JobExample() => new()
    {
        ["id"] = "job-1",
        ["state"] = "Succeeded",
        ["epoch"] = 3,
        ["epochs"] = 3,
        ["round"] = 6,
        ["train_loss"] = 0.21,
        ["validation_loss"] = 0.34,
        ["samples_per_second"] = 1850.5,
        ["workers"] = 1,
        ["data"] = "AirPassengers.csv",
        ["target"] = "value",
        ["reason"] = null,
        ["submitted"] = "2026-11-30T06:00:00+00:00",
        ["started"] = "2026-11-30T06:00:01+00:00",
        ["finished"] = "2026-11-30T06:00:03+00:00",
        ["forecast"] = new JsonArray(446.2),
        ["forecast_times"] = new JsonArray("1961-01"),
        ["test_mase"] = 0.82,
        ["best_baseline"] = "seasonal_naive",
        ["best_baseline_mase"] = 1.0,
        ["attempts"] = 1,
        ["resumed_from"] = 0,
        ["owner"] = "ci",
    };

    private static JsonNode? ErrorExample(string status) => status switch
    {
        "400" => new JsonObject { ["error"] = "lookback must be between 1 and 10000 (got 0)" },
        "401" => new JsonObject { ["error"] = "a bearer token is needed (Authorization: Bearer TOKEN)" },
        "403" => new JsonObject { ["error"] = "this needs role submit (the token 'dashboards' has role read)" },
        "404" => new JsonObject { ["error"] = "no job 'job-9'" },
        "409" => new JsonObject { ["error"] = "job 'job-1' is running: its forecast is there once it succeeded" },
        "413" => new JsonObject { ["error"] = "the upload is larger than this server accepts (67,108,864 bytes)" },
        "415" => new JsonObject { ["error"] = "expected a multipart/form-data body: the CSV as file field 'data' and train's options as fields (got application/json)" },
        "429" => new JsonObject { ["error"] = "too many requests for token 'ci': retry after 2 s" },
        "503" => new JsonObject { ["error"] = "the coordinator did not answer within 10 s" },
        "507" => new JsonObject { ["error"] = "'ci' stores 1.01 GB in 212 jobs, which reaches its limit of 1.00 GB (--max-stored-mb-per-owner): delete jobs it no longer needs (lstmcluster delete ID, or DELETE /jobs/{id} or /groups/{id}) and submit again" },
        _ => null,
    };

    /// <summary>
    /// <c>POST /jobs</c>'s body as <see cref="JobForm"/> reads it: every field, its range or choices, and this server's default
    /// (the built-in one overridden by its config file). The ranges are the ones the options' own validation enforces.
    /// </summary>
    public static Task DescribeJobForm(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var d = context.ApplicationServices.GetService<JobApiOptions>()?.Defaults ?? new RunOptionValues();
        var fields = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["data"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String, Format = "binary", ContentMediaType = "text/csv",
                Description = "The CSV to train on, as a file upload (UTF-8, a header row). Either this or `path`.",
            },
            ["path"] = Text("A CSV on the server, relative to its data root (--data-root); refused when the node has none. Either this or `data`.",
                example: "AirPassengers.csv"),
            ["target"] = Text("The column to forecast (required).", example: "value"),
            ["features"] = Text("More input columns, comma separated (the target is always one).", example: "temperature,holiday"),
            ["symbol"] = Text("Keep only the rows whose `symbol` column has this value (a file with several series); `all` or a list (A,B,C) makes a job group (see strategy)."),
            ["date-column"] = Text("The timestamp column; detected when not given."),
            ["date-format"] = Text("A .NET date format for the timestamp column (dd/MM/yyyy); detected from the whole column when not given.",
                example: "yyyy-MM"),
            ["missing"] = Choice("Missing values: forward fill, interpolate, drop the row, or refuse the file.", RunOptionValues.MissingChoices, d.Missing),
            ["on-duplicate"] = Choice("Rows sharing a timestamp: refuse, keep the last, or average them.", RunOptionValues.DuplicateChoices, d.OnDuplicate),
            ["sort"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Boolean, Default = JsonValue.Create(d.Sort),
                Description = "Sort the rows by time instead of refusing rows out of order (true/false, 1/0, yes/no).",
            },
            ["lookback"] = Int("Past steps the model sees for each forecast.", 1, 10_000, d.Lookback, example: 24),
            ["horizon"] = Int("Steps forecast at once.", 1, 10_000, d.Horizon),
            ["hidden"] = Int("LSTM hidden size.", 1, 4096, d.Hidden, example: 32),
            ["layers"] = Int("Stacked LSTM layers.", 1, 16, d.Layers),
            ["dropout"] = Number("Dropout between LSTM layers, in [0, 1).", d.Dropout, minimum: 0, exclusiveMaximum: 1),
            ["epochs"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String, Pattern = "^(auto|[0-9]+)$", Default = JsonValue.Create(d.Epochs), Examples = [JsonValue.Create("20")],
                Description = $"`auto` (train while the validation loss improves, within max-epochs and max-time) or a fixed count from 1 to {TrainingOptions.MaxEpochs}.",
            },
            ["max-epochs"] = Int("The epoch budget of epochs=auto.", 1, TrainingOptions.MaxEpochs, d.MaxEpochs),
            ["max-time"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String, Pattern = "^(|none|off|[0-9]+(\\.[0-9]+)?[smh]?)$", Default = JsonValue.Create(d.MaxTime),
                Examples = [JsonValue.Create("10m")], Description = "A wall-clock budget for training (90s, 10m, 1.5h, plain seconds); none, off or 0 for none.",
            },
            ["batch-size"] = Int("Windows per optimizer step (split among the workers).", 1, 1_000_000, d.BatchSize),
            ["lr"] = Number("Learning rate, in (0, 10].", d.Lr, exclusiveMinimum: 0, maximum: 10),
            ["optimizer"] = Choice("The optimizer the parameter server applies.", RunOptionValues.OptimizerChoices, d.Optimizer),
            ["lr-schedule"] = Choice("Learning-rate schedule over the epochs.", RunOptionValues.ScheduleChoices, d.LrSchedule),
            ["clip-norm"] = Number("Gradient norm clip; 0 is off.", d.ClipNorm, minimum: 0),
            ["patience"] = Int("Epochs without a validation improvement before stopping early; 0 never stops early.", 0, null, d.Patience),
            ["min-delta"] = Number("Relative improvement of the validation loss that counts, in [0, 1).", d.MinDelta, minimum: 0, exclusiveMaximum: 1),
            ["lr-plateau"] = Int("Epochs without improvement before the learning rate is halved; 0 is off.", 0, null, d.LrPlateau),
            ["season"] = Int("Season length in steps (12 for monthly data with a yearly cycle; 1 for none).", 1, 10_000, d.Season, example: 12),
            ["transform"] = Choice("Target transform before training.", RunOptionValues.TransformChoices, d.Transform),
            ["normalize"] = Choice("How windows are normalized; auto picks from the season and transform.", RunOptionValues.NormalizeChoices, d.Normalize),
            ["scaler"] = Choice("The scaler of normalize=global.", RunOptionValues.ScalerChoices, d.Scaler),
            ["seed"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Integer, Format = "int64", Default = JsonValue.Create(d.Seed), Description = "Random seed (weights, batches, dropout).",
            },
            ["quantiles"] = Text("Quantile levels of a quantile head, comma separated in (0, 1), with 0.5 among them (up to 99); none for a point forecast.",
                example: "0.1,0.5,0.9", defaultValue: d.Quantiles ?? "none"),
            ["strategy"] = Choice("With symbol=all or a list (a job group): per-series trains one model per series, one job each; global trains one model over every series "
                + "(each normalized on its own training split), one job on the workers.", ["per-series", "global"], "per-series"),
            ["series-id"] = Choice("strategy=global: none, or one-hot (every window also carries a one-hot indicator of its series).", SeriesSelection.SeriesIdChoices, "none"),
            ["workers"] = Int("Workers to train on; default: every free worker.", 1, 1024, null),
            ["priority"] = Int("Queue priority: higher runs first.", null, null, 0),
            ["mode"] = Choice(EngineOptions.ModeHelp + NodesDefault, ["sync", "async", "local-sgd"], null),
            ["staleness"] = Int(EngineOptions.StalenessHelp + NodesDefault, 0, 1_000_000, null),
            ["sync-period"] = Int(EngineOptions.SyncPeriodHelp + NodesDefault, 1, 1_000_000, null),
            ["sampling"] = Choice(EngineOptions.SamplingHelp + NodesDefault, EngineOptions.SamplingNames, null),
        };
        // Every field but target may be left out (the server's default applies): typed as also null, so that a generated client
        // (NSwag) leaves out a field it was given no value for, where it would refuse a null for a field that cannot be null.
        foreach (var (name, field) in fields)
            if (name != "target" && field is OpenApiSchema schema) schema.Type |= JsonSchemaType.Null;
        var form = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = fields,
            Required = new HashSet<string> { "target" },
            Description = "train's options by their flag names without dashes (batch-size; batch_size and batchSize are read too). "
                + "An unknown field, a field given twice or a value out of range is a 400 naming it.",
        };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "multipart/form-data only: a url-encoded form (what any web page can post) is refused with 415.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = form,
                    Encoding = new Dictionary<string, OpenApiEncoding> { ["data"] = new() { ContentType = "text/csv" } },
                },
            },
        };
        if (operation.Responses?.TryGetValue("202", out var accepted) == true && accepted is OpenApiResponse a)
        {
            a.Description = "Queued: the job's id, and its address in the Location header";
            if (a.Content?.TryGetValue("application/json", out var json) == true) json.Example = new JsonObject { ["id"] = "job-1" };
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>POST /sweeps</c>'s body: <c>POST /jobs</c>'s fields less <c>epochs</c> (each round sets it), with the sweep's grid and
    /// successive-halving plan; <c>max-epochs</c> is the last round's epochs here.
    /// </summary>
    public static async Task DescribeSweepForm(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        await DescribeJobForm(operation, context, ct);
        if (operation.RequestBody?.Content?.TryGetValue("multipart/form-data", out var media) != true || media!.Schema is not OpenApiSchema form
            || form.Properties is not { } fields) return;
        fields.Remove("epochs");
        fields["grid"] = Text("The options to sweep and their values, space separated name=v1,v2 (every combination is a trial); sweepable: "
            + string.Join(", ", Core.Sweeps.SweepGrid.Sweepable) + ". An unknown or unsweepable name, a bad value or more combinations than "
            + "max-trials is a 400 naming it.", example: "hidden=32,64 lookback=24,48 lr=1e-3,3e-3");
        fields["eta"] = Nullable(Int("Successive halving: the best 1/eta of a round's trials go on to the next, which trains eta times longer.", 2, 10, 3));
        fields["min-epochs"] = Nullable(Int("The fewest epochs of a round.", 1, TrainingOptions.MaxEpochs, 2));
        fields["max-epochs"] = Nullable(Int("The last round's epochs (each earlier round eta times fewer).", 1, 100_000, 50));
        fields["max-trials"] = Nullable(Int("Refuse a grid with more combinations than this.", 1, Core.Sweeps.SweepGrid.MaxTrialsLimit,
            Core.Sweeps.SweepGrid.DefaultMaxTrials));
        form.Required = new HashSet<string> { "target", "grid" };
        form.Description = "POST /jobs's fields (train's options by their flag names without dashes) but epochs, and the sweep's: grid, eta, "
            + "min-epochs, max-epochs, max-trials. Every trial takes one worker unless `workers` says otherwise.";
        if (operation.Responses?.TryGetValue("202", out var accepted) == true && accepted is OpenApiResponse a)
        {
            a.Description = "Accepted: the sweep group's id, and its address (/groups/{id}) in the Location header";
            if (a.Content?.TryGetValue("application/json", out var json) == true) json.Example = new JsonObject { ["id"] = "group-1" };
        }

        static OpenApiSchema Nullable(OpenApiSchema schema)
        {
            schema.Type |= JsonSchemaType.Null;
            return schema;
        }
    }

    /// <summary>
    /// DELETE answers one of several bodies with 200: the status of what it cancelled (a job's <see cref="JobView"/>, or for a
    /// group id a <see cref="GroupView"/>) or, for something already finished, <see cref="DeletedView"/>. ASP.NET Core keeps one
    /// type per status, so the 200 body is rewritten here as oneOf the possible views.
    /// </summary>
    public static async Task DescribeDeleteAnswers(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        if (operation.Responses?.TryGetValue("200", out var declared) != true || declared is not OpenApiResponse ok) return;
        bool group = operation.OperationId == "CancelGroup";
        Type[] answers = group ? [typeof(GroupView), typeof(DeletedView)] : [typeof(JobView), typeof(GroupView), typeof(DeletedView)];
        var schemas = new List<IOpenApiSchema>();
        foreach (var type in answers)
        {
            // By reference, as every other body: the views are components (DeletedView only answers here, so it is added).
            var components = context.Document?.Components?.Schemas;
            if (components is null || !components.ContainsKey(type.Name))
                context.Document?.AddComponent(type.Name, await context.GetOrCreateSchemaAsync(type, null, ct));
            schemas.Add(new OpenApiSchemaReference(type.Name, context.Document));
        }
        ok.Description = group
            ? "The group's status after the cancel (GroupView), or, for a finished group, that it was deleted with its members and files (DeletedView)"
            : "The job's status after the cancel (JobView; a group id answers its GroupView), or, for a finished job, that it was deleted with its files (DeletedView)";
        ok.Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/json"] = new() { Schema = new OpenApiSchema { OneOf = schemas } },
        };
    }

    /// <summary><c>POST /models/{id}/forecast</c>'s body: the recent rows, as CSV or as JSON rows (the handler reads either by hand).</summary>
    public static Task DescribeServingBody(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var row = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "One row: the training file's columns by name (every row the first row's keys), each a number, a string or null.",
            AdditionalProperties = new OpenApiSchema(),
        };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = $"The recent rows, at least a lookback of them, at most {JobApiExtensions.MaxServingBodyBytes / (1024 * 1024)} MiB.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["text/csv"] = new()
                {
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "CSV with the training file's header and columns." },
                    Example = JsonValue.Create("month,value\n1960-10,461\n1960-11,390\n1960-12,432\n"),
                },
                ["application/json"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Required = new HashSet<string> { "rows" },
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["rows"] = new OpenApiSchema { Type = JsonSchemaType.Array, MinItems = 1, Items = row },
                        },
                    },
                    Example = new JsonObject
                    {
                        ["rows"] = new JsonArray(
                            new JsonObject { ["month"] = "1960-11", ["value"] = 390 },
                            new JsonObject { ["month"] = "1960-12", ["value"] = 432 }),
                    },
                },
            },
        };
        return Task.CompletedTask;
    }

    private static OpenApiSchema Text(string description, string? example = null, string? defaultValue = null) => new()
    {
        Type = JsonSchemaType.String,
        Description = description,
        Examples = example is null ? null : [JsonValue.Create(example)],
        Default = defaultValue is null ? null : JsonValue.Create(defaultValue),
    };

    private static OpenApiSchema Choice(string description, IReadOnlyList<string> choices, string? defaultValue) => new()
    {
        Type = JsonSchemaType.String,
        Description = description,
        Enum = [.. choices.Select(c => (JsonNode)JsonValue.Create(c))],
        Default = defaultValue is null ? null : JsonValue.Create(defaultValue),
    };

    private static OpenApiSchema Int(string description, int? minimum, int? maximum, int? defaultValue, int? example = null) => new()
    {
        Type = JsonSchemaType.Integer,
        Format = "int32",
        Description = description,
        Minimum = Invariant(minimum),
        Maximum = Invariant(maximum),
        Default = defaultValue is { } v ? JsonValue.Create(v) : null,
        Examples = example is { } e ? [JsonValue.Create(e)] : null,
    };

    private static OpenApiSchema Number(string description, double defaultValue, double? minimum = null, double? maximum = null,
        double? exclusiveMinimum = null, double? exclusiveMaximum = null) => new()
    {
        Type = JsonSchemaType.Number,
        Format = "double",
        Description = description,
        Minimum = Invariant(minimum),
        Maximum = Invariant(maximum),
        ExclusiveMinimum = Invariant(exclusiveMinimum),
        ExclusiveMaximum = Invariant(exclusiveMaximum),
        Default = JsonValue.Create(defaultValue),
    };

    private static string? Invariant(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);

    private static string? Invariant(int? value) => value?.ToString(CultureInfo.InvariantCulture);
}
