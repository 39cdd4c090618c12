namespace LstmCluster.Cli;

/// <summary>Bad usage the parser cannot see (conflicting options): exit 2 with the message.</summary>
public sealed class CliUsageException(string message) : Exception(message);
