using System.CommandLine;
using System.CommandLine.Parsing;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using LstmCluster.Actors.Protocol;
using LstmCluster.Cli.Output;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Reporting;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// The client side of the HTTP job API: <c>submit</c>, <c>status</c>, <c>cancel</c>, <c>delete</c> and <c>forecast --server</c>.
/// A 4xx from the server is bad input (exit 2, the server's reason: a refused token, a role the token lacks, a bad option);
/// an unreachable server or a 5xx exits 1. <c>--token</c> (or <c>LSTMCLUSTER_TOKEN</c>) is sent as a bearer token; with an
/// https:// server, <c>--ca</c> (or <c>LSTMCLUSTER_CA</c>) names a CA its certificate may be issued by.
/// </summary>
public static class ServerCommands
{
    public static Option<string> ServerOption(bool required = true) => new("--server")
    {
        Description = "job API of a node, e.g. http://127.0.0.1:5080",
        Required = required,
    };

    public const string TokenVariable = "LSTMCLUSTER_TOKEN";

    public static Option<string?> TokenOption() => new("--token")
    {
        Description = $"bearer token for a job API that asks for one [env {TokenVariable}] (the environment keeps it out of ps and the shell history)",
    };

    /// <summary>The token given with <c>--token</c>, else <c>LSTMCLUSTER_TOKEN</c>; null when neither is set.</summary>
    public static string? Token(ParseResult p, Option<string?> option) =>
        p.GetValue(option) is { Length: > 0 } given ? given
            : Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } env ? env : null;

    public const string CaVariable = "LSTMCLUSTER_CA";

    public static Option<string?> CaOption() => new("--ca")
    {
        Description = $"with an https:// server: a CA certificate (PEM or DER) its certificate may be issued by, beside the system's CAs, e.g. a cluster's ca.crt from scripts/make-certs.sh [env {CaVariable}]",
    };

    /// <summary>
    /// How to reach a job API beyond its URL: the bearer token and the CAs its HTTPS certificate may be issued by
    /// (<see cref="Access"/>).
    /// </summary>
    public sealed record ServerAccess(string? Token, X509Certificate2Collection? Authorities)
    {
        public JobApiClient Connect(string server) => new(JobApiClient.ParseServer(server), token: Token, authorities: Authorities);
    }

    /// <summary>
    /// The token (<see cref="Token"/>) and the CA file given with <c>--ca</c>, else <c>LSTMCLUSTER_CA</c>, read now: a missing or
    /// unreadable file is bad usage naming it.
    /// </summary>
    public static ServerAccess Access(ParseResult p, Option<string?> token, Option<string?> ca)
    {
        string? file = p.GetValue(ca) is { Length: > 0 } given ? given
            : Environment.GetEnvironmentVariable(CaVariable) is { Length: > 0 } env ? env : null;
        return new ServerAccess(Token(p, token), file is null ? null : ServerCertificateCheck.LoadAuthorities(Path.GetFullPath(file)));
    }

    /// <summary><c>lstmcluster submit --server URL --data FILE --target COL [train options] [--workers K] [--priority P] [--wait]</c>.</summary>
    public static Command Submit(Defaults defaults)
    {
        var args = new RunArguments(defaults);
        var server = ServerOption();
        var workers = new Option<int?>("--workers") { Description = "workers for this job (default: the server's)" };
        var priority = new Option<int>("--priority") { Description = "higher runs first (default 0)" };
        var engine = EngineFields();
        var wait = new Option<bool>("--wait") { Description = "follow the job's progress until it ends and print its results (Ctrl+C stops following, not the job)" };
        var strategy = new Option<string>("--strategy") { Description = "with --symbol all or a list (a job group; prints the group id): per-series (one job per series, run at once on free workers) or global (one model over every series, one job data-parallel on the workers)" };
        strategy.AcceptOnlyFromAmong("per-series", "global");
        var seriesId = new Option<string>("--series-id") { Description = "with --strategy global: none or one-hot (a one-hot series indicator as extra inputs)" };
        seriesId.AcceptOnlyFromAmong([.. SeriesSelection.SeriesIdChoices]);
        var token = TokenOption();
        var ca = CaOption();
        var command = new Command("submit", "Submit a training job to a job API server; prints the job id");
        command.Options.Add(server);
        command.Options.Add(token);
        command.Options.Add(ca);
        args.AddTo(command);
        command.Options.Add(workers);
        command.Options.Add(priority);
        foreach (var option in engine) command.Options.Add(option);
        command.Options.Add(wait);
        command.Options.Add(strategy);
        command.Options.Add(seriesId);
        command.SetAction((p, ct) => Guard(async () =>
        {
            // Only what was given on the command line: everything else takes the server's defaults.
            var fields = GivenFields(p, args.All.Append(workers).Append(priority).Append(strategy).Append(seriesId).Concat(engine).Where(o => o != args.Data));
            var data = p.GetValue(args.Data)!;
            if (!data.Exists) throw new DataException(data.FullName, null, "file not found");
            using var client = Access(p, token, ca).Connect(p.GetValue(server)!);
            string id = await client.SubmitAsync(data.FullName, fields, ct);
            Console.WriteLine(id);
            if (!p.GetValue(wait)) return 0;
            return IsGroup(id) ? await FollowGroup(client, id, ct) : await Follow(client, id, ct);
        }));
        return command;
    }

    /// <summary>
    /// The options given on the command line, as the job API's form fields (their names without dashes): only those,
    /// so everything else takes the server's defaults, which come from the same config file.
    /// </summary>
    internal static Dictionary<string, string> GivenFields(ParseResult p, IEnumerable<Option> options)
    {
        var fields = new Dictionary<string, string>();
        foreach (var option in options)
        {
            if (p.GetResult(option) is not OptionResult { Implicit: false } given) continue;
            fields[option.Name.TrimStart('-')] = string.Join(",", given.Tokens.Select(t => t.Value));
        }
        return fields;
    }

    /// <summary>How the job trains on the cluster, passed through as form fields when given (the server's defaults otherwise).</summary>
    internal static Option[] EngineFields()
    {
        const string ServersDefault = "; default: the server's";
        var mode = new Option<string>("--mode") { Description = EngineOptions.ModeHelp + ServersDefault };
        mode.AcceptOnlyFromAmong([.. Vocabulary.Modes.All]);
        var sampling = new Option<string>("--sampling") { Description = EngineOptions.SamplingHelp + ServersDefault };
        sampling.AcceptOnlyFromAmong(EngineOptions.SamplingNames);
        return
        [
            mode,
            new Option<int>("--staleness") { Description = EngineOptions.StalenessHelp + ServersDefault },
            new Option<int>("--sync-period") { Description = EngineOptions.SyncPeriodHelp + ServersDefault },
            sampling,
        ];
    }

    /// <summary><c>lstmcluster status --server URL [ID]</c>.</summary>
    public static Command Status()
    {
        var server = ServerOption();
        var id = new Argument<string?>("ID") { Description = "a job id (default: every job)", Arity = ArgumentArity.ZeroOrOne };
        var token = TokenOption();
        var ca = CaOption();
        var command = new Command("status", "Show the jobs on a job API server, or one job in detail") { server, token, ca, id };
        command.SetAction((p, ct) => Guard(async () =>
        {
            using var client = Access(p, token, ca).Connect(p.GetValue(server)!);
            if (p.GetValue(id) is { } group && IsGroup(group))
            {
                var status = await client.GroupStatusAsync(group, ct);
                ServerReport.Group(status);
                await PrintGroupSummary(client, status, ct);
            }
            else if (p.GetValue(id) is { } job)
            {
                var status = await client.StatusAsync(job, ct);
                ServerReport.Detail(status);
                if (status.State == Vocabulary.JobStates.Succeeded) await PrintResults(client, status, ct);
            }
            else
            {
                ServerReport.Jobs(await client.ListAsync(ct));
                ServerReport.Groups(await client.ListGroupsAsync(ct));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// <c>lstmcluster cancel --server URL ID...</c>: stops queued or running jobs (or groups: every member). An ended one is
    /// left alone and said so: the API's DELETE would delete it, which is <c>delete</c>'s to do.
    /// </summary>
    public static Command Cancel()
    {
        var server = ServerOption();
        var ids = new Argument<string[]>("ID") { Description = "job or group ids (job-N, group-N)", Arity = ArgumentArity.OneOrMore };
        var token = TokenOption();
        var ca = CaOption();
        var command = new Command("cancel", "Cancel queued or running jobs (or job groups) on a job API server") { server, token, ca, ids };
        command.SetAction((p, ct) => Guard(async () =>
        {
            using var client = Access(p, token, ca).Connect(p.GetValue(server)!);
            int exit = 0;
            foreach (string id in p.GetValue(ids)!)
            {
                string state = await StateOf(client, id, ct);
                if (Vocabulary.JobStates.IsEnded(state))
                {
                    Console.Error.WriteLine($"error: {id} has already ended ({state}): nothing to cancel (lstmcluster delete removes it with its files)");
                    exit = CliApp.ExitBadInput;
                    continue;
                }
                Console.WriteLine($"{id}: {(await client.DeleteAsync(id, IsGroup(id), ct)).State}");
            }
            return exit;
        }));
        return command;
    }

    /// <summary>
    /// <c>lstmcluster delete --server URL ID...</c>: deletes jobs (or groups, with their members) and their files, which frees
    /// the token's share of the disk (<c>--max-stored-mb-per-owner</c>). A queued or running one is cancelled first, and
    /// deleted once it has ended.
    /// </summary>
    public static Command Delete()
    {
        var server = ServerOption();
        var ids = new Argument<string[]>("ID") { Description = "job or group ids (job-N, group-N)", Arity = ArgumentArity.OneOrMore };
        var token = TokenOption();
        var ca = CaOption();
        var command = new Command("delete", "Delete jobs (or job groups) and their files on a job API server; a running one is cancelled first") { server, token, ca, ids };
        command.SetAction((p, ct) => Guard(async () =>
        {
            using var client = Access(p, token, ca).Connect(p.GetValue(server)!);
            foreach (string id in p.GetValue(ids)!)
            {
                bool group = IsGroup(id);
                string state = await StateOf(client, id, ct);
                if (!Vocabulary.JobStates.IsEnded(state))
                {
                    Console.WriteLine($"{id}: {state}, cancelling it first");
                    await client.DeleteAsync(id, group, ct);
                    // A job is Cancelled at once; a group once each of its running members' runners has stopped.
                    var until = DateTime.UtcNow + CancelWait;
                    while (!Vocabulary.JobStates.IsEnded(state = await StateOf(client, id, ct)))
                    {
                        if (DateTime.UtcNow > until)
                        {
                            Console.Error.WriteLine($"error: {id} is still {state} {CancelWait.TotalSeconds:0} s after its cancel; run delete again once it has ended");
                            return CliApp.ExitFailure;
                        }
                        await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
                    }
                }
                var deleted = await client.DeleteAsync(id, group, ct);
                Console.WriteLine($"{id}: {deleted.State} with its files (it had ended {state})");
            }
            return 0;
        }));
        return command;
    }

    private static readonly TimeSpan CancelWait = TimeSpan.FromMinutes(2);

    private static async Task<string> StateOf(JobApiClient client, string id, CancellationToken ct) =>
        IsGroup(id) ? (await client.GroupStatusAsync(id, ct)).State : (await client.StatusAsync(id, ct)).State;

    /// <summary>
    /// <c>lstmcluster forecast --server URL ID --data recent.csv</c>: the server forecasts after the file's rows with the job's model
    /// (live serving); printed, or written as CSV to <paramref name="outFile"/>.
    /// </summary>
    public static Task<int> ServeForecast(string serverText, ServerAccess access, string id, string dataPath, string? outFile, CancellationToken ct) => Guard(async () =>
    {
        if (!File.Exists(dataPath)) throw new CliUsageException($"forecast: --data {dataPath}: file not found");
        using var client = access.Connect(serverText);
        var forecast = await client.ServeForecastAsync(id, await File.ReadAllTextAsync(dataPath, ct), ct);
        ServerReport.Forecast(forecast);
        if (outFile is null) return 0;
        var sb = new System.Text.StringBuilder("step,time,forecast\n");
        foreach (var p in forecast.Points)
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{p.Step},{p.Time},{p.Value:R}\n");
        OutputPaths.WriteFile(outFile, temp => File.WriteAllText(temp, sb.ToString()));
        Report.Written([outFile]);
        return 0;
    });

    /// <summary>The server half of <c>lstmcluster forecast</c>: print a job's forecast, or write forecast.csv and forecast.png into <paramref name="outDir"/>.</summary>
    public static Task<int> Forecast(string serverText, ServerAccess access, string id, string? outDir, CancellationToken ct) => Guard(async () =>
    {
        using var client = access.Connect(serverText);
        var forecast = await client.ForecastAsync(id, ct);
        ServerReport.Forecast(forecast);
        if (outDir is null) return 0;
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        foreach (var name in new[] { "forecast.csv", "forecast.png" })
        {
            var path = Path.Combine(outDir, name);
            var bytes = await client.ArtifactAsync(id, name, ct);
            OutputPaths.WriteFile(path, temp => File.WriteAllBytes(temp, bytes));
            written.Add(path);
        }
        Report.Written(written);
        return 0;
    });

    /// <summary>Polls the job about once a second, showing its epochs, until it ends; then prints its results.</summary>
    private static async Task<int> Follow(JobApiClient client, string id, CancellationToken ct)
    {
        if (await Following(client, id, token => ServerReport.Follow(id, t => client.StatusAsync(id, t), TimeSpan.FromSeconds(1), token), ct) is not { } status)
            return CliApp.ExitCancelled;
        ServerReport.Detail(status);
        if (status.State != Vocabulary.JobStates.Succeeded)
        {
            Console.Error.WriteLine($"error: job {id} {status.State}{(status.Reason is { } r ? $": {r}" : "")}");
            return CliApp.ExitFailure;
        }
        await PrintResults(client, status, ct);
        return 0;
    }

    /// <summary>Group ids are the coordinator's <c>group-N</c>.</summary>
    private static bool IsGroup(string id) => id.StartsWith("group-", StringComparison.Ordinal);

    /// <summary>Polls the group about once a second, a line whenever its counts change, until every member ended; then its table and summary.</summary>
    private static async Task<int> FollowGroup(JobApiClient client, string id, CancellationToken ct)
    {
        var followed = await Following(client, id, async token =>
        {
            string? last = null;
            while (true)
            {
                var status = await client.GroupStatusAsync(id, token);
                string line = ServerReport.GroupLine(status);
                if (line != last) Console.WriteLine(line);
                last = line;
                if (Vocabulary.JobStates.IsEnded(status.State)) return status;
                await Task.Delay(TimeSpan.FromSeconds(1), token);
            }
        }, ct);
        if (followed is not { } ended) return CliApp.ExitCancelled;
        ServerReport.Group(ended);
        await PrintGroupSummary(client, ended, ct);
        if (ended.State == Vocabulary.JobStates.Succeeded) return 0;
        Console.Error.WriteLine($"error: group {id} {ended.State}{(ended.Reason is { } r ? $": {r}" : "")}");
        return CliApp.ExitFailure;
    }

    /// <summary>
    /// Runs <paramref name="follow"/> until it returns; Ctrl+C ends the following only (the job is the server's, and
    /// <c>status</c> or another <c>--wait</c> picks it up again): null then, after saying so.
    /// </summary>
    private static async Task<T?> Following<T>(JobApiClient client, string id, Func<CancellationToken, Task<T>> follow, CancellationToken ct) where T : class
    {
        using var following = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler stop = (_, e) =>
        {
            e.Cancel = true;
            following.Cancel();
        };
        Console.CancelKeyPress += stop;
        try
        {
            return await follow(following.Token);
        }
        catch (OperationCanceledException) when (following.IsCancellationRequested)
        {
            Console.Error.WriteLine($"stopped following {id}; it keeps running (lstmcluster status --server {client.Server.ToString().TrimEnd('/')} {id})");
            return null;
        }
        finally
        {
            Console.CancelKeyPress -= stop;
        }
    }

    private static async Task PrintGroupSummary(JobApiClient client, GroupView status, CancellationToken ct)
    {
        if (!Vocabulary.JobStates.IsEnded(status.State)) return;
        try
        {
            using var summary = JsonDocument.Parse(await client.GroupFileAsync(status.Id, "summary.json", ct));
            ServerReport.GroupSummary(summary.RootElement);
        }
        catch (JobApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // No series trained (or the coordinator keeps no files): the table above says why.
        }
    }

    internal static async Task PrintResults(JobApiClient client, JobView status, CancellationToken ct)
    {
        try
        {
            using var metrics = JsonDocument.Parse(await client.ArtifactAsync(status.Id, "metrics.json", ct));
            ServerReport.Metrics(metrics.RootElement, status);
        }
        catch (JobApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // A coordinator without an artifact writer keeps no metrics.json; the status line above has the MASE.
        }
        ServerReport.Forecast(await client.ForecastAsync(status.Id, ct));
    }

    /// <summary>Maps the client's failures to the CLI's exit codes with one line each.</summary>
    internal static async Task<int> Guard(Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (JobApiException e)
        {
            Console.Error.WriteLine($"error: {e.Reason} ({(int)e.StatusCode} from {e.Url})");
            return e.IsClientError ? CliApp.ExitBadInput : CliApp.ExitFailure;
        }
        catch (JobApiUnreachableException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliApp.ExitFailure;
        }
        catch (JobApiCertificateException e)
        {
            // Trying again cannot help: the certificate, the URL or --ca has to change.
            Console.Error.WriteLine($"error: {e.Message}");
            return CliApp.ExitBadInput;
        }
    }
}
