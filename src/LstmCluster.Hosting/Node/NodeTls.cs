using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LstmCluster.Contracts;
using LstmCluster.Actors.Remoting;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Loads a node's TLS material (<c>--tls-certificate</c>, <c>--tls-password</c>, <c>--tls-ca</c>) into a <see cref="RemoteTls"/>,
/// before anything starts. Every problem is a <see cref="TlsSetupException"/> of one line naming the file and the option.
/// </summary>
public static class NodeTls
{
    /// <summary>The node's TLS, or null when it runs plaintext (no <see cref="NodeOptions.TlsCertificate"/>).</summary>
    public static RemoteTls? Load(NodeOptions options)
    {
        if (options.TlsCertificate is not { } file) return null;
        var bundle = ReadPkcs12(file, options.TlsPassword);
        var own = bundle.Where(c => c.HasPrivateKey).ToList();
        if (own.Count == 0)
            throw new TlsSetupException($"the TLS certificate {file} holds no private key (--tls-certificate): export the node's certificate with its key (scripts/make-certs.sh makes such .pfx files)");
        if (own.Count > 1)
            throw new TlsSetupException($"the TLS certificate {file} holds {own.Count} private keys (--tls-certificate): give a .pfx with this node's certificate and key alone (and CA certificates)");
        var certificate = own[0];
        // The CA: the file --tls-ca names, or else the self-signed CA certificates that came in the .pfx with the node's own.
        var authorities = options.TlsCa is { } caFile
            ? ReadCa(caFile)
            : [.. bundle.Where(c => !c.HasPrivateKey && IsAuthority(c) && c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData))];
        if (authorities.Count == 0)
            throw new TlsSetupException($"no CA to check other nodes against: give --tls-ca FILE (the cluster's ca.crt), or a .pfx that includes the CA certificate (scripts/make-certs.sh makes both)");
        var tls = new RemoteTls(certificate, authorities);
        // The other nodes would refuse this node's certificate for the same reason: say so now, not in a handshake log.
        if (tls.Problem(certificate) is { } problem)
            throw new TlsSetupException(problem.Replace("its certificate", $"this node's certificate {file}", StringComparison.Ordinal)
                .Replace("this cluster's CA", options.TlsCa is { } ca ? $"the CA of {ca} (--tls-ca)" : "the CA inside the .pfx", StringComparison.Ordinal)
                + ": the other nodes would refuse it");
        return tls;
    }

    private static X509Certificate2Collection ReadPkcs12(string file, string? password)
    {
        byte[] bytes = ReadFile(file, "TLS certificate", "--tls-certificate");
        try
        {
            return X509CertificateLoader.LoadPkcs12Collection(bytes, password, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException e) when (IsWrongPassword(e))
        {
            throw new TlsSetupException(password is null
                ? $"the TLS certificate {file} needs a password: give --tls-password or LSTMCLUSTER_TLS_PASSWORD"
                : $"the TLS certificate {file} does not open with the given password (--tls-password or LSTMCLUSTER_TLS_PASSWORD)");
        }
        catch (CryptographicException e)
        {
            throw new TlsSetupException($"the TLS certificate {file} is not a PKCS#12 (.pfx) file (--tls-certificate): {e.Message.TrimEnd('.')}");
        }
    }

    /// <summary>The password check fails with this message on every platform .NET 10 supports (there is no error code for it).</summary>
    private static bool IsWrongPassword(CryptographicException e) =>
        e.Message.Contains("password", StringComparison.OrdinalIgnoreCase) || e.HResult == unchecked((int)0x80070056);

    private static List<X509Certificate2> ReadCa(string file)
    {
        byte[] bytes = ReadFile(file, "CA certificate", "--tls-ca");
        X509Certificate2Collection certificates;
        try
        {
            certificates = CertificateFiles.Decode(bytes);
        }
        catch (CryptographicException e)
        {
            throw new TlsSetupException($"the CA certificate {file} is not a PEM or DER certificate (--tls-ca): {e.Message.TrimEnd('.')}");
        }
        var authorities = certificates.Where(IsAuthority).ToList();
        if (authorities.Count == 0)
            throw new TlsSetupException($"the file {file} holds no CA certificate (--tls-ca): give the cluster's ca.crt, not a node's certificate");
        return authorities;
    }

    private static bool IsAuthority(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);

    /// <summary>The bytes of a TLS file; missing or unreadable, a <see cref="TlsSetupException"/> naming <paramref name="what"/>, the file and <paramref name="option"/>.</summary>
    internal static byte[] ReadFile(string file, string what, string option)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TlsSetupException($"the {what} {file} does not exist ({option})");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new TlsSetupException($"cannot read the {what} {file} ({option}): {e.Message.TrimEnd('.')}");
        }
    }
}

/// <summary>A node's TLS files or password are unusable: bad usage, the node does not start (exit code 2, one line).</summary>
public sealed class TlsSetupException(string message) : ArgumentException(message);
