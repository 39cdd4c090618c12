using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LstmCluster.Cli.Tests;
using LstmCluster.Client;
using LstmCluster.Hosting.Node;
using static LstmCluster.Hosting.Tests.Node.NodeOptionInput;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// The job API over HTTPS: a node with <c>--https-certificate</c> (a .pfx, or PEM files) serves its HTTP port as HTTPS only; the
/// client and the CLI accept its certificate from the system's CAs or the <c>--ca</c> file's, for the name they reach it by, and
/// say in one line what to change when they do not; unusable certificate files stop the node before it starts.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NodeHttpsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-https-").FullName;
    private readonly ClusterCertificates certs;

    // What operators use: scripts/make-certs.sh's CA, its api.pfx (also for loopback and each --api-host) and a node's seed.pfx.
    public NodeHttpsTests() => certs = MakeCerts(Path.Combine(dir, "certs"), "-a", "lstm.example.com", "api", "seed");

    private static ClusterCertificates MakeCerts(string into, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[CliRunner.RepoFile(Path.Combine("scripts", "make-certs.sh")), "-d", into, .. args]) start.ArgumentList.Add(a);
        start.Environment.Remove("LSTMCLUSTER_TLS_PASSWORD");
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"make-certs.sh exited {process.ExitCode}: {stdout}{stderr}");
        return new ClusterCertificates(into, File.ReadAllText(Path.Combine(into, "password")).Trim());
    }

    /// <summary>A handler that reaches 127.0.0.1 whatever host name the URL has, so a certificate's other names can be tried.</summary>
    private static SocketsHttpHandler ToLoopback(X509Certificate2Collection ca)
    {
        var handler = (SocketsHttpHandler)JobApiClient.CreateHandler(ca);
        handler.ConnectCallback = async (context, ct) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        };
        return handler;
    }

    public void Dispose() => TestNodes.DeleteState(dir);

    private X509Certificate2Collection Ca => ServerCertificateCheck.LoadAuthorities(certs.Ca);

    private NodeOptions Node(int http, string certificate, string? password, string? key = null) => new()
    {
        Host = "127.0.0.1", Port = 0, HttpPort = http, TorchThreads = 1, StateDir = Path.Combine(dir, "state-" + http),
        HttpsCertificate = certificate, HttpsPassword = password, HttpsKey = key,
    };

    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> Started(NodeOptions options, X509Certificate2Collection ca)
    {
        var app = NodeHost.Build(options);
        await app.StartAsync();
        using var http = new HttpClient(JobApiClient.CreateHandler(ca)) { BaseAddress = new Uri($"https://127.0.0.1:{options.HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        await TestNodes.WaitReady(http);
        return app;
    }

    [Fact]
    public void Https_options_come_from_flags_the_environment_and_the_config_file_and_need_a_certificate()
    {
        string config = Path.Combine(dir, "lstmcluster.json");
        File.WriteAllText(config, """{ "node": { "https_certificate": "api.pem", "https_key": "api.key" } }""");
        var fromFile = NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_HTTPS_PASSWORD", "from env")), config);
        Assert.Equal((Path.GetFullPath("api.pem"), Path.GetFullPath("api.key"), "from env"), (fromFile.HttpsCertificate, fromFile.HttpsKey, fromFile.HttpsPassword));
        Assert.Equal("https", fromFile.HttpScheme);
        var flags = NodeOptions.Resolve(Flags(("https-certificate", "flag.pfx"), ("https-password", "pw")), Env(("LSTMCLUSTER_HTTPS_CERTIFICATE", "env.pfx")), null);
        Assert.Equal((Path.GetFullPath("flag.pfx"), "pw"), (flags.HttpsCertificate, flags.HttpsPassword));
        Assert.Equal("http", NodeOptions.Resolve(Flags(), Env(), null).HttpScheme);

        string Refused(params (string Key, string? Value)[] given) => Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(Flags(given), Env(), null)).Message;
        Assert.Equal("--https-key needs --https-certificate (the certificate the key belongs to)", Refused(("https-key", "k.pem")));
        Assert.Equal("--https-password needs --https-certificate (the file it opens)", Refused(("https-password", "pw")));
        Assert.Equal("--https-certificate needs an HTTP port to serve HTTPS on (--http-port is 0)", Refused(("https-certificate", "a.pfx"), ("http-port", "0")));
    }

    [Fact]
    public async Task A_node_serves_its_job_api_over_https_to_clients_that_trust_its_ca_and_refuses_plain_http()
    {
        int port = TestNodes.FreePort();
        await using var app = await Started(Node(port, certs.Pfx("api"), certs.Password), Ca);
        try
        {
            // By address and by name: make-certs.sh's API certificate holds localhost, 127.0.0.1 and ::1, and the --api-host names.
            foreach (var url in new[] { $"https://127.0.0.1:{port}", $"https://localhost:{port}" })
            {
                using var client = new JobApiClient(new Uri(url), token: null, authorities: Ca);
                Assert.Empty(await client.ListAsync());
            }
            using (var byName = new HttpClient(ToLoopback(Ca)) { BaseAddress = new Uri($"https://lstm.example.com:{port}/"), Timeout = TimeSpan.FromSeconds(30) })
            using (var response = await byName.GetAsync("health"))
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // Without the CA the certificate is refused before any request is sent, with what to do about it.
            using (var untrusting = new JobApiClient(new Uri($"https://127.0.0.1:{port}")))
            {
                var e = await Assert.ThrowsAsync<JobApiCertificateException>(() => untrusting.ListAsync());
                Assert.Equal($"the job API at https://127.0.0.1:{port}/jobs presented a certificate this client does not accept: not issued by a trusted CA; "
                    + "give the CA certificate that issued it with --ca FILE (or LSTMCLUSTER_CA)", e.Message);
            }

            // Another cluster's CA is no better than none.
            var other = MakeCerts(Path.Combine(dir, "other"), "api");
            using (var wrongCa = new JobApiClient(new Uri($"https://127.0.0.1:{port}"), authorities: ServerCertificateCheck.LoadAuthorities(other.Ca)))
                Assert.Equal("not issued by a trusted CA, nor by the --ca file's", (await Assert.ThrowsAsync<JobApiCertificateException>(() => wrongCa.ListAsync())).Problem);

            // Plain HTTP to the HTTPS port: no answer, and a hint.
            using (var plain = new JobApiClient(new Uri($"http://127.0.0.1:{port}")))
            {
                var e = await Assert.ThrowsAsync<JobApiUnreachableException>(() => plain.ListAsync());
                Assert.Contains("use an https:// URL", e.Message);
            }

            // The CLI: --ca or LSTMCLUSTER_CA; without either, exit 2 with the client's line.
            var status = await Task.Run(() => CliRunner.Run("status", "--server", $"https://localhost:{port}", "--ca", certs.Ca));
            Assert.True(status.ExitCode == 0, status.Error + status.Out);
            Environment.SetEnvironmentVariable(global::LstmCluster.Cli.Commands.ServerCommands.CaVariable, certs.Ca);
            try
            {
                var fromEnv = await Task.Run(() => CliRunner.Run("status", "--server", $"https://127.0.0.1:{port}"));
                Assert.True(fromEnv.ExitCode == 0, fromEnv.Error + fromEnv.Out);
            }
            finally
            {
                Environment.SetEnvironmentVariable(global::LstmCluster.Cli.Commands.ServerCommands.CaVariable, null);
            }
            var refused = await Task.Run(() => CliRunner.Run("status", "--server", $"https://127.0.0.1:{port}"));
            Assert.Equal(2, refused.ExitCode);
            Assert.StartsWith($"error: the job API at https://127.0.0.1:{port}/jobs presented a certificate this client does not accept: not issued by a trusted CA", refused.Error.Trim());
            var missing = await Task.Run(() => CliRunner.Run("status", "--server", $"https://127.0.0.1:{port}", "--ca", Path.Combine(dir, "nowhere.crt")));
            Assert.Equal(2, missing.ExitCode);
            Assert.Equal($"error: --ca {Path.Combine(dir, "nowhere.crt")}: file not found", missing.Error.Trim());
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task A_pem_certificate_with_its_key_apart_serves_https_and_a_name_it_lacks_is_refused_even_with_the_ca()
    {
        // A node certificate ("seed": its own name only), written out as PEM: a full chain (its certificate, then the CA's) and a key file.
        var bundle = X509CertificateLoader.LoadPkcs12CollectionFromFile(certs.Pfx("seed"), certs.Password, X509KeyStorageFlags.Exportable);
        var own = bundle.Single(c => c.HasPrivateKey);
        string chain = Path.Combine(dir, "seed-fullchain.pem"), key = Path.Combine(dir, "seed-key.pem");
        File.WriteAllText(chain, own.ExportCertificatePem() + "\n" + File.ReadAllText(certs.Ca));
        File.WriteAllText(key, own.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        int port = TestNodes.FreePort();
        var app = NodeHost.Build(Node(port, chain, null, key));
        await app.StartAsync();
        try
        {
            // The name the certificate is for is not what the client reaches: refused, naming the names it holds.
            using var client = new JobApiClient(new Uri($"https://127.0.0.1:{port}"), authorities: Ca);
            var e = await Assert.ThrowsAsync<JobApiCertificateException>(() => client.ListAsync());
            Assert.Equal("issued for another name: it names seed", e.Problem);
            Assert.EndsWith("use one of those names in the URL, or give the server a certificate for this one", e.Message);

            // Reached by its name (the connection still goes to 127.0.0.1), the same server is accepted: the chain came from the PEM file.
            using var byName = new HttpClient(ToLoopback(Ca)) { BaseAddress = new Uri($"https://seed:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
            var request = new HttpRequestMessage(HttpMethod.Get, "health");
            using var response = await byName.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_coordinator_serving_plain_http_beyond_loopback_warns_when_it_starts_and_one_serving_https_does_not()
    {
        async Task<string> StartLines(string? certificate)
        {
            var options = new NodeOptions
            {
                Roles = ["coordinator"], Host = "0.0.0.0", PublicHost = "127.0.0.1", Port = 0, HttpPort = TestNodes.FreePort(),
                StateDir = Path.Combine(dir, "state-" + Guid.NewGuid().ToString("N")), ApiToken = "a-token-of-at-least-16-chars",
                HttpsCertificate = certificate, HttpsPassword = certificate is null ? null : certs.Password,
            };
            var lines = new StringWriter();
            // Its writes lock the writer itself ([MethodImpl(Synchronized)]): reads take the same lock.
            var output = TextWriter.Synchronized(lines);
            string Text() { lock (output) return lines.ToString(); }
            using var stop = new CancellationTokenSource();
            await using var app = NodeHost.Build(options);
            var run = NodeHost.RunAsync(app, options, output, stop.Token);
            // The warning comes before the member-up line, which this waits for.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Text().Contains("is Up in the cluster", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !run.IsCompleted)
                await Task.Delay(50);
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromMinutes(1));
            return Text();
        }

        string plain = await StartLines(null);
        Assert.Contains("is Up in the cluster", plain);
        Assert.Contains("warning: the job API on 0.0.0.0:", plain);
        Assert.Contains("is plain HTTP beyond loopback: its tokens and data cross the network readable; serve it with --https-certificate, or behind a TLS proxy", plain);
        string https = await StartLines(certs.Pfx("api"));
        Assert.Contains("is Up in the cluster", https);
        Assert.Contains(", https://127.0.0.1:", https);
        Assert.DoesNotContain("warning", https);
    }

    private static string Refusal(NodeOptions options) => Assert.Throws<TlsSetupException>(() => NodeHttps.Load(options)).Message;

    [Fact]
    public void Unusable_https_files_are_refused_in_one_line_naming_the_file_and_the_option()
    {
        string pfx = certs.Pfx("api");
        Assert.NotNull(NodeHttps.Load(Node(5080, pfx, certs.Password)));

        string nowhere = Path.Combine(dir, "nowhere.pfx");
        Assert.Equal($"the HTTPS certificate {nowhere} does not exist (--https-certificate)", Refusal(Node(5080, nowhere, null)));
        Assert.Equal($"the HTTPS certificate {pfx} needs a password: give --https-password or LSTMCLUSTER_HTTPS_PASSWORD", Refusal(Node(5080, pfx, null)));
        Assert.Equal($"the HTTPS certificate {pfx} does not open with the given password (--https-password or LSTMCLUSTER_HTTPS_PASSWORD)", Refusal(Node(5080, pfx, "wrong")));
        Assert.Equal($"--https-key is for a PEM certificate; {pfx} is not PEM (a .pfx holds its key)", Refusal(Node(5080, pfx, certs.Password, certs.Ca)));

        // A certificate alone (the CA's PEM): no key to serve with.
        Assert.StartsWith($"the HTTPS certificate {certs.Ca} holds no private key for its certificate: give the key file with --https-key", Refusal(Node(5080, certs.Ca, null)));
        string garbage = Path.Combine(dir, "garbage.pfx");
        File.WriteAllText(garbage, "not a certificate");
        Assert.StartsWith($"the HTTPS certificate {garbage} is neither a PKCS#12 (.pfx) file nor PEM (--https-certificate)", Refusal(Node(5080, garbage, null)));

        // A PEM certificate with another certificate's key.
        using (var seed = X509CertificateLoader.LoadPkcs12CollectionFromFile(certs.Pfx("seed"), certs.Password, X509KeyStorageFlags.Exportable).Single(c => c.HasPrivateKey))
        using (var api = X509CertificateLoader.LoadPkcs12CollectionFromFile(pfx, certs.Password, X509KeyStorageFlags.Exportable).Single(c => c.HasPrivateKey))
        {
            string certificate = Path.Combine(dir, "seed.pem"), otherKey = Path.Combine(dir, "api-key.pem");
            File.WriteAllText(certificate, seed.ExportCertificatePem());
            File.WriteAllText(otherKey, api.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            Assert.StartsWith($"the key {otherKey} (--https-key) is not the key of the certificate in {certificate}", Refusal(Node(5080, certificate, null, otherKey)));
        }

        // Expired, or for clients only: clients would refuse it, so the node does not start with it.
        string expired = SelfSigned("expired.pfx", DateTimeOffset.UtcNow.AddYears(-2), DateTimeOffset.UtcNow.AddDays(-1), serverAuth: true);
        Assert.StartsWith($"the HTTPS certificate {expired} expired on ", Refusal(Node(5080, expired, "pw")));
        string clientOnly = SelfSigned("client.pfx", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1), serverAuth: false);
        Assert.Equal($"the HTTPS certificate {clientOnly} is not for servers (its extended key usage lacks server authentication; --https-certificate): clients would refuse it",
            Refusal(Node(5080, clientOnly, "pw")));

        // The CLI's node: one line, exit 2, nothing started.
        var r = CliRunner.Run("node", "--roles", "coordinator", "--port", "0", "--http-port", $"{TestNodes.FreePort()}", "--state-dir", Path.Combine(dir, "cli-state"),
            "--https-certificate", expired, "--https-password", "pw");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: the HTTPS certificate {expired} expired on ", r.Error.Trim());
        Assert.Equal("", r.Out);
    }

    private string SelfSigned(string name, DateTimeOffset from, DateTimeOffset to, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(from, to);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, "pw"));
        return path;
    }
}
