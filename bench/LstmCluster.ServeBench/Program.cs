using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;
using LstmCluster.Client;
using LstmCluster.Hosting.Node;

// Live serving benchmark (issue #14): a real node in this process on 127.0.0.1 (every role, an API token), a job that trains
// the default model (LSTM 1→64×2, lookback 32, horizon 1) on samples/AirPassengers.csv, then --clients concurrent clients POST
// the last 40 rows to /models/{id}/forecast for --seconds, --repeats times after a warm-up. Clients and server share the
// machine's cores, so the figures are a floor for a server with its own. Bounded: every loop ends by its own clock.
//   dotnet run -c Release --project bench/LstmCluster.ServeBench -- [--clients 8] [--seconds 10] [--repeats 5] [--torch-threads 1]
var options = Args(args);
int clients = options.GetValueOrDefault("clients", 8);
int seconds = options.GetValueOrDefault("seconds", 10);
int repeats = options.GetValueOrDefault("repeats", 5);
int torchThreads = options.GetValueOrDefault("torch-threads", 1);

string root = Root();
string sample = Path.Combine(root, "samples", "AirPassengers.csv");
string state = Directory.CreateTempSubdirectory("lstmcluster-servebench-").FullName;
const string Token = "serve-bench-token-0123456789";
int http = FreePort();
var app = NodeHost.Build(new NodeOptions
{
    Host = "127.0.0.1", Port = 0, HttpPort = http, TorchThreads = torchThreads, StateDir = state, ApiToken = Token,
});
await app.StartAsync();
try
{
    using var client = new JobApiClient(new Uri($"http://127.0.0.1:{http}/"), token: Token);
    await WaitReady(http);
    Console.WriteLine($"training the default model (1 epoch) on {Path.GetFileName(sample)} ...");
    string id = await client.SubmitAsync(sample, new Dictionary<string, string> { ["target"] = "value", ["epochs"] = "1", ["season"] = "12" });
    JobView job;
    while (!(job = await client.StatusAsync(id)).Ended) await Task.Delay(200);
    if (job.State != "Succeeded") throw new InvalidOperationException($"the job ended {job.State}: {job.Reason}");
    var lines = File.ReadAllLines(sample);
    string body = string.Join('\n', lines.Take(1).Concat(lines.TakeLast(40))) + "\n";
    Console.WriteLine($"model {id}: serving {clients} clients × {seconds} s × {repeats} repeats (+ 2 s warm-up), body {body.Length} bytes, torch threads {torchThreads}, {Environment.ProcessorCount} cores");

    await Load(http, id, body, clients, TimeSpan.FromSeconds(2));
    var runs = new List<(double Rate, double P50, double P90, double P99, double Max, int Errors)>();
    Console.WriteLine("| repeat | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |");
    Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
    for (int r = 1; r <= repeats; r++)
    {
        var (count, errors, latencies, elapsed) = await Load(http, id, body, clients, TimeSpan.FromSeconds(seconds));
        latencies.Sort();
        var run = (count / elapsed.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.90), Percentile(latencies, 0.99), latencies[^1], errors);
        runs.Add(run);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r} | {run.Item1:N0} | {run.Item2:0.00} | {run.Item3:0.00} | {run.Item4:0.00} | {run.Item5:0.0} | {errors} |"));
    }
    double rate = Median(runs.Select(x => x.Rate)), p99 = Median(runs.Select(x => x.P99));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"median of {repeats}: {rate:N0} requests/s, p50 {Median(runs.Select(x => x.P50)):0.00} ms, p99 {p99:0.00} ms; "
        + $"target ≥ 1,000 requests/s with p99 < 10 ms: {(rate >= 1000 && p99 < 10 ? "met" : "NOT met")}"));
    return runs.Sum(x => x.Errors) == 0 ? 0 : 1;
}
finally
{
    await app.StopAsync();
    await app.DisposeAsync();
    Directory.Delete(state, recursive: true);
}

static async Task<(int Count, int Errors, List<double> LatenciesMs, TimeSpan Elapsed)> Load(int port, string id, string body, int clients, TimeSpan duration)
{
    var clock = Stopwatch.StartNew();
    var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
        var latencies = new List<double>();
        int errors = 0;
        while (clock.Elapsed < duration)
        {
            long start = Stopwatch.GetTimestamp();
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "text/csv");
            using var response = await http.PostAsync($"models/{id}/forecast", content);
            await response.Content.ReadAsByteArrayAsync();
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (!response.IsSuccessStatusCode) errors++;
        }
        return (latencies, errors);
    }));
    var elapsed = clock.Elapsed;
    var all = perClient.SelectMany(c => c.latencies).ToList();
    return (all.Count, perClient.Sum(c => c.errors), all, elapsed);
}

static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

static double Median(IEnumerable<double> values)
{
    var v = values.Order().ToArray();
    return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
}

static async Task WaitReady(int port)
{
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
    for (int i = 0; i < 600; i++)
    {
        try
        {
            using var ready = await http.GetAsync($"http://127.0.0.1:{port}/ready");
            if (ready.IsSuccessStatusCode) return;
        }
        catch (HttpRequestException)
        {
        }
        await Task.Delay(100);
    }
    throw new TimeoutException("the node did not become ready within 60 s");
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static string Root()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository (LstmCluster.sln not found above the program)");
}

static Dictionary<string, int> Args(string[] args)
{
    var values = new Dictionary<string, int>();
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length || !int.TryParse(args[i + 1], out int v) || v < 1)
            throw new ArgumentException($"usage: [--clients N] [--seconds N] [--repeats N] [--torch-threads N] (positive integers); got '{args[i]}'");
        values[args[i][2..]] = v;
        i++;
    }
    return values;
}
