using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// TLS with mutual authentication on the Akka.Remote transport (DotNetty's SSL): this node presents
/// <see cref="Certificate"/> on every connection it opens or accepts, and accepts a peer only when the peer presents a
/// certificate that chains to one of <see cref="Authorities"/>, the cluster's own CA. The machine's trust store plays no
/// part: a certificate from a public CA, or from another private one, is refused like a self-signed one.
/// </summary>
/// <remarks>
/// Peers are not checked against a host name (Akka's <c>validate-certificate-hostname = off</c>): nodes are reached by
/// container names and addresses that come and go (<c>--scale worker=N</c>), and holding a key the cluster's CA signed is
/// what admits a node. Akka.Remote 1.5.74 stops a node whose outbound handshake fails (coordinated shutdown with its
/// <c>TlsHandshakeFailureReason</c>): a node with a wrong certificate or CA stops by itself, while a node that refuses an
/// inbound connection logs it and runs on.
/// </remarks>
public sealed class RemoteTls
{
    public RemoteTls(X509Certificate2 certificate, IReadOnlyList<X509Certificate2> authorities)
    {
        if (!certificate.HasPrivateKey) throw new ArgumentException($"the certificate {certificate.Subject} has no private key");
        if (authorities.Count == 0) throw new ArgumentException("TLS needs at least one CA certificate to check peers against");
        Certificate = certificate;
        Authorities = authorities;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificates a peer's certificate must chain to.</summary>
    public IReadOnlyList<X509Certificate2> Authorities { get; }

    /// <summary>
    /// Over <see cref="RemoteConfig.Hocon"/>: SSL on. The certificate and the validation come from <see cref="Setup"/> (a
    /// programmatic <see cref="DotNettySslSetup"/>, which Akka prefers to <c>ssl.certificate</c> keys); the keys here say
    /// the same for anyone reading the configuration.
    /// </summary>
    public const string Hocon = """
        akka.remote.dot-netty.tcp {
          # Addresses become akka.ssl.tcp://lstm@host:port.
          enable-ssl = on
          ssl {
            # Never on: RemoteTls.Validate decides, against the cluster's CA.
            suppress-validation = off
            # Both ends present a certificate: an inbound peer without one is refused.
            require-mutual-authentication = on
            # Peers are admitted by their CA, not their host name (see RemoteTls).
            validate-certificate-hostname = off
          }
        }
        """;

    /// <summary>The setup an ActorSystem needs beside <see cref="Hocon"/>: this node's certificate and <see cref="Validate"/>.</summary>
    public DotNettySslSetup Setup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, customValidator: Validate);

    /// <summary>Accepts a peer whose certificate chains to <see cref="Authorities"/>; logs each refusal as a warning.</summary>
    public bool Validate(X509Certificate2? certificate, X509Chain? chain, string peer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        string? problem = certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)
            ? "it presented no certificate"
            : Problem(certificate, chain);
        if (problem is null)
        {
            log.Debug("TLS: accepted peer {0} ({1})", peer, certificate!.Subject);
            return true;
        }
        log.Warning("TLS: refused peer {0}: {1}", peer, problem);
        return false;
    }

    /// <summary>Why <paramref name="certificate"/> is not from the cluster's CA (or not valid now); null when it is.</summary>
    /// <param name="presented">The chain the TLS stream built, whose intermediates (if the peer sent any) help to build ours.</param>
    public string? Problem(X509Certificate2 certificate, X509Chain? presented = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities.ToArray());
        // A private CA publishes no revocation lists: a node is taken out by making a new CA (see scripts/make-certs.sh).
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        if (chain.Build(certificate)) return null;
        var statuses = chain.ChainStatus.Select(s => s.Status).Distinct().ToArray();
        string what = $"its certificate ({certificate.Subject}, issued by {certificate.Issuer})";
        if (statuses.Any(s => s is X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain))
            return $"{what} is not issued by this cluster's CA";
        if (statuses.Contains(X509ChainStatusFlags.NotTimeValid))
            return $"{what} is not valid now (valid {certificate.NotBefore:yyyy-MM-dd} to {certificate.NotAfter:yyyy-MM-dd})";
        return $"{what} does not verify: {string.Join(", ", statuses)}";
    }
}
