using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace LstmCluster.Hosting.Simulation;

/// <summary>How to start a local multi-node cluster.</summary>
/// <param name="Executable">The <c>lstmcluster</c> program, and arguments before <c>node</c> (e.g. the dll when it runs under <c>dotnet</c>).</param>
/// <param name="LogDirectory">Each node's output goes to a file here (node-coordinator.log, node-worker-1.log, ...).</param>
/// <param name="ParameterServers">Parameter-server nodes (parameter-server, parameter-server-2, ...): with two, a job survives losing one.</param>
/// <param name="StateDirectory">
/// The coordinators' shared state directory (job journal and files); null: a new temporary one, deleted when the cluster
/// is disposed, so one run never resumes another's jobs. Give one to restart a cluster on the same state.
/// </param>
/// <param name="Coordinators">
/// Coordinator-role nodes, each with its own HTTP API: the first founds the cluster, the others (coordinator-2, ...)
/// join it and stand by for the coordinator singleton, so a test can lose the first and see the job API move.
/// </param>
/// <param name="Tls">TLS between the nodes: every node presents this certificate and trusts only its CA; null: plaintext.</param>
public sealed record LocalClusterOptions(
    string Executable,
    IReadOnlyList<string> ExecutableArguments,
    int Workers,
    string LogDirectory,
    int? TorchThreads = 1,
    TimeSpan? ReadyTimeout = null,
    string? Hocon = null,
    IReadOnlyDictionary<string, string>? Environment = null,
    int Coordinators = 1,
    string? StateDirectory = null,
    int ParameterServers = 1,
    LocalClusterTls? Tls = null)
{
    /// <summary>This process's own executable: <c>lstmcluster</c>, or <c>dotnet lstmcluster.dll</c>.</summary>
    public static (string Executable, string[] Arguments) Self()
    {
        string path = System.Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this process's executable");
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            string dll = System.Reflection.Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("no entry assembly");
            return (path, [dll]);
        }
        return (path, []);
    }
}

/// <summary>
/// The TLS a local node is started with: <c>--tls-certificate</c> <paramref name="Certificate"/>, its password through the
/// environment (<c>LSTMCLUSTER_TLS_PASSWORD</c>, not the command line), and <c>--tls-ca</c> <paramref name="Ca"/> when given.
/// </summary>
public sealed record LocalClusterTls(string Certificate, string Password, string? Ca = null)
{
    /// <summary>Every local node with the same node certificate (nodes are not checked by host name) of <paramref name="files"/>.</summary>
    public static LocalClusterTls From(Node.ClusterCertificates files, string name = "node") => new(files.Pfx(name), files.Password, files.Ca);
}

/// <summary>One node process of a <see cref="LocalCluster"/>.</summary>
public sealed class NodeProcess(string name, string roles, int port, Process process, string log, int httpPort = 0, bool tls = false)
{
    public string Name { get; } = name;
    public string Roles { get; } = roles;
    public int Port { get; } = port;

    /// <summary>The node's HTTP port (the job API on coordinators), or 0 when it serves none anyone is told about.</summary>
    public int HttpPort { get; } = httpPort;

    /// <summary>The node's cluster address.</summary>
    public string Address => $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://lstm@127.0.0.1:{Port}";
    public Process Process { get; } = process;
    public string Log { get; } = log;
    public bool Exited => Process.HasExited;

    /// <summary>The last lines of this node's log (for error messages).</summary>
    public string Tail(int lines = 30)
    {
        try
        {
            using var stream = new FileStream(Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}

/// <summary>
/// K + 2 <c>lstmcluster node</c> processes on 127.0.0.1 (a coordinator founding the cluster, a parameter
/// server, K workers; more coordinator nodes when <see cref="LocalClusterOptions.Coordinators"/> asks), on free ports, each with its output in a log file. Every child is told this
/// process's id (<c>LSTMCLUSTER_PARENT_PID</c>) and exits on its own if this process dies, so even a
/// killed parent leaves no orphans. <see cref="DisposeAsync"/> stops them: SIGTERM (graceful leave), then
/// SIGKILL after a bounded wait.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<NodeProcess> nodes = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private LocalCluster(int httpPort, string stateDirectory, bool ownsState)
    {
        HttpPort = httpPort;
        StateDirectory = stateDirectory;
        this.ownsState = ownsState;
    }

    private readonly bool ownsState;

    /// <summary>Where the coordinator nodes keep the job journal and the jobs' files.</summary>
    public string StateDirectory { get; }

    public int HttpPort { get; }
    public Uri Url => new($"http://127.0.0.1:{HttpPort}/");
    public IReadOnlyList<NodeProcess> Nodes => nodes;
    public IEnumerable<NodeProcess> Workers => nodes.Where(n => n.Roles == Vocabulary.Roles.Worker);

    public static async Task<LocalCluster> Start(LocalClusterOptions options, Action<string>? progress = null, CancellationToken cancel = default)
    {
        // The ports are found free and then bound by the node processes a moment later: another program (or test) on the
        // machine can take one in between. Such a node exits at once saying so; the cluster is started again on new ports.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnce(options, progress, cancel);
            }
            catch (PortTakenException e) when (attempt < PortAttempts)
            {
                progress?.Invoke($"{e.Summary}; starting again on other ports");
            }
        }
    }

