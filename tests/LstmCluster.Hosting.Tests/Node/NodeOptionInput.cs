namespace LstmCluster.Hosting.Tests.Node;

/// <summary>What <c>NodeOptions.Resolve</c> takes, written short in tests: flags by name, and an environment of given variables.</summary>
internal static class NodeOptionInput
{
    public static IReadOnlyDictionary<string, string?> Flags(params (string Key, string? Value)[] flags) =>
        flags.ToDictionary(f => f.Key, f => f.Value);

    public static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
