using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LstmCluster.Hosting.Node;

/// <summary>The certificate the HTTP port serves HTTPS with, and the intermediates sent with it.</summary>
public sealed record HttpsCertificate(X509Certificate2 Certificate, X509Certificate2Collection Chain);

/// <summary>
/// Loads the job API's HTTPS certificate (<c>--https-certificate</c>, <c>--https-key</c>, <c>--https-password</c>) before
/// anything starts: a .pfx with the certificate and its key, or PEM files (a certificate or a full chain, and a key in the same
/// file or in <c>--https-key</c>, as Let's Encrypt writes them). Every problem is a
/// <see cref="TlsSetupException"/> of one line naming the file and the option.
/// </summary>
public static class NodeHttps
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>The certificate to serve HTTPS with, or null when the HTTP port serves plain HTTP (no <see cref="NodeOptions.HttpsCertificate"/>).</summary>
    public static HttpsCertificate? Load(NodeOptions options)
    {
        if (options.HttpsCertificate is not { } file) return null;
        byte[] bytes = NodeTls.ReadFile(file, "HTTPS certificate", "--https-certificate");
        bool pem = System.Text.Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 4096)).Contains("-----BEGIN ", StringComparison.Ordinal);
        if (!pem && options.HttpsKey is not null)
            throw new TlsSetupException($"--https-key is for a PEM certificate; {file} is not PEM (a .pfx holds its key)");
        var (certificate, chain) = pem ? ReadPem(file, options.HttpsKey, options.HttpsPassword) : ReadPkcs12(file, options.HttpsPassword);
        var now = DateTime.UtcNow;
        if (certificate.NotAfter.ToUniversalTime() < now)
            throw new TlsSetupException($"the HTTPS certificate {file} expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (--https-certificate): clients would refuse it");
        if (certificate.NotBefore.ToUniversalTime() > now)
            throw new TlsSetupException($"the HTTPS certificate {file} is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (--https-certificate): clients would refuse it");
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().SelectMany(e => e.EnhancedKeyUsages.Cast<Oid>()).Select(o => o.Value).ToList();
        if (usages.Count > 0 && !usages.Contains(ServerAuthentication))
            throw new TlsSetupException($"the HTTPS certificate {file} is not for servers (its extended key usage lacks server authentication; --https-certificate): clients would refuse it");
        return new HttpsCertificate(certificate, chain);
    }

    private static (X509Certificate2, X509Certificate2Collection) ReadPkcs12(string file, string? password)
    {
        X509Certificate2Collection bundle;
        try
        {
            bundle = X509CertificateLoader.LoadPkcs12CollectionFromFile(file, password, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException e) when (e.Message.Contains("password", StringComparison.OrdinalIgnoreCase) || e.HResult == unchecked((int)0x80070056))
        {
            throw new TlsSetupException(password is null
                ? $"the HTTPS certificate {file} needs a password: give --https-password or LSTMCLUSTER_HTTPS_PASSWORD"
                : $"the HTTPS certificate {file} does not open with the given password (--https-password or LSTMCLUSTER_HTTPS_PASSWORD)");
        }
        catch (CryptographicException e)
        {
            throw new TlsSetupException($"the HTTPS certificate {file} is neither a PKCS#12 (.pfx) file nor PEM (--https-certificate): {e.Message.TrimEnd('.')}");
        }
        var own = bundle.Where(c => c.HasPrivateKey).ToList();
        if (own.Count != 1)
            throw new TlsSetupException(own.Count == 0
                ? $"the HTTPS certificate {file} holds no private key (--https-certificate): export the certificate with its key"
                : $"the HTTPS certificate {file} holds {own.Count} private keys (--https-certificate): give a .pfx with one certificate and its key (and its CA certificates)");
        return (own[0], Rest(bundle, own[0]));
    }

    private static (X509Certificate2, X509Certificate2Collection) ReadPem(string file, string? keyFile, string? password)
    {
        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPemFile(file);
        }
        catch (CryptographicException e)
        {
            throw new TlsSetupException($"the HTTPS certificate {file} holds no readable certificate (--https-certificate): {e.Message.TrimEnd('.')}");
        }
        if (all.Count == 0) throw new TlsSetupException($"the HTTPS certificate {file} holds no certificate (--https-certificate): a PEM file with a BEGIN CERTIFICATE block");
        if (keyFile is not null) _ = NodeTls.ReadFile(keyFile, "HTTPS key", "--https-key");
        X509Certificate2 certificate;
        try
        {
            // The first certificate is the server's (a full chain lists it first); its key is in the key file, else in this one.
            certificate = password is { Length: > 0 }
                ? X509Certificate2.CreateFromEncryptedPemFile(file, password, keyFile)
                : X509Certificate2.CreateFromPemFile(file, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            string keyAt = keyFile ?? file;
            throw new TlsSetupException(
                e.Message.Contains("password", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("encrypted", StringComparison.OrdinalIgnoreCase)
                    ? $"the HTTPS key in {keyAt} does not open (--https-password or LSTMCLUSTER_HTTPS_PASSWORD): {e.Message.TrimEnd('.')}"
                : keyFile is null
                    ? $"the HTTPS certificate {file} holds no private key for its certificate: give the key file with --https-key ({e.Message.TrimEnd('.')})"
                    : $"the key {keyFile} (--https-key) is not the key of the certificate in {file}, or not a PEM private key: {e.Message.TrimEnd('.')}");
        }
        return (certificate, Rest(all, certificate));
    }

    /// <summary>The certificates other than the server's own: the chain Kestrel sends with it.</summary>
    private static X509Certificate2Collection Rest(X509Certificate2Collection all, X509Certificate2 own)
    {
        var chain = new X509Certificate2Collection();
        foreach (var c in all)
            if (!c.RawData.AsSpan().SequenceEqual(own.RawData)) chain.Add(c);
        return chain;
    }
}
