using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// The files of a cluster's TLS as <c>scripts/make-certs.sh</c> lays them out: <c>ca.crt</c>, a <c>NAME.pfx</c> per node
/// name and the password that opens them. Made here (CertificateRequest, no openssl) for <c>simulate --tls</c> and tests.
/// </summary>
public sealed record ClusterCertificates(string Directory, string Password)
{
    public string Ca => Path.Combine(Directory, "ca.crt");

    public string Pfx(string name) => Path.Combine(Directory, $"{name}.pfx");

    /// <summary>
    /// Makes a new CA (EC P-256, its key kept only in memory and forgotten) and a certificate for each of
    /// <paramref name="names"/> into <paramref name="directory"/>, as <c>scripts/make-certs.sh</c> would.
    /// </summary>
    public static ClusterCertificates Create(string directory, params string[] names)
    {
        System.IO.Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=LstmCluster cluster CA {Convert.ToHexString(RandomNumberGenerator.GetBytes(4))}, O=LstmCluster", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        File.WriteAllText(Path.Combine(directory, "ca.crt"), ca.ExportCertificatePem() + "\n");
        var files = new ClusterCertificates(directory, password);
        foreach (var name in names.Length == 0 ? ["node"] : names)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name}, O=LstmCluster", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(name);
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
            using var signed = request.Create(ca, now.AddMinutes(-5), now.AddYears(2), RandomNumberGenerator.GetBytes(16));
            using var withKey = signed.CopyWithPrivateKey(key);
            var bundle = new X509Certificate2Collection { withKey, X509CertificateLoader.LoadCertificate(ca.RawData) };
            File.WriteAllBytes(files.Pfx(name), bundle.Export(X509ContentType.Pkcs12, password)!);
        }
        return files;
    }
}
