namespace LstmCluster.Tests.Shared;

/// <summary>
/// A tool a test needs beside the .NET SDK (Debian's PyTorch, chromium, CJK and emoji fonts, node with Redocly): missing on a
/// developer's fresh machine, the test is skipped and says what to install, so `dotnet test` runs there; missing in CI
/// (<c>CI=true</c>, where <c>.ci/run</c> installs every one of them) the test fails, so CI cannot pass by lacking it.
/// Compiled into each test project that needs it (see its .csproj). Tests that call it are <c>[SkippableFact]</c>.
/// </summary>
internal static class Prerequisite
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Nothing when <paramref name="missing"/> is null; else fails in CI and skips elsewhere, saying what is missing.</summary>
    public static void Require(string? missing)
    {
        if (missing is null) return;
        Assert.False(InCi, $"{missing} (.ci/run installs it)");
        Skip.If(true, $"{missing}; skipped outside CI (CI=true fails instead; .ci/run installs it)");
    }
}
