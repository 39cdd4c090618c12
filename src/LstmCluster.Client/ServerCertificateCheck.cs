using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LstmCluster.Contracts;

namespace LstmCluster.Client;

/// <summary>
/// How a <see cref="JobApiClient"/> checks an HTTPS server's certificate: the system's checks, and beside the system's CAs the
/// <c>--ca</c> ones (a cluster's private CA). It keeps why it refused the last certificate, which .NET's own handshake error
/// does not say once a check of the application's refused it.
/// </summary>
public sealed class ServerCertificateCheck(X509Certificate2Collection? authorities = null)
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509Certificate2Collection authorities = authorities is null ? [] : new X509Certificate2Collection(authorities);
    private volatile string? lastRefusal;

    /// <summary>Why the last certificate was refused: "not issued by a trusted CA", "issued for another name (...)", ...; null if none was.</summary>
    public string? LastRefusal => lastRefusal;

    /// <summary>
    /// Accepts what the system trusts; else, when the only fault is a chain to a root the system does not know, a chain to one of
    /// the given CAs for server authentication. A name that does not match, or no certificate, is never accepted: a CA vouches
    /// for a name, not for any server that holds one of its certificates.
    /// </summary>
    public bool Validate(X509Certificate2? certificate, X509Chain? systemChain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return Refuse("the server sent none");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return Refuse($"issued for another name: it names {Names(certificate)}");
        if (authorities.Count == 0) return Refuse(ChainProblem(systemChain));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        // A private CA publishes no revocation list (scripts/make-certs.sh's does not); its certificates are short-lived instead.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        // The intermediates the server sent with its certificate.
        if (systemChain is not null)
            foreach (var element in systemChain.ChainElements)
                if (!element.Certificate.RawData.AsSpan().SequenceEqual(certificate.RawData)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        if (chain.Build(certificate)) return true;
        string problem = ChainProblem(chain);
        return Refuse(problem == UntrustedIssuer ? $"{problem}, nor by the --ca file's" : problem);
    }

    /// <summary>The handler a client sends through: <see cref="Validate"/> checks the certificates.</summary>
    public SocketsHttpHandler Handler()
    {
        var handler = new SocketsHttpHandler { Expect100ContinueTimeout = JobApiClient.Expect100ContinueWait };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            Validate(certificate as X509Certificate2 ?? (certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())), chain, errors);
        return handler;
    }

    private bool Refuse(string why)
    {
        lastRefusal = why;
        return false;
    }

    private const string UntrustedIssuer = "not issued by a trusted CA";

    private static string ChainProblem(X509Chain? chain)
    {
        var status = chain?.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b) ?? X509ChainStatusFlags.NoError;
        if (status.HasFlag(X509ChainStatusFlags.NotTimeValid)) return "expired or not valid yet";
        if (status.HasFlag(X509ChainStatusFlags.NotValidForUsage) || status.HasFlag(X509ChainStatusFlags.InvalidExtension)) return "not valid for a server (its extended key usage)";
        if (status.HasFlag(X509ChainStatusFlags.UntrustedRoot) || status.HasFlag(X509ChainStatusFlags.PartialChain)) return UntrustedIssuer;
        if (status.HasFlag(X509ChainStatusFlags.Revoked)) return "revoked";
        return status == X509ChainStatusFlags.NoError ? "its chain does not verify" : $"its chain does not verify: {status}";
    }

    private static string Names(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(san => san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(ip => ip.ToString()))).ToList();
        return names.Count > 0 ? string.Join(", ", names) : certificate.Subject;
    }

    /// <summary>
    /// The CA certificates in <paramref name="file"/> (PEM, one or several, or one DER certificate). A missing or unreadable file,
    /// or one without a certificate, is an <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static X509Certificate2Collection LoadAuthorities(string file)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"--ca {file}: file not found");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new ArgumentException($"--ca {file}: cannot read it: {e.Message.TrimEnd('.')}");
        }
        X509Certificate2Collection certificates;
        try
        {
            certificates = CertificateFiles.Decode(bytes);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"--ca {file}: not a PEM or DER certificate: {e.Message.TrimEnd('.')}");
        }
        if (certificates.Count == 0) throw new ArgumentException($"--ca {file}: holds no certificate (a PEM file with BEGIN CERTIFICATE blocks, or a DER certificate)");
        return certificates;
    }
}
