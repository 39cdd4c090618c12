using System.CommandLine;
using LstmCluster.Core.Configuration;
using LstmCluster.Hosting.Node;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster node</c>: runs one cluster node until Ctrl+C / SIGTERM. Every option also comes from
/// an environment variable (<see cref="NodeOptions.EnvironmentNames"/>) or the <c>node</c> section of the
/// config file; <see cref="NodeOptions.Layers"/> puts them together (a flag wins over the environment, the environment over the file).
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var command = new Command("node", "run a cluster node (coordinator, parameter-server and/or worker) until Ctrl+C");
        var options = new Dictionary<string, Option<string?>>();
        void Add(string name, string description)
        {
            var env = NodeOptions.EnvironmentNames[name];
            var option = new Option<string?>($"--{name}") { Description = $"{description} [env {env}]" };
            options[name] = option;
            command.Options.Add(option);
        }
        Add("roles", "comma-separated roles: coordinator, parameter-server, worker (default: all three)");
        Add("host", "address to bind (0.0.0.0 in a container; default 127.0.0.1)");
        Add("public-host", "address other nodes reach this one at (default: --host, or the host name when binding 0.0.0.0)");
        Add("port", "Akka.Remote port (default 4053; 0 = any free port)");
        Add("seeds", "seed nodes, comma separated: akka.tcp://lstm@host:4053 (akka.ssl.tcp:// with TLS; none: found a new cluster)");
        foreach (var (name, description) in NodeDiscoveryOptions.Flags) Add(name, description);
        Add("http-port", "HTTP port for the job API (coordinator) and /health, /ready (default 5080; 0 = none)");
        Add("torch-threads", "libtorch threads for this node's computations (default: libtorch's choice)");
        Add("log-format", "log lines as text (default) or json, one object a line");
        Add("expect-workers", "workers /ready waits for before it answers 200 (default 1)");
        Add("max-concurrent-jobs", "jobs the coordinator trains at once (default 1)");
        Add("data-root", "directory jobs may name as server-side data (POST /jobs field 'path')");
        Add("max-upload-mb", "largest CSV upload the API accepts, MiB (default 64)");
        Add("state-dir", "coordinator: job journal (SQLite) and job files; shared by every coordinator-role node (default ./lstmcluster-state)");
        Add("journal-connection", "coordinator: the journal's database connection string (default: SQLite in --state-dir)");
        Add("journal-provider", "coordinator: the journal's database, a Linq2Db provider name (default SQLite.MS; e.g. PostgreSQL)");
        Add("keep-jobs", "coordinator: finished jobs kept with their files, the oldest deleted first (default 1000)");
        Add("keep-days", "coordinator: delete finished jobs older than this many days (default: kept by count only)");
        Add("max-queued-jobs", "coordinator: jobs that may wait before a submission is refused with 429 (default 100)");
        Add("max-queued-per-owner", "coordinator: jobs one API token may have waiting, beyond which its submissions get 429 (default: no limit but --max-queued-jobs)");
        Add("max-running-per-owner", "coordinator: jobs one API token may have training at once; its others wait while other tokens' jobs start (default: no limit but --max-concurrent-jobs)");
        Add("max-stored-mb-per-owner", "coordinator: MB one API token's jobs may hold in the state directory (uploads, checkpoints, models, outputs), beyond which its submissions get 507 until it deletes jobs (default: no limit but --keep-jobs, --keep-days)");
        Add("max-job-parameters", "coordinator: largest model a job may ask for, in parameters (default 4000000)");
        Add("max-job-work", "coordinator: largest training a job may ask for, parameters x windows x epochs (default 4e13, about a day on 2 cores)");
        Add("checkpoint-every", "coordinator: parameter-server checkpoints at epoch ends and at least this often: 30s (default), 5m, epoch, off");
        Add("api-token", "job API: a bearer token with role admin, at least 16 characters (prefer the environment: a flag shows in ps)");
        Add("api-tokens", "job API: a file of tokens, one 'name role token' a line (roles read, submit, admin; # comments)");
        var insecure = new Option<bool>("--insecure-api")
        {
            Description = $"serve the job API with no token on an address other than loopback (refused otherwise) [env {NodeOptions.EnvironmentNames["insecure-api"]}]",
        };
        command.Options.Add(insecure);
        Add("allowed-hosts", "job API: Host names it answers, comma separated; * = any (default: localhost, 127.0.0.1, ::1 and this node's names)");
        Add("cors-origins", "job API: web origins allowed to call it from a browser, comma separated (default: none)");
        Add("rate-limit", "job API: requests per second per token, twice as many at once (default 20; 0 = none)");
        Add("submit-rate-limit", "job API: submissions per minute per token, 10 at once (default 30; 0 = none)");
        Add("tls-certificate", "TLS between nodes: this node's certificate and key, a .pfx file (scripts/make-certs.sh); every node needs one from the same CA");
        Add("tls-password", "TLS: the .pfx file's password (prefer the environment: a flag shows in ps)");
        Add("tls-ca", "TLS: the cluster's CA certificate (ca.crt) peers must be issued by (default: the CA certificate inside the .pfx)");
        Add("https-certificate", "serve the HTTP port (job API, /health, /ready, /metrics) as HTTPS with this certificate: a .pfx with its key, or a PEM certificate or full chain (scripts/make-certs.sh makes api.pfx)");
        Add("https-key", "HTTPS: the PEM private key of a PEM --https-certificate (default: in the certificate's file)");
        Add("https-password", "HTTPS: the .pfx file's (or an encrypted PEM key's) password (prefer the environment: a flag shows in ps)");
        Add("hocon", "extra Akka HOCON, applied over the node's own");
        command.SetAction(async (p, cancel) =>
        {
            var flags = options.ToDictionary(o => o.Key, o => p.GetValue(o.Value));
            // Given: on; not given: whatever the environment or the config file say.
            flags["insecure-api"] = p.GetValue(insecure) ? "true" : null;
            var node = NodeOptions.Resolve(flags, Defaults.ConfigPath);
            await using var app = NodeHost.Build(node);
            return await NodeHost.RunAsync(app, node, Console.Out, cancel);
        });
        return command;
    }
}
