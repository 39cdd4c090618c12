using System.Text.Json;

namespace LstmCluster.Cli.Tests;

/// <summary>
/// The runtime settings every <c>lstmcluster</c> process starts with (its runtimeconfig, from the CLI's project file): the
/// README's memory and speed figures were measured with them, and a project-file edit that drops one changes those figures
/// silently.
/// </summary>
public class RuntimeConfigTests
{
    private static JsonElement ConfigProperties()
    {
        // The CLI's runtimeconfig is copied beside the tests with its assembly.
        string path = Path.Combine(AppContext.BaseDirectory, "lstmcluster.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
    }

    [Fact]
    public void The_gen0_budget_is_capped_so_a_host_reporting_a_huge_L3_does_not_commit_150_MiB_a_process()
    {
        var budget = ConfigProperties().GetProperty("System.GC.Gen0MaxBudget").GetInt64();
        Assert.InRange(budget, 4L << 20, 64L << 20);
    }

    [Fact]
    public void Weight_and_gradient_vectors_stay_off_the_large_object_heap()
    {
        // 200 KB (hidden 64) to 800 KB (hidden 128) a vector: under the threshold they die young in gen 0.
        var threshold = ConfigProperties().GetProperty("System.GC.LOHThreshold").GetInt64();
        Assert.True(threshold > 800_000, $"LOH threshold {threshold}");
    }
}
