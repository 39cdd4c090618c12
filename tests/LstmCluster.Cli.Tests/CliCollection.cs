namespace LstmCluster.Cli.Tests;

/// <summary>The CLI writes to the process-wide console and uses torch's global generator: one test at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "cli";
}
