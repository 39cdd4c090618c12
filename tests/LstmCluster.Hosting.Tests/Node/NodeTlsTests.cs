using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using LstmCluster.Cli.Tests;
using LstmCluster.Client;
using LstmCluster.Hosting.Node;
using static LstmCluster.Hosting.Tests.Node.NodeOptionInput;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary>
/// A node's TLS options (<c>--tls-certificate</c>, <c>--tls-password</c>, <c>--tls-ca</c>) from flags, the environment and the
/// config file; the files they name, and the one-line errors a node exits 2 with before it starts.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NodeTlsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-tls-").FullName;
    private readonly ClusterCertificates certs;
    private readonly ClusterCertificates other;

    public NodeTlsTests()
    {
        certs = ClusterCertificates.Create(Path.Combine(dir, "cluster"), "node", "peer");
        other = ClusterCertificates.Create(Path.Combine(dir, "other"), "intruder");
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private NodeOptions Options(string? certificate = null, string? password = null, string? ca = null) =>
        new() { TlsCertificate = certificate ?? certs.Pfx("node"), TlsPassword = password ?? certs.Password, TlsCa = ca };

    private static string Error(NodeOptions options) => Assert.Throws<TlsSetupException>(() => NodeTls.Load(options)).Message;

    [Fact]
    public void Tls_options_come_from_flags_the_environment_and_the_config_file()
    {
        string config = Path.Combine(dir, "lstmcluster.json");
        File.WriteAllText(config, $$"""{ "node": { "tls_certificate": "{{certs.Pfx("node")}}", "tls_ca": "{{certs.Ca}}" } }""");
        var fromFile = NodeOptions.Resolve(Flags(), Env(("LSTMCLUSTER_TLS_PASSWORD", "from env")), config);
        Assert.Equal((certs.Pfx("node"), "from env", certs.Ca), (fromFile.TlsCertificate, fromFile.TlsPassword, fromFile.TlsCa));
        Assert.True(fromFile.Tls);

        var env = Env(("LSTMCLUSTER_TLS_CERTIFICATE", "env.pfx"), ("LSTMCLUSTER_TLS_CA", "env-ca.crt"), ("LSTMCLUSTER_TLS_PASSWORD", " spaced "));
        var fromEnv = NodeOptions.Resolve(Flags(), env, null);
        Assert.Equal((Path.GetFullPath("env.pfx"), " spaced ", Path.GetFullPath("env-ca.crt")), (fromEnv.TlsCertificate, fromEnv.TlsPassword, fromEnv.TlsCa));

        var flags = NodeOptions.Resolve(Flags(("tls-certificate", "flag.pfx"), ("tls-password", "pw")), env, config);
        Assert.Equal((Path.GetFullPath("flag.pfx"), "pw"), (flags.TlsCertificate, flags.TlsPassword));

        var plain = NodeOptions.Resolve(Flags(), Env(), null);
        Assert.False(plain.Tls);
        Assert.Equal("akka.tcp", plain.Protocol);
    }

    [Fact]
    public void With_tls_seeds_are_tls_addresses_and_plaintext_seeds_are_taken_as_such()
    {
        var o = NodeOptions.Resolve(Flags(("tls-certificate", "n.pfx"), ("seeds", "akka.tcp://lstm@a:4053,akka.ssl.tcp://lstm@b:4053")), Env(), null);
        Assert.Equal(["akka.ssl.tcp://lstm@a:4053", "akka.ssl.tcp://lstm@b:4053"], o.Seeds);
        Assert.Equal("akka.ssl.tcp", o.Protocol);

        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(Flags(("seeds", "akka.ssl.tcp://lstm@b:4053")), Env(), null));
        Assert.Equal("seed 'akka.ssl.tcp://lstm@b:4053' is a TLS address: give this node --tls-certificate (and the cluster's CA) to join it", e.Message);
    }

    [Fact]
    public void A_ca_or_a_password_without_a_certificate_is_refused()
    {
        Assert.Equal("--tls-ca needs --tls-certificate (this node's own certificate and key)",
            Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(Flags(("tls-ca", "ca.crt")), Env(), null)).Message);
        Assert.Equal("--tls-password needs --tls-certificate (the file it opens)",
            Assert.Throws<ArgumentException>(() => NodeOptions.Resolve(Flags(("tls-password", "pw")), Env(), null)).Message);
    }

    [Fact]
    public void A_pfx_with_its_ca_inside_or_a_named_ca_loads()
    {
        var inside = NodeTls.Load(Options())!;
        Assert.Equal("CN=node, O=LstmCluster", inside.Certificate.Subject);
        Assert.True(inside.Certificate.HasPrivateKey);
        var ca = Assert.Single(inside.Authorities);
        var named = NodeTls.Load(Options(ca: certs.Ca))!;
        Assert.Equal(ca.Thumbprint, Assert.Single(named.Authorities).Thumbprint);
        Assert.Null(NodeTls.Load(new NodeOptions()));
    }

    [Fact]
    public void Unusable_tls_files_and_passwords_are_one_line_errors_naming_the_file_and_the_option()
    {
        string missing = Path.Combine(dir, "none.pfx");
        Assert.Equal($"the TLS certificate {missing} does not exist (--tls-certificate)", Error(Options(missing)));
        Assert.Equal($"the TLS certificate {certs.Pfx("node")} does not open with the given password (--tls-password or LSTMCLUSTER_TLS_PASSWORD)",
            Error(Options(password: "wrong")));
        Assert.Equal($"the TLS certificate {certs.Pfx("node")} needs a password: give --tls-password or LSTMCLUSTER_TLS_PASSWORD",
            Error(new NodeOptions { TlsCertificate = certs.Pfx("node") }));
        Assert.StartsWith($"the TLS certificate {certs.Ca} is not a PKCS#12 (.pfx) file (--tls-certificate): ", Error(Options(certs.Ca)));
        Assert.StartsWith($"cannot read the TLS certificate {dir} (--tls-certificate): ", Error(Options(dir)));

        // The node's certificate without its key.
        using var loaded = X509CertificateLoader.LoadPkcs12FromFile(certs.Pfx("node"), certs.Password);
        string noKey = Path.Combine(dir, "nokey.pfx");
        File.WriteAllBytes(noKey, new X509Certificate2Collection { X509CertificateLoader.LoadCertificate(loaded.RawData) }.Export(X509ContentType.Pkcs12, "pw")!);
        Assert.Equal($"the TLS certificate {noKey} holds no private key (--tls-certificate): export the node's certificate with its key (scripts/make-certs.sh makes such .pfx files)",
            Error(Options(noKey, "pw")));

        // The node's certificate and key alone: no CA inside, none named.
        string alone = Path.Combine(dir, "alone.pfx");
        File.WriteAllBytes(alone, loaded.Export(X509ContentType.Pkcs12, "pw"));
        Assert.Equal("no CA to check other nodes against: give --tls-ca FILE (the cluster's ca.crt), or a .pfx that includes the CA certificate (scripts/make-certs.sh makes both)",
            Error(Options(alone, "pw")));
        Assert.NotNull(NodeTls.Load(Options(alone, "pw", certs.Ca)));

        // A CA file that holds no CA, or another CA than the one that issued the node's certificate.
        File.WriteAllText(Path.Combine(dir, "node.crt"), loaded.ExportCertificatePem());
        Assert.Equal($"the file {Path.Combine(dir, "node.crt")} holds no CA certificate (--tls-ca): give the cluster's ca.crt, not a node's certificate",
            Error(Options(ca: Path.Combine(dir, "node.crt"))));
        // The CA as one DER certificate reads as the PEM one does; a file that is neither is refused (CertificateFiles).
        using var caCertificate = X509CertificateLoader.LoadCertificateFromFile(certs.Ca);
        string der = Path.Combine(dir, "ca.der");
        File.WriteAllBytes(der, caCertificate.RawData);
        Assert.NotNull(NodeTls.Load(Options(alone, "pw", der)));
        string garbage = Path.Combine(dir, "garbage.crt");
        File.WriteAllText(garbage, "not a certificate");
        Assert.StartsWith($"the CA certificate {garbage} is not a PEM or DER certificate (--tls-ca): ", Error(Options(ca: garbage)));
        // The client's --ca reads the same files the same way.
        Assert.Equal(caCertificate.Thumbprint, Assert.Single(ServerCertificateCheck.LoadAuthorities(der)).Thumbprint);
        Assert.Equal(caCertificate.Thumbprint, Assert.Single(ServerCertificateCheck.LoadAuthorities(certs.Ca)).Thumbprint);
        Assert.StartsWith($"--ca {garbage}: not a PEM or DER certificate: ", Assert.Throws<ArgumentException>(() => ServerCertificateCheck.LoadAuthorities(garbage)).Message);
        string wrongCa = Error(Options(ca: other.Ca));
        Assert.StartsWith($"this node's certificate {certs.Pfx("node")} (CN=node, O=LstmCluster, issued by CN=LstmCluster cluster CA ", wrongCa);
        Assert.EndsWith($") is not issued by the CA of {other.Ca} (--tls-ca): the other nodes would refuse it", wrongCa);
    }

    [Fact]
    public void A_node_with_a_missing_certificate_exits_2_with_one_line_before_it_starts()
    {
        string missing = Path.Combine(dir, "none.pfx");
        var r = CliRunner.Run("node", "--roles", "worker", "--port", "0", "--http-port", "0", "--tls-certificate", missing);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: the TLS certificate {missing} does not exist (--tls-certificate)", r.Error.Trim());
        Assert.Equal("", r.Out);

        var wrong = CliRunner.Run("node", "--roles", "worker", "--port", "0", "--http-port", "0", "--tls-certificate", certs.Pfx("node"), "--tls-password", "wrong");
        Assert.Equal(2, wrong.ExitCode);
        Assert.Equal($"error: the TLS certificate {certs.Pfx("node")} does not open with the given password (--tls-password or LSTMCLUSTER_TLS_PASSWORD)", wrong.Error.Trim());
    }

    [Fact]
    public void A_tls_node_turns_on_ssl_with_mutual_authentication_and_validation()
    {
        var config = NodeConfig.Build(Options());
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.ssl.require-mutual-authentication"));
        Assert.False(config.GetBoolean("akka.remote.dot-netty.tcp.ssl.suppress-validation"));
        Assert.False(NodeConfig.Build(new NodeOptions()).GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        var setup = NodeTls.Load(Options())!.Setup();
        Assert.True(setup.RequireMutualAuthentication);
        Assert.False(setup.SuppressValidation);
        Assert.NotNull(setup.CustomValidator);
    }

    [Fact]
    public void Peers_are_accepted_only_with_a_certificate_of_the_clusters_ca()
    {
        var tls = NodeTls.Load(Options())!;
        using var peer = X509CertificateLoader.LoadPkcs12FromFile(certs.Pfx("peer"), certs.Password);
        using var intruder = X509CertificateLoader.LoadPkcs12FromFile(other.Pfx("intruder"), other.Password);
        Assert.True(tls.Validate(peer, null, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, NoLogger.Instance));
        Assert.False(tls.Validate(intruder, null, "intruder", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, NoLogger.Instance));
        Assert.False(tls.Validate(null, null, "anonymous", System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable, NoLogger.Instance));
        Assert.Null(tls.Problem(peer));
        Assert.EndsWith("is not issued by this cluster's CA", tls.Problem(intruder));
        // The CA's own certificate as a peer: it chains to itself, but nobody without the CA's key can present it.
        Assert.Null(tls.Problem(tls.Authorities[0]));
    }
}
