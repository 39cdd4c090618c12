using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Akka.Actor;
using Akka.Discovery;
using Akka.Event;

namespace LstmCluster.Hosting.Node;

/// <summary>
/// Akka.Discovery over the Kubernetes API (<c>--discovery kubernetes</c>): lists the running pods of this pod's namespace
/// that match a label selector (<c>GET /api/v1/namespaces/{ns}/pods?labelSelector=...</c>, with the ServiceAccount's token,
/// checking the API server's certificate against the ServiceAccount's CA) and returns each pod's IP with its container
/// port of the looked-up name.
/// </summary>
/// <remarks>
/// Written here rather than taken from Akka.Discovery.KubernetesApi 1.5.73: that package is built against KubernetesClient
/// 17, and the versions the package feed serves (19, 21) lack a constructor it calls (<c>MissingMethodException</c> on
/// the first lookup, seen in <c>DiscoveryClusterTests</c>). Its configuration keys and behaviour are the same: running
/// pods with an IP, not being deleted, the first container port named as asked.
/// </remarks>
public sealed class KubernetesPodDiscovery : ServiceDiscovery
{
    /// <summary>The method's name in <c>akka.discovery</c>, and its section.</summary>
    public const string Method = "lstmcluster-kubernetes";

    /// <summary>The defaults, the same as Akka.Discovery.KubernetesApi's (a pod's ServiceAccount files and the API server's variables).</summary>
    public const string DefaultHocon = $$"""
        akka.discovery.{{Method}} {
          class = "LstmCluster.Hosting.Node.KubernetesPodDiscovery, LstmCluster.Hosting"
          # Mounted into every pod from its ServiceAccount.
          api-ca-path = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
          api-token-path = "/var/run/secrets/kubernetes.io/serviceaccount/token"
          pod-namespace-path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
          # Set in every pod by Kubernetes: the API server's address.
          api-service-host-env-name = "KUBERNETES_SERVICE_HOST"
          api-service-port-env-name = "KUBERNETES_SERVICE_PORT"
          # Empty: this pod's own namespace (pod-namespace-path), else "default".
          pod-namespace = ""
          # {0}: the service name looked up.
          pod-label-selector = "app={0}"
        }
        """;

    private readonly ILoggingAdapter log;
    private readonly string caPath, tokenPath, hostVariable, portVariable, selector, podNamespace;
    private readonly Lazy<HttpClient> http;

    public KubernetesPodDiscovery(ExtendedActorSystem system)
        : this(system, system.Settings.Config.GetConfig($"akka.discovery.{Method}"))
    {
    }

    public KubernetesPodDiscovery(ExtendedActorSystem system, Akka.Configuration.Config config)
    {
        log = Logging.GetLogger(system, typeof(KubernetesPodDiscovery));
        caPath = config.GetString("api-ca-path");
        tokenPath = config.GetString("api-token-path");
        hostVariable = config.GetString("api-service-host-env-name");
        portVariable = config.GetString("api-service-port-env-name");
        selector = config.GetString("pod-label-selector");
        string ns = config.GetString("pod-namespace", "");
        string nsPath = config.GetString("pod-namespace-path");
        podNamespace = ns.Length > 0 ? ns : File.Exists(nsPath) ? File.ReadAllText(nsPath).Trim() : "default";
        http = new Lazy<HttpClient>(() => new HttpClient(Handler(caPath)));
    }

    /// <summary>Checks the API server's certificate against the ServiceAccount's CA when the file is there (a pod), else the system's.</summary>
    private static SocketsHttpHandler Handler(string caPath)
    {
        var handler = new SocketsHttpHandler();
        if (!File.Exists(caPath)) return handler;
        var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            // The name must match as usual; the chain must end at the cluster's CA, not the system's roots.
            if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(new X509Certificate2(certificate));
        };
        return handler;
    }

    public override async Task<Resolved> Lookup(Lookup lookup, TimeSpan resolveTimeout)
    {
        string? host = Environment.GetEnvironmentVariable(hostVariable), port = Environment.GetEnvironmentVariable(portVariable);
        if (string.IsNullOrWhiteSpace(host) || string.IsNullOrWhiteSpace(port))
            throw new InvalidOperationException($"Kubernetes discovery: {hostVariable} and {portVariable} are not set (not in a pod?)");
        string labels = selector.Replace("{0}", lookup.ServiceName, StringComparison.Ordinal);
        string hostPart = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        var uri = new Uri($"https://{hostPart}:{port}/api/v1/namespaces/{Uri.EscapeDataString(podNamespace)}/pods?labelSelector={Uri.EscapeDataString(labels)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        // Read at every lookup: Kubernetes rotates the projected token.
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(tokenPath)).Trim());
        using var cancel = new CancellationTokenSource(resolveTimeout);
        using var response = await http.Value.SendAsync(request, cancel.Token);
        string body = await response.Content.ReadAsStringAsync(cancel.Token);
        if (response.StatusCode == HttpStatusCode.Forbidden)
            throw new InvalidOperationException($"Kubernetes discovery: listing pods in namespace {podNamespace} is forbidden: the pod's ServiceAccount needs a Role with get, watch, list on pods (deploy/k8s/rbac.yaml)");
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"Kubernetes discovery: {uri} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 300)]}");
        var targets = Targets(body, lookup.PortName);
        if (targets.Count == 0)
            log.Warning("Kubernetes discovery: no running pod in namespace {0} matches {1}{2}", podNamespace, labels,
                lookup.PortName is { Length: > 0 } p ? $" with a container port named {p}" : "");
        return new Resolved(lookup.ServiceName, targets);
    }

    /// <summary>The contact points of a pod list (the API's JSON): running pods with an IP, not being deleted, with their port named <paramref name="portName"/>.</summary>
    public static List<ResolvedTarget> Targets(string podList, string? portName)
    {
        using var doc = JsonDocument.Parse(podList);
        var targets = new List<ResolvedTarget>();
        if (!doc.RootElement.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array) return targets;
        foreach (var pod in items.EnumerateArray())
        {
            if (pod.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("deletionTimestamp", out var deleting) && deleting.ValueKind != JsonValueKind.Null) continue;
            if (!pod.TryGetProperty("status", out var status)) continue;
            if (!(status.TryGetProperty("phase", out var phase) && phase.GetString() == "Running")) continue;
            if (!(status.TryGetProperty("podIP", out var ipText) && IPAddress.TryParse(ipText.GetString(), out var ip))) continue;
            int? port = null;
            if (portName is { Length: > 0 })
            {
                port = Ports(pod).Where(p => p.Name == portName).Select(p => (int?)p.Port).FirstOrDefault();
                if (port is null) continue;
            }
            targets.Add(new ResolvedTarget(ip.ToString(), port, ip));
        }
        return targets;
    }

    private static IEnumerable<(string? Name, int Port)> Ports(JsonElement pod)
    {
        if (!pod.TryGetProperty("spec", out var spec) || !spec.TryGetProperty("containers", out var containers)) yield break;
        foreach (var c in containers.EnumerateArray())
            if (c.TryGetProperty("ports", out var ports) && ports.ValueKind == JsonValueKind.Array)
                foreach (var p in ports.EnumerateArray())
                    if (p.TryGetProperty("containerPort", out var number) && number.TryGetInt32(out int n))
                        yield return (p.TryGetProperty("name", out var name) ? name.GetString() : null, n);
    }
}