    private const int PortAttempts = 3;

    private static async Task<LocalCluster> StartOnce(LocalClusterOptions options, Action<string>? progress, CancellationToken cancel)
    {
        if (options.Workers is < 1 or > 64) throw new ArgumentException($"workers must be between 1 and 64 (got {options.Workers})");
        if (options.Coordinators is < 1 or > 8) throw new ArgumentException($"coordinators must be between 1 and 8 (got {options.Coordinators})");
        if (options.ParameterServers is < 1 or > 8) throw new ArgumentException($"parameter servers must be between 1 and 8 (got {options.ParameterServers})");
        Directory.CreateDirectory(options.LogDirectory);
        // Layout: coordinator, parameter server, workers, [extra coordinators: cluster port, HTTP port], [extra parameter servers],
        // the coordinator's HTTP port.
        var ports = FreePorts(options.Workers + 3 + 2 * (options.Coordinators - 1) + (options.ParameterServers - 1));
        bool ownsState = options.StateDirectory is null;
        string state = options.StateDirectory ?? Path.Combine(Path.GetTempPath(), "lstmcluster", $"cluster-state-{Guid.NewGuid():N}");
        var cluster = new LocalCluster(ports[^1], state, ownsState);
        try
        {
            // With TLS a node takes an akka.tcp:// seed as akka.ssl.tcp:// (NodeOptions), so one seed address serves both.
            string seed = $"akka.tcp://lstm@127.0.0.1:{ports[0]}";
            cluster.seed = seed;
            cluster.Launch(options, "coordinator", Vocabulary.Roles.Coordinator, ports[0], [], cluster.HttpPort);
            for (int c = 1; c < options.Coordinators; c++)
            {
                int at = 2 + options.Workers + 2 * (c - 1);
                cluster.Launch(options, $"coordinator-{c + 1}", Vocabulary.Roles.Coordinator, ports[at], [seed], ports[at + 1]);
            }
            cluster.Launch(options, "parameter-server", Vocabulary.Roles.ParameterServer, ports[1], [seed], 0);
            for (int p = 1; p < options.ParameterServers; p++)
                cluster.Launch(options, $"parameter-server-{p + 1}", Vocabulary.Roles.ParameterServer, ports[2 + options.Workers + 2 * (options.Coordinators - 1) + (p - 1)], [seed], 0);
            for (int k = 0; k < options.Workers; k++) cluster.Launch(options, $"worker-{k + 1}", Vocabulary.Roles.Worker, ports[2 + k], [seed], 0);
            string coordinators = options.Coordinators == 1 ? "coordinator" : $"{options.Coordinators} coordinators";
            string servers = options.ParameterServers == 1 ? "parameter server" : $"{options.ParameterServers} parameter servers";
            progress?.Invoke($"started {cluster.nodes.Count} node processes ({coordinators}, {servers}, {options.Workers} worker(s)); logs in {options.LogDirectory}");
            await cluster.WaitReady(options.Workers, options.Coordinators, options.ParameterServers, options.ReadyTimeout ?? TimeSpan.FromSeconds(120), progress, cancel);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private string seed = "";

    /// <summary>
    /// Starts one more node joining this cluster, with <paramref name="tls"/> (null: plaintext) instead of the cluster's own,
    /// and returns without waiting for it: for tests of nodes the cluster must refuse. Its log is node-NAME.log.
    /// </summary>
    public NodeProcess StartExtraNode(LocalClusterOptions options, string name, string roles, LocalClusterTls? tls)
    {
        Launch(options with { Tls = tls }, name, roles, 0, [seed], 0);
        return nodes[^1];
    }

    private void Launch(LocalClusterOptions options, string name, string roles, int port, string[] seeds, int httpPort)
    {
        var start = new ProcessStartInfo(options.Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var a in options.ExecutableArguments) start.ArgumentList.Add(a);
        foreach (var a in (string[])["node", "--roles", roles, "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--http-port", httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            start.ArgumentList.Add(a);
        if (seeds.Length > 0)
        {
            start.ArgumentList.Add("--seeds");
            start.ArgumentList.Add(string.Join(",", seeds));
        }
        if (options.TorchThreads is { } t)
        {
            start.ArgumentList.Add("--torch-threads");
            start.ArgumentList.Add(t.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // OpenMP's pool is sized when libtorch loads: keep K + 2 processes on a small machine from oversubscribing it.
            start.Environment["OMP_NUM_THREADS"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (roles.Contains(Vocabulary.Roles.Coordinator, StringComparison.Ordinal))
        {
            start.ArgumentList.Add("--state-dir");
            start.ArgumentList.Add(StateDirectory);
        }
        if (options.Tls is { } tls)
        {
            start.ArgumentList.Add("--tls-certificate");
            start.ArgumentList.Add(tls.Certificate);
            if (tls.Ca is not null)
            {
                start.ArgumentList.Add("--tls-ca");
                start.ArgumentList.Add(tls.Ca);
            }
        }
        if (options.Hocon is not null)
        {
            start.ArgumentList.Add("--hocon");
            start.ArgumentList.Add(options.Hocon);
        }
        // Nothing from the caller's environment may redirect a node elsewhere (its own roles and seeds are on the command line).
        foreach (var variable in Node.NodeOptions.EnvironmentNames.Values) start.Environment.Remove(variable);
        start.Environment["LSTMCLUSTER_PARENT_PID"] = System.Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (options.Tls is { } secret) start.Environment[Node.NodeOptions.EnvironmentNames["tls-password"]] = secret.Password;
        if (options.Environment is not null)
            foreach (var (k, v) in options.Environment) start.Environment[k] = v;

        string log = Path.Combine(options.LogDirectory, $"node-{name}.log");
        var writer = new StreamWriter(new FileStream(log, FileMode.Create, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var gate = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (gate) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (gate) writer.WriteLine(e.Data); };
        process.Exited += (_, _) =>
        {
            process.WaitForExit();   // drains the output handlers
            lock (gate) writer.Dispose();
        };
        if (!process.Start()) throw new InvalidOperationException($"could not start {options.Executable}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        nodes.Add(new NodeProcess(name, roles, port, process, log, httpPort, options.Tls is not null));
    }

    private async Task WaitReady(int workers, int coordinators, int servers, TimeSpan timeout, Action<string>? progress, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            if (nodes.FirstOrDefault(n => n.Exited) is { } dead)
            {
                string tail = dead.Tail();
                string message = $"node {dead.Name} exited with code {dead.Process.ExitCode} while the cluster formed; its log ({dead.Log}) ends:\n{tail}";
                if (tail.Contains("address already in use", StringComparison.OrdinalIgnoreCase) || tail.Contains(" is in use", StringComparison.Ordinal))
                    throw new PortTakenException($"node {dead.Name} found its port taken", message);
                throw new InvalidOperationException(message);
            }
            string state = "coordinator HTTP not answering yet";
            try
            {
                using var response = await http.GetAsync(new Uri(Url, "ready"), cancel);
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
                var roles = doc.RootElement.GetProperty("roles");
                int up = roles.GetProperty(Vocabulary.Roles.Worker).GetInt32(), coordinatorsUp = roles.GetProperty(Vocabulary.Roles.Coordinator).GetInt32();
                int serversUp = roles.TryGetProperty(Vocabulary.Roles.ParameterServer, out var ps) ? ps.GetInt32() : 0;
                // Converged, not just ready: the coordinator moves the others to Up in its own view first, and a node lost
                // before that view has reached them leaves survivors still Joining, which the split-brain resolver
                // does not count, so they down themselves (see ClusterReadiness).
                bool converged = doc.RootElement.GetProperty("converged").GetBoolean();
                state = doc.RootElement.GetProperty("detail").GetString() + $"; {up}/{workers} workers up"
                    + (coordinators > 1 ? $", {coordinatorsUp}/{coordinators} coordinators up" : "")
                    + (servers > 1 ? $", {serversUp}/{servers} parameter servers up" : "");
                if (response.IsSuccessStatusCode && converged && up >= workers && coordinatorsUp >= coordinators && serversUp >= servers)
                {
                    progress?.Invoke($"cluster ready in {clock.Elapsed.TotalSeconds:0.0} s: {state}");
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // Not up yet.
            }
            if (state != last) progress?.Invoke($"waiting for the cluster: {state}");
            last = state;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"the cluster was not ready after {timeout.TotalSeconds:0} s ({state}); coordinator log ({nodes[0].Log}) ends:\n{nodes[0].Tail()}");
            await Task.Delay(500, cancel);
        }
    }

    /// <summary>SIGKILL: the node dies without leaving the cluster (the failure the cluster must survive).</summary>
    public static void Kill(NodeProcess node) => node.Process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in nodes.Where(n => !n.Exited)) Terminate(node.Process.Id);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        foreach (var node in nodes)
        {
            var left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero)
            {
                using var wait = new CancellationTokenSource(left);
                try
                {
                    await node.Process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    // Falls through to the kill below.
                }
            }
            if (!node.Exited)
            {
                try
                {
                    node.Process.Kill(entireProcessTree: true);
                    await node.Process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }
            node.Process.Dispose();
        }
        http.Dispose();
        if (ownsState)
        {
            try
            {
                if (Directory.Exists(StateDirectory)) Directory.Delete(StateDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }

    /// <summary>SIGTERM: the node leaves the cluster gracefully and exits.</summary>
    private static void Terminate(int pid)
    {
        if (OperatingSystem.IsWindows()) return;   // DisposeAsync kills after the wait instead
        _ = kill(pid, 15);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>Distinct free TCP ports on 127.0.0.1 (held open together so they differ, then released for the nodes).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var l in listeners) l.Start();
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }
}

/// <summary>A node of a starting <see cref="LocalCluster"/> found one of its ports taken (see <see cref="LocalCluster.Start"/>).</summary>
public sealed class PortTakenException(string summary, string detail) : InvalidOperationException(detail)
{
    public string Summary { get; } = summary;
}
