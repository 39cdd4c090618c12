using System.Globalization;
using Akka.Actor;
using Akka.Hosting;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Sweeps;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LstmCluster.Hosting.Api;

// Sweeps: POST /sweeps (the form of POST /jobs plus grid, eta, min-epochs, max-epochs, max-trials) starts a sweep group that the
// coordinator runs round by round; it is followed, cancelled and read like any group (/groups/{id}). GET /groups lists every group.
public static partial class JobApiExtensions
{
    /// <summary>The sweep's own form fields; <c>epochs</c> is read only to refuse it (the rounds set each trial's epochs).</summary>
    internal static readonly IReadOnlySet<string> SweepFields = new HashSet<string>(StringComparer.Ordinal)
    {
        "grid", "eta", "min-epochs", "max-epochs", "max-trials", "epochs",
    };

    private static void MapSweeps(WebApplication app)
    {
        var sweeps = app.MapGroup("/sweeps").AddEndpointFilter(CoordinatorFailures).RequireAuthorization(ApiRoles.Read)
            .WithMetadata(Answers(StatusCodes.Status401Unauthorized), Answers(StatusCodes.Status403Forbidden), Answers(StatusCodes.Status429TooManyRequests),
                Answers(StatusCodes.Status503ServiceUnavailable));
        sweeps.MapPost("/", SubmitSweep).DisableAntiforgery().RequireAuthorization(ApiRoles.Submit).LimitedAsSubmission()
            .AddOpenApiOperationTransformer(JobApiDocument.DescribeSweepForm)
            .Produces<SubmittedView>(StatusCodes.Status202Accepted)
            .Produces<ErrorView>(StatusCodes.Status400BadRequest)
            .Produces<ErrorView>(StatusCodes.Status413PayloadTooLarge)
            .Produces<ErrorView>(StatusCodes.Status507InsufficientStorage)
            .Produces<ErrorView>(StatusCodes.Status415UnsupportedMediaType)
            .WithName("SubmitSweep").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Start a sweep: every combination of a grid of options trained as a job group, with successive halving by validation MASE")
            .WithDescription("The form of POST /jobs plus `grid` (and eta, min-epochs, max-epochs, max-trials). Answers the group's id; follow it at "
                + "/groups/{id}: its round, members and leaderboard. Once it succeeded its files are leaderboard.csv, sweep.json and the best trial's "
                + "files (model/ included), so /jobs/{id}/model and POST /models/{id}/forecast serve the best model.");
        var groups = app.MapGroup("/groups").AddEndpointFilter(CoordinatorFailures).RequireAuthorization(ApiRoles.Read)
            .WithMetadata(Answers(StatusCodes.Status401Unauthorized), Answers(StatusCodes.Status403Forbidden), Answers(StatusCodes.Status429TooManyRequests),
                Answers(StatusCodes.Status503ServiceUnavailable));
        groups.MapGet("/", ListGroupsOf).Produces<GroupListView>().WithName("ListGroups").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Every job group (several series, or a sweep), newest first, with its state, counts and members");
    }

    private static async Task<IResult> SubmitSweep(HttpContext context, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct)
    {
        var form = await JobForm.Read(context, options, ct, SweepFields);
        if (form.Error is { } error) return error;
        var extra = form.Extra;
        SweepRequest request;
        try
        {
            if (extra.ContainsKey("epochs"))
                throw new ArgumentException("epochs is the sweep's to set (each round trains longer); max-epochs is the last round's epochs");
            if (!extra.TryGetValue("grid", out var grid) || string.IsNullOrWhiteSpace(grid))
                throw new ArgumentException("grid: no parameters (e.g. grid=\"hidden=32,64 lr=1e-3,3e-3\")");
            request = new SweepRequest(grid.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries),
                SweepInt(extra, "eta", 3), SweepInt(extra, "min-epochs", 2), SweepInt(extra, "max-epochs", 50),
                SweepInt(extra, "max-trials", SweepGrid.DefaultMaxTrials));
            // Checked here too for the common mistakes without a round trip; the coordinator checks again.
            request.Parse(form.Values!);
        }
        catch (ArgumentException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }
        var job = form.Job!;
        var sweep = new SubmitSweep(form.Values!, request, job.CsvText, job.Priority, job.Workers, job.Mode, job.Staleness, job.SyncPeriod,
            job.Sampling, context.User.Identity?.Name);
        var reply = await Ask(coordinator, sweep, options.SubmitTimeout, ct, context.RequestServices.GetService<ActorSystem>());
        return reply switch
        {
            JobAccepted a => Results.Json(new SubmittedView(a.Job), JobApiJson.Options, statusCode: StatusCodes.Status202Accepted)
                .WithLocation($"/groups/{Uri.EscapeDataString(a.Job)}"),
            JobRejected { Busy: true } r => Busy(context, r.Reason),
            JobRejected { OverQuota: true } r => Error(StatusCodes.Status507InsufficientStorage, r.Reason),
            JobRejected r => Error(StatusCodes.Status400BadRequest, WithoutServerPaths(r.Reason, options)),
            _ => Unexpected(reply),
        };
    }

    private static int SweepInt(IReadOnlyDictionary<string, string> fields, string name, int defaultValue) =>
        !fields.TryGetValue(name, out var text) ? defaultValue
        : int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
        : throw new ArgumentException($"{name} must be an integer (got '{text}')");

    private static async Task<IResult> ListGroupsOf(IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct) =>
        await Ask(coordinator, ListGroups.Instance, options.AskTimeout, ct) switch
        {
            GroupList list => Json(new GroupListView([.. list.Groups.Select(GroupView.From)])),
            var other => Unexpected(other),
        };
}
