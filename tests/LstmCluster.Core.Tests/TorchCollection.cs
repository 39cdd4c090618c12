namespace LstmCluster.Core.Tests;

/// <summary>
/// TorchSharp's random generator and thread settings are process-wide: tests that touch them run
/// one at a time in this collection, each seeding explicitly.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "torch";
}
