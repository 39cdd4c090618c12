using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LstmCluster.Contracts;

/// <summary>
/// How a CA certificate file reads, for the node (<c>--tls-ca</c>) and its clients (<c>--ca</c>) alike: PEM with one or
/// more <c>BEGIN CERTIFICATE</c> blocks (what <c>scripts/make-certs.sh</c> writes as <c>ca.crt</c>), else one DER
/// certificate. Each caller turns a <see cref="CryptographicException"/> into its own error, naming its own option.
/// </summary>
public static class CertificateFiles
{
    /// <summary>The certificates in <paramref name="bytes"/>; none for a PEM file without certificate blocks.</summary>
    /// <exception cref="CryptographicException">the bytes are neither PEM nor a DER certificate.</exception>
    public static X509Certificate2Collection Decode(byte[] bytes)
    {
        var certificates = new X509Certificate2Collection();
        string text = System.Text.Encoding.ASCII.GetString(bytes);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)) certificates.ImportFromPem(text);
        else certificates.Add(X509CertificateLoader.LoadCertificate(bytes));
        return certificates;
    }
}
