using System.CommandLine.Parsing;

namespace LstmCluster.Cli.Commands;

/// <summary>Helpers for option validators.</summary>
internal static class OptionValues
{
    /// <summary>
    /// The option's value when its text converted; false otherwise. A validator runs even when the conversion failed, and
    /// <see cref="OptionResult.GetValueOrDefault{T}"/> then throws: the parser already reports that error on its own.
    /// </summary>
    public static bool TryGet<T>(OptionResult result, out T? value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }
}
