using System.Text.RegularExpressions;
using LstmCluster.Hosting.Node;
using YamlDotNet.RepresentationModel;

namespace LstmCluster.Hosting.Tests.Deploy;

/// <summary>
/// <c>deploy/k8s/</c>, checked without a Kubernetes cluster (none runs here): every document parses, has what the API
/// server requires, and agrees with itself and with the node: selectors select the pods they mean, probes ask the
/// node's /ready and /health on a port the container declares, every <c>LSTMCLUSTER_</c> variable is a node option and
/// the environment of each container resolves into valid node options with Kubernetes discovery, whose label selector
/// selects every pod of the cluster; the RBAC lets discovery list pods, and every secret a pod needs is documented.
/// Each check is shown to catch a broken copy of the manifests.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static string Root => Path.GetDirectoryName(ApiHost.Samples)!;

    private static string Folder => Path.Combine(Root, "deploy", "k8s");

    /// <summary>Every manifest file of the folder, name → text.</summary>
    private static Dictionary<string, string> Files() =>
        Directory.GetFiles(Folder, "*.yaml").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);

    [Fact]
    public void The_manifests_parse_and_agree_with_each_other_and_with_the_node()
    {
        var files = Files();
        Assert.Contains("kustomization.yaml", files.Keys);
        var problems = Problems(files, File.ReadAllText(Path.Combine(Folder, "README.md")));
        Assert.True(problems.Count == 0, "deploy/k8s:\n" + string.Join("\n", problems));
    }

    public static TheoryData<string, string, string, string> Breakages => new()
    {
        // file, text, replaced by, a problem that must then be reported
        { "coordinator.yaml", "path: /ready", "path: /readyz", "readiness probe asks /readyz" },
        { "worker.yaml", "path: /health", "path: /healthz", "liveness probe asks /healthz" },
        { "worker.yaml", "port: http", "port: web", "probe port 'web' is not a port of container node" },
        { "parameter-server.yaml", "containerPort: 8558", "containerPort: 8559", "management port 8558 (LSTMCLUSTER_MANAGEMENT_PORT) is not the container port named management (8559)" },
        { "worker.yaml", "name: LSTMCLUSTER_DISCOVERY_SELECTOR", "name: LSTMCLUSTER_DISCOVERY_LABELS", "LSTMCLUSTER_DISCOVERY_LABELS is not a node option" },
        { "coordinator.yaml", "value: \"app.kubernetes.io/part-of={0}\"", "value: \"app=lstmcluster\"", "discovery selector app=lstmcluster (of StatefulSet lstmcluster-coordinator) does not select the pods of lstmcluster-worker" },
        { "worker.yaml", "      app.kubernetes.io/component: worker\n  template", "      app.kubernetes.io/component: workers\n  template", "selector of Deployment lstmcluster-worker does not match its pod labels" },
        { "coordinator.yaml", "              cpu: 250m\n", "", "container node of StatefulSet lstmcluster-coordinator requests no cpu" },
        { "rbac.yaml", "verbs: [\"get\", \"watch\", \"list\"]", "verbs: [\"get\"]", "no Role lets the nodes get, watch and list pods" },
        { "coordinator.yaml", "mountPath: /data/state", "mountPath: /data/other", "the state directory /data/state (LSTMCLUSTER_STATE_DIR) is not on the volume claim" },
        { "services.yaml", "app.kubernetes.io/component: coordinator\n  ports", "app.kubernetes.io/component: api\n  ports", "Service lstmcluster-api selects no pod" },
        { "coordinator.yaml", "name: lstmcluster-api\n                  key: token", "name: lstmcluster-api\n                  key: api-token", "secret lstmcluster-api key api-token is not made in README.md" },
        { "kustomization.yaml", "  - worker.yaml\n", "", "worker.yaml is not a resource of kustomization.yaml" },
        { "worker.yaml", "kind: Deployment", "kind: Deploymnet", "no Deployment of the worker role" },
        { "rbac.yaml", "    namespace: lstmcluster", "    namespace: default", "RoleBinding subject lstmcluster is in namespace default, not the kustomization's lstmcluster" },
        { "services.yaml", "  name: lstmcluster-nodes", "  name: lstmcluster-peers", "serviceName lstmcluster-nodes of StatefulSet lstmcluster-coordinator is not a headless Service" },
        { "worker.yaml", "value: kubernetes", "value: static", "discovery of container node of Deployment lstmcluster-worker is static, not kubernetes" },
        { "parameter-server.yaml", "apiVersion: apps/v1\n", "", "a document of parameter-server.yaml has no apiVersion" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void A_broken_manifest_is_reported(string file, string text, string replacement, string problem)
    {
        var files = Files();
        Assert.Contains(text, files[file]);
        files[file] = files[file].Replace(text, replacement, StringComparison.Ordinal);
        string readme = File.ReadAllText(Path.Combine(Folder, "README.md"));
        var problems = Problems(files, readme);
        Assert.True(problems.Any(p => p.Contains(problem, StringComparison.Ordinal)),
            $"expected '{problem}' after breaking {file}; reported:\n{string.Join("\n", problems)}");
    }

    /// <summary>What is wrong with <paramref name="files"/> (name → YAML text); empty when nothing is.</summary>
    private static List<string> Problems(Dictionary<string, string> files, string readme)
    {
        var problems = new List<string>();
        var docs = new List<(string File, Dictionary<string, object?> Doc)>();
        foreach (var (name, text) in files)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text));
            }
            catch (YamlDotNet.Core.YamlException e)
            {
                problems.Add($"{name} does not parse: {e.Message}");
                continue;
            }
            foreach (var d in stream.Documents)
            {
                if (Plain(d.RootNode) is not Dictionary<string, object?> doc)
                {
                    problems.Add($"a document of {name} is not a mapping");
                    continue;
                }
                docs.Add((name, doc));
                if (Str(doc, "apiVersion") is null) problems.Add($"a document of {name} has no apiVersion");
                if (Str(doc, "kind") is null) problems.Add($"a document of {name} has no kind");
                if (Str(doc, "kind") != "Kustomization")
                {
                    if (Str(doc, "metadata", "name") is null) problems.Add($"a {Str(doc, "kind")} of {name} has no metadata.name");
                    // Namespace-agnostic: the namespace is the kustomization's (or kubectl's -n).
                    if (Str(doc, "metadata", "namespace") is { } ns) problems.Add($"{Str(doc, "kind")} {Str(doc, "metadata", "name")} names namespace {ns}");
                }
            }
        }

        var kustomization = docs.FirstOrDefault(d => Str(d.Doc, "kind") == "Kustomization").Doc;
        string? ns0 = kustomization is null ? null : Str(kustomization, "namespace");
        if (kustomization is null) problems.Add("no kustomization.yaml");
        else
        {
            var resources = List(kustomization, "resources").OfType<string>().ToList();
            foreach (var f in files.Keys.Where(f => f != "kustomization.yaml" && !resources.Contains(f))) problems.Add($"{f} is not a resource of kustomization.yaml");
            foreach (var r in resources.Where(r => !files.ContainsKey(r))) problems.Add($"kustomization.yaml lists {r}, which does not exist");
            if (!List(kustomization, "images").OfType<Dictionary<string, object?>>().Any(i => Str(i, "name") == "lstmcluster"))
                problems.Add("kustomization.yaml does not name the lstmcluster image");
        }

        var workloads = docs.Select(d => d.Doc).Where(d => Str(d, "kind") is "StatefulSet" or "Deployment").ToList();
        var services = docs.Select(d => d.Doc).Where(d => Str(d, "kind") == "Service").ToList();
        var accounts = docs.Select(d => d.Doc).Where(d => Str(d, "kind") == "ServiceAccount").Select(d => Str(d, "metadata", "name")).ToHashSet();
        var secrets = new HashSet<(string Name, string Key)>();
        var selectors = new List<(string Workload, string Selector)>();

        foreach (var role in NodeOptions.KnownRoles)
        {
            string kind = role == "coordinator" ? "StatefulSet" : "Deployment";
            if (!workloads.Any(w => Str(w, "kind") == kind && RolesOf(w).Contains(role))) problems.Add($"no {kind} of the {role} role");
        }

        foreach (var w in workloads)
        {
            string what = $"{Str(w, "kind")} {Str(w, "metadata", "name")}";
            var podLabels = Labels(Map(w, "spec", "template", "metadata", "labels"));
            var matchLabels = Labels(Map(w, "spec", "selector", "matchLabels"));
            if (matchLabels.Count == 0 || matchLabels.Any(l => podLabels.GetValueOrDefault(l.Key) != l.Value))
                problems.Add($"selector of {what} does not match its pod labels");
            var podSpec = Map(w, "spec", "template", "spec");
            if (Str(podSpec, "serviceAccountName") is not { } account || !accounts.Contains(account))
                problems.Add($"{what} runs as no ServiceAccount of the manifests (Kubernetes discovery needs one allowed to list pods)");
            var volumes = List(podSpec, "volumes").OfType<Dictionary<string, object?>>().ToList();
            foreach (var v in volumes)
                if (Str(v, "secret", "secretName") is { } secretName)
                    foreach (var item in List(v, "secret", "items").OfType<Dictionary<string, object?>>())
                        secrets.Add((secretName, Str(item, "key")!));

            var containers = List(podSpec, "containers").OfType<Dictionary<string, object?>>().ToList();
            if (containers.Count == 0) problems.Add($"{what} has no container");
            foreach (var c in containers)
            {
                string cwhat = $"container {Str(c, "name")} of {what}";
                if (Str(c, "image") is null) problems.Add($"{cwhat} has no image");
                var ports = List(c, "ports").OfType<Dictionary<string, object?>>()
                    .ToDictionary(p => Str(p, "name") ?? "", p => int.Parse(Str(p, "containerPort") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
                foreach (var (probe, path) in new[] { ("readinessProbe", "/ready"), ("livenessProbe", "/health") })
                {
                    if (Map(c, probe) is not { } p || Str(p, "httpGet", "path") is not { } asked)
                    {
                        problems.Add($"{cwhat} has no {probe} over HTTP");
                        continue;
                    }
                    if (asked != path) problems.Add($"{cwhat}: {probe.Replace("Probe", " probe", StringComparison.Ordinal)} asks {asked}, not {path}");
                    string port = Str(p, "httpGet", "port") ?? "";
                    if (!ports.ContainsKey(port) && !ports.ContainsValue(int.TryParse(port, out int n) ? n : -1))
                        problems.Add($"{cwhat}: probe port '{port}' is not a port of container {Str(c, "name")}");
                }
                foreach (var resource in new[] { "cpu", "memory" })
                    if (Str(c, "resources", "requests", resource) is null) problems.Add($"{cwhat} requests no {resource}");
                if (Str(c, "resources", "limits", "memory") is null) problems.Add($"{cwhat} has no memory limit");

                // The container's environment, as the node reads it.
                var env = new Dictionary<string, string>();
                foreach (var e in List(c, "env").OfType<Dictionary<string, object?>>())
                {
                    string name = Str(e, "name") ?? "";
                    if (name.StartsWith("LSTMCLUSTER_", StringComparison.Ordinal) && !NodeOptions.EnvironmentNames.Values.Contains(name))
                        problems.Add($"{name} is not a node option ({cwhat})");
                    else if (!name.StartsWith("LSTMCLUSTER_", StringComparison.Ordinal) && name != "OMP_NUM_THREADS")
                        problems.Add($"{cwhat} sets {name}, which the node does not read");
                    if (Str(e, "value") is { } value) env[name] = value;
                    else if (Str(e, "valueFrom", "fieldRef", "fieldPath") == "status.podIP") env[name] = "10.1.2.3";
                    else if (Map(e, "valueFrom", "secretKeyRef") is { } secret)
                    {
                        secrets.Add((Str(secret, "name")!, Str(secret, "key")!));
                        env[name] = "secret-of-at-least-16-characters";
                    }
                    else problems.Add($"{cwhat}: {name} has no value");
                }
                NodeOptions options;
                try
                {
                    options = NodeOptions.Resolve(new Dictionary<string, string?>(), v => env.GetValueOrDefault(v), configPath: null);
                }
                catch (ArgumentException e)
                {
                    problems.Add($"{cwhat}: its environment is not valid node options: {e.Message}");
                    continue;
                }
                if (options.Discovery.Method != NodeDiscoveryOptions.Kubernetes)
                    problems.Add($"discovery of {cwhat} is {options.Discovery.Method}, not kubernetes");
                if (podLabels.GetValueOrDefault("app.kubernetes.io/component") is { } component && !options.Roles.SequenceEqual([component]))
                    problems.Add($"{cwhat} has roles {string.Join(",", options.Roles)}, its pods are labelled {component}");
                foreach (var (portName, port, variable) in new[]
                         {
                             (NodeDiscoveryOptions.ManagementPortName, options.Discovery.ManagementPort, "LSTMCLUSTER_MANAGEMENT_PORT"),
                             ("http", options.HttpPort, "LSTMCLUSTER_HTTP_PORT"), ("remoting", options.Port, "LSTMCLUSTER_PORT"),
                         })
                    if (ports.GetValueOrDefault(portName) != port)
                        problems.Add($"{cwhat}: {portName} port {port} ({variable}) is not the container port named {portName} ({ports.GetValueOrDefault(portName)})");
                if (options.Host != "0.0.0.0") problems.Add($"{cwhat} binds {options.Host}, not 0.0.0.0");
                if (env.GetValueOrDefault("LSTMCLUSTER_PUBLIC_HOST") != "10.1.2.3")
                    problems.Add($"{cwhat}: LSTMCLUSTER_PUBLIC_HOST is not the pod's IP (status.podIP), which Kubernetes discovery finds it by");
                selectors.Add((what, options.Discovery.EffectiveSelector));
                if (options.Has("coordinator"))
                {
                    var claims = List(w, "spec", "volumeClaimTemplates").OfType<Dictionary<string, object?>>().Select(v => Str(v, "metadata", "name")).ToHashSet();
                    var onClaim = List(c, "volumeMounts").OfType<Dictionary<string, object?>>()
                        .Where(m => claims.Contains(Str(m, "name"))).Select(m => Str(m, "mountPath")).ToList();
                    if (options.StateDir is not { } state || !onClaim.Contains(state))
                        problems.Add($"the state directory {options.StateDir} (LSTMCLUSTER_STATE_DIR) is not on the volume claim of {what}");
                    if (options.ApiToken is null) problems.Add($"{cwhat} serves the job API without LSTMCLUSTER_API_TOKEN");
                }
                if (!options.Tls) problems.Add($"{cwhat} speaks plaintext to its peers (no LSTMCLUSTER_TLS_CERTIFICATE)");
            }
            if (Str(w, "kind") == "StatefulSet")
            {
                string serviceName = Str(w, "spec", "serviceName") ?? "";
                if (!services.Any(s => Str(s, "metadata", "name") == serviceName && Str(s, "spec", "clusterIP") == "None"))
                    problems.Add($"serviceName {serviceName} of {what} is not a headless Service");
            }
        }

        // The discovery selector of every node selects every pod of the cluster (else a node would miss peers).
        foreach (var (workload, selector) in selectors.Distinct())
            foreach (var w in workloads)
                if (!Selects(selector, Labels(Map(w, "spec", "template", "metadata", "labels"))))
                    problems.Add($"discovery selector {selector} (of {workload}) does not select the pods of {Str(w, "metadata", "name")}");

        foreach (var s in services)
        {
            string what = $"Service {Str(s, "metadata", "name")}";
            var selector = Labels(Map(s, "spec", "selector"));
            var selected = workloads.Where(w => selector.Count > 0 && selector.All(l => Labels(Map(w, "spec", "template", "metadata", "labels")).GetValueOrDefault(l.Key) == l.Value)).ToList();
            if (selected.Count == 0) problems.Add($"{what} selects no pod");
            foreach (var p in List(s, "spec", "ports").OfType<Dictionary<string, object?>>())
            {
                string target = Str(p, "targetPort") ?? Str(p, "port") ?? "";
                foreach (var w in selected)
                    if (!List(w, "spec", "template", "spec", "containers").OfType<Dictionary<string, object?>>()
                            .SelectMany(c => List(c, "ports").OfType<Dictionary<string, object?>>())
                            .Any(cp => Str(cp, "name") == target || Str(cp, "containerPort") == target))
                        problems.Add($"{what}: target port {target} is not a port of {Str(w, "metadata", "name")}");
            }
        }
        if (!services.Any(s => Str(s, "spec", "clusterIP") == "None")) problems.Add("no headless Service for the nodes");

        // RBAC for Kubernetes API discovery.
        var roles = docs.Select(d => d.Doc).Where(d => Str(d, "kind") == "Role").ToList();
        var podReaders = roles.Where(r => List(r, "rules").OfType<Dictionary<string, object?>>().Any(rule =>
            List(rule, "apiGroups").Contains("") && List(rule, "resources").Contains("pods")
            && new[] { "get", "watch", "list" }.All(v => List(rule, "verbs").Contains(v)))).Select(r => Str(r, "metadata", "name")).ToHashSet();
        if (podReaders.Count == 0) problems.Add("no Role lets the nodes get, watch and list pods");
        var bindings = docs.Select(d => d.Doc).Where(d => Str(d, "kind") == "RoleBinding").ToList();
        foreach (var account in accounts)
            if (!bindings.Any(b => Str(b, "roleRef", "kind") == "Role" && podReaders.Contains(Str(b, "roleRef", "name"))
                    && List(b, "subjects").OfType<Dictionary<string, object?>>().Any(s => Str(s, "kind") == "ServiceAccount" && Str(s, "name") == account)))
                problems.Add($"ServiceAccount {account} is bound to no Role that reads pods");
        foreach (var b in bindings)
            foreach (var s in List(b, "subjects").OfType<Dictionary<string, object?>>().Where(s => Str(s, "kind") == "ServiceAccount"))
                if (Str(s, "namespace") != ns0)
                    problems.Add($"RoleBinding subject {Str(s, "name")} is in namespace {Str(s, "namespace")}, not the kustomization's {ns0}");

        // Secrets are made by the operator (never shipped with a value): README.md says how, key by key.
        var commands = Regex.Replace(readme, @"\\\r?\n", " ").Split('\n').Where(l => l.Contains("create secret generic ", StringComparison.Ordinal)).ToList();
        foreach (var (name, key) in secrets)
            if (!commands.Any(c => c.Contains($"generic {name} ", StringComparison.Ordinal) && c.Contains($"={key}=", StringComparison.Ordinal)))
                problems.Add($"secret {name} key {key} is not made in README.md (kubectl create secret generic {name} --from-literal={key}=... or --from-file={key}=...)");
        return problems;
    }

    private static string[] RolesOf(Dictionary<string, object?> workload) =>
        [.. List(workload, "spec", "template", "spec", "containers").OfType<Dictionary<string, object?>>()
            .SelectMany(c => List(c, "env").OfType<Dictionary<string, object?>>())
            .Where(e => Str(e, "name") == "LSTMCLUSTER_ROLES").SelectMany(e => (Str(e, "value") ?? "").Split(','))];

    /// <summary>Whether an equality-based label selector (<c>a=b,c=d</c>) selects <paramref name="labels"/>.</summary>
    private static bool Selects(string selector, Dictionary<string, string> labels) =>
        selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(term =>
        {
            var kv = term.Split('=', 2);
            return kv.Length == 2 && labels.GetValueOrDefault(kv[0].Trim()) == kv[1].Trim();
        });

    private static Dictionary<string, string> Labels(Dictionary<string, object?>? map) =>
        map?.Where(kv => kv.Value is string).ToDictionary(kv => kv.Key, kv => (string)kv.Value!) ?? [];

    private static object? Plain(YamlNode node) => node switch
    {
        YamlMappingNode m => m.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value ?? "", kv => Plain(kv.Value)),
        YamlSequenceNode s => s.Children.Select(Plain).ToList(),
        YamlScalarNode s => s.Value,
        _ => null,
    };

    private static object? At(Dictionary<string, object?>? map, params string[] path)
    {
        object? node = map;
        foreach (var key in path)
        {
            if (node is not Dictionary<string, object?> m || !m.TryGetValue(key, out node)) return null;
        }
        return node;
    }

    private static string? Str(Dictionary<string, object?>? map, params string[] path) => At(map, path) as string;

    private static Dictionary<string, object?>? Map(Dictionary<string, object?>? map, params string[] path) => At(map, path) as Dictionary<string, object?>;

    private static List<object?> List(Dictionary<string, object?>? map, params string[] path) => At(map, path) as List<object?> ?? [];
}
