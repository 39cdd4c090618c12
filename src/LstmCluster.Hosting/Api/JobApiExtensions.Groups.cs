using Akka.Hosting;
using LstmCluster.Actors.Protocol;
using LstmCluster.Hosting.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LstmCluster.Hosting.Api;

// Job groups: GET /groups/{id} (status with every member), DELETE /groups/{id} (cancel every member; a finished group is
// deleted with its members), GET /groups/{id}/files/{name}. GET and DELETE /jobs/{id} answer a group's id the same way.
public static partial class JobApiExtensions
{
    private static void MapGroups(WebApplication app)
    {
        var groups = app.MapGroup("/groups").AddEndpointFilter(CoordinatorFailures).RequireAuthorization(ApiRoles.Read)
            .WithMetadata(Answers(StatusCodes.Status401Unauthorized), Answers(StatusCodes.Status403Forbidden), Answers(StatusCodes.Status429TooManyRequests));
        groups.MapGet("/{id}", GroupStatusOf).Produces<GroupView>().Produces<ErrorView>(StatusCodes.Status404NotFound)
            .WithName("GetGroup").WithTags(JobApiDocument.JobsTag)
            .WithSummary("A job group over several series: its state, counts by state, progress and every member");
        groups.MapDelete("/{id}", CancelGroup).RequireAuthorization(ApiRoles.Submit).Produces<GroupView>().Produces<ErrorView>(StatusCodes.Status404NotFound)
            .AddOpenApiOperationTransformer(JobApiDocument.DescribeDeleteAnswers)
            .WithName("CancelGroup").WithTags(JobApiDocument.JobsTag)
            .WithSummary("Cancels every member of a running group; deletes a finished group with its members and files");
        groups.MapGet("/{id}/files/{**name}", GroupFile).Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .WithName("GetGroupFile").WithTags(JobApiDocument.ResultsTag)
            .WithSummary("A finished group's file: summary.json, series.csv, forecast.csv (with a symbol column), grid.png");
    }

    private static async Task<IResult> GroupStatusOf(string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options, CancellationToken ct) =>
        await Ask(coordinator, new GetJobStatus(id), options.AskTimeout, ct) switch
        {
            GroupStatus g => Json(GroupView.From(g)),
            JobStatus s => Error(StatusCodes.Status404NotFound, $"'{s.Job}' is a job, not a group: see /jobs/{s.Job}"),
            UnknownJob u => Error(StatusCodes.Status404NotFound, $"no group '{u.Job}'"),
            var other => Unexpected(other),
        };

    private static async Task<IResult> CancelGroup(HttpContext context, string id, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct)
    {
        switch (await Ask(coordinator, new GetJobStatus(id), options.AskTimeout, ct))
        {
            case UnknownJob u:
                return Error(StatusCodes.Status404NotFound, $"no group '{u.Job}'");
            case JobStatus s:
                return Error(StatusCodes.Status404NotFound, $"'{s.Job}' is a job, not a group: see /jobs/{s.Job}");
            case GroupStatus g when !context.User.IsInRole(ApiRoles.Admin) && (g.Owner is null || g.Owner != context.User.Identity?.Name):
                return ApiSecurity.Forbidden(context, $"group '{g.Group}' was submitted {(g.Owner is null ? "without a token" : $"by token '{g.Owner}'")}: cancelling or deleting another's group needs role admin");
            case GroupStatus:
                break;
            case var other:
                return Unexpected(other);
        }
        return await Ask(coordinator, new DeleteJob(id), options.AskTimeout, ct) switch
        {
            GroupStatus g => Json(GroupView.From(g)),
            JobRemoved r => Json(DeletedView.Of(r.Job)),
            UnknownJob u => Error(StatusCodes.Status404NotFound, $"no group '{u.Job}'"),
            var other => Unexpected(other),
        };
    }

    private static async Task<IResult> GroupFile(string id, string name, IRequiredActor<CoordinatorKey> coordinator, JobApiOptions options,
        CancellationToken ct) =>
        await Ask(coordinator, new GetJobArtifacts(id), options.AskTimeout, ct) switch
        {
            UnknownJob u => Error(StatusCodes.Status404NotFound, $"no group '{u.Job}'"),
            JobArtifacts a when a.Files.TryGetValue(name, out var bytes) => Results.Bytes(bytes, ContentType(name)),
            JobArtifacts { State: JobState.Queued or JobState.Running } a => Error(StatusCodes.Status409Conflict,
                $"group '{a.Job}' is {a.State.ToString().ToLowerInvariant()}: its files are there once every member ended"),
            JobArtifacts a => Error(StatusCodes.Status404NotFound, a.Files.Count == 0
                ? $"'{a.Job}' has no files"
                : $"'{a.Job}' has no file '{name}' (it has {string.Join(", ", a.Files.Keys)})"),
            var other => Unexpected(other),
        };
}
