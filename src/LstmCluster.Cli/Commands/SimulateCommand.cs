using System.CommandLine;
using System.CommandLine.Parsing;
using System.IO.Compression;
using LstmCluster.Cli.Output;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Hosting.Simulation;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster simulate --workers K --data FILE --target COL ...</c>: the real cluster on one machine. Starts a
/// coordinator node, a parameter-server node and K worker nodes as separate processes on 127.0.0.1 (free ports),
/// runs the job through the HTTP API with live progress, prints the results, writes the same files as
/// <c>train</c>, and stops every process: on success, on failure and on Ctrl+C (which also cancels the job).
/// </summary>
public static class SimulateCommand
{
    /// <summary>Files a job leaves besides the model (the model comes as one zip).</summary>
    private static readonly string[] Files = ["metrics.json", "forecast.csv", "test_predictions.csv", "forecast.png", "loss.png"];

    public static Command Create(Defaults defaults)
    {
        var args = new RunArguments(defaults);
        var workers = new Option<int>("--workers") { Description = "worker processes (K)", DefaultValueFactory = _ => 2 };
        var torchThreads = new Option<int>("--torch-threads") { Description = "libtorch threads per node process", DefaultValueFactory = _ => 1 };
        var outDir = new Option<DirectoryInfo>("--out")
        {
            Description = "output directory (model/, forecast.csv, metrics.json, plots, node logs in logs/)",
            DefaultValueFactory = _ => new DirectoryInfo(defaults.String("out", "runs/latest")),
        };
        var tls = new Option<bool>("--tls")
        {
            Description = "TLS with mutual authentication between the node processes: a throwaway CA and node certificate, made for the run and deleted after it",
        };
        var lane = new Option<string>("--bulk-lane")
        {
            Description = "on: weights, gradients and shards travel on the nodes' bulk lane (a connection of their own); off: through Akka.Remote like everything else (for comparison)",
            DefaultValueFactory = _ => "on",
        };
        lane.AcceptOnlyFromAmong("on", "off");
        var command = new Command("simulate", "Run a job on a local multi-node cluster: K worker processes, a parameter server and a coordinator on 127.0.0.1");
        var engine = ServerCommands.EngineFields();
        args.AddTo(command);
        foreach (var option in engine) command.Options.Add(option);
        command.Options.Add(workers);
        command.Options.Add(torchThreads);
        command.Options.Add(outDir);
        command.Options.Add(tls);
        command.Options.Add(lane);
        command.SetAction((p, ct) => ServerCommands.Guard(async () =>
        {
            int k = p.GetValue(workers);
            if (k is < 1 or > 64) throw new CliUsageException($"--workers must be between 1 and 64 (got {k})");
            int threads = p.GetValue(torchThreads);
            if (threads is < 1 or > 256) throw new CliUsageException($"--torch-threads must be between 1 and 256 (got {threads})");
            var data = p.GetValue(args.Data)!;
            if (!data.Exists) throw new DataException(data.FullName, null, "file not found");
            // Bad option values (quantiles out of order, ...) exit 2 here, before any node starts.
            var run = args.Values(p).ToRunOptions();
            run.Validate();
            if (LstmCluster.Core.Data.SeriesSelection.IsMany(run.Data.Symbol))
                throw new CliUsageException($"simulate trains one series (--symbol {run.Data.Symbol} names several): use train --symbol ..., or submit it to a node");
            // What the user gave; everything else takes the node's defaults, which are the same config file's.
            var fields = ServerCommands.GivenFields(p, args.All.Concat(engine).Where(o => o != args.Data));
            fields["workers"] = k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string output = p.GetValue(outDir)!.FullName;
            return await Run(data.FullName, fields, k, threads, output, p.GetValue(tls), p.GetValue(lane) == "on", ct);
        }));
        return command;
    }

    private static async Task<int> Run(string data, Dictionary<string, string> fields, int k, int threads, string output, bool tls, bool bulkLane,
        CancellationToken ct)
    {
        // Ctrl+C cancels the job and stops the nodes; the finally blocks below do both.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        var (exe, exeArgs) = LocalClusterOptions.Self();
        string logs = Path.Combine(output, "logs");
        Console.WriteLine($"simulate: a coordinator, a parameter server and {k} worker process(es) on 127.0.0.1, {threads} torch thread(s) each"
            + (tls ? ", TLS between them" : "") + (bulkLane ? "" : ", weights and gradients through Akka.Remote (--bulk-lane off)"));
        // The CA's key is never written: nothing outside this run can be issued a certificate its nodes accept.
        string? certificates = tls ? Directory.CreateTempSubdirectory("lstmcluster-tls-").FullName : null;
        var nodeTls = certificates is null ? null : LocalClusterTls.From(Hosting.Node.ClusterCertificates.Create(certificates, "node"));
        LocalCluster? cluster = null;
        string? id = null;
        JobApiClient? client = null;
        try
        {
            cluster = await LocalCluster.Start(new LocalClusterOptions(exe, exeArgs, k, logs, threads, Tls: nodeTls,
                Hocon: bulkLane ? null : Actors.Remoting.BulkLane.OffHocon), line => Console.WriteLine($"  {line}"), stop.Token);
            client = new JobApiClient(cluster.Url);
            id = await client.SubmitAsync(data, fields, stop.Token);
            Console.WriteLine($"job {id} submitted to {cluster.Url}");
            var status = await ServerReport.Follow(id, token => client.StatusAsync(id, token), TimeSpan.FromSeconds(1), stop.Token);
            ServerReport.Detail(status);
            if (status.State != Vocabulary.JobStates.Succeeded)
            {
                Console.Error.WriteLine($"error: job {id} {status.State}{(status.Reason is { } r ? $": {r}" : "")} (node logs in {logs})");
                return status.Reason is { } reason && reason.Contains("rejected", StringComparison.OrdinalIgnoreCase) ? CliApp.ExitBadInput : CliApp.ExitFailure;
            }
            await ServerCommands.PrintResults(client, status, stop.Token);
            Report.Written(await Download(client, id, output, stop.Token));
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("cancelled: stopping the job and the nodes");
            if (client is not null && id is not null)
            {
                try
                {
                    await client.CancelAsync(id, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (Exception e) when (e is JobApiException or JobApiUnreachableException or TimeoutException)
                {
                    // The nodes stop next anyway.
                }
            }
            return CliApp.ExitCancelled;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            client?.Dispose();
            if (cluster is not null)
            {
                int count = cluster.Nodes.Count;
                await cluster.DisposeAsync();
                Console.WriteLine($"stopped {count} node processes (logs in {logs})");
            }
            if (certificates is not null) Directory.Delete(certificates, recursive: true);
        }
    }

    /// <summary>The job's files into <paramref name="output"/>, laid out as <c>train</c> writes them.</summary>
    private static async Task<List<string>> Download(JobApiClient client, string id, string output, CancellationToken ct)
    {
        Directory.CreateDirectory(output);
        var written = new List<string>();
        using (var zip = new ZipArchive(new MemoryStream(await client.ModelZipAsync(id, ct)), ZipArchiveMode.Read))
        {
            string modelDir = Path.Combine(output, "model");
            Directory.CreateDirectory(modelDir);
            foreach (var entry in zip.Entries.Where(e => e.Name.Length > 0))
            {
                // Entries are model/<file> or <file>: only the file name is used, so nothing lands outside model/.
                string target = Path.Combine(modelDir, Path.GetFileName(entry.FullName));
                await using var from = entry.Open();
                await using var to = File.Create(target);
                await from.CopyToAsync(to, ct);
            }
            written.Add(modelDir + "/");
        }
        foreach (var name in Files)
        {
            string path = Path.Combine(output, name);
            await File.WriteAllBytesAsync(path, await client.ArtifactAsync(id, name, ct), ct);
            written.Add(path);
        }
        return written;
    }
}
