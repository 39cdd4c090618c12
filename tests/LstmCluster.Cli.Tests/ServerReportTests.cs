using LstmCluster.Cli.Output;
using LstmCluster.Contracts;

namespace LstmCluster.Cli.Tests;

public sealed class ServerReportTests
{
    private static JobView Queued(int? ahead) => new("job-7", Vocabulary.JobStates.Queued, 0, 50, 0, null, null, null, 0, "co2.csv", "value",
        null, DateTimeOffset.UnixEpoch, null, null, null, null, null, null, null, Ahead: ahead);

    [Theory]
    [InlineData(null, "job-7: queued")]
    [InlineData(0, "job-7: queued, next to start")]
    [InlineData(1, "job-7: queued, 1 job ahead")]
    [InlineData(12, "job-7: queued, 12 jobs ahead")]
    public void A_queued_jobs_line_says_how_many_start_before_it(int? ahead, string line) =>
        Assert.Equal(line, ServerReport.Line(Queued(ahead)));

    [Fact]
    public void A_jobs_candidates_table_names_a_candidate_left_out_as_the_twin_of_another()
    {
        using var metrics = System.Text.Json.JsonDocument.Parse("""
            { "model": { "mase": 0.5 }, "baselines": { "naive": { "mase": 1.0 } },
              "normalization": { "mode": "auto", "chosen": "window",
                "candidates": [ { "normalize": "window", "chosen": true, "validation": { "mase": 0.4 }, "test": { "mase": 0.5 }, "best_epoch": 3, "epochs_run": 5 },
                                { "normalize": "global", "chosen": false, "validation": { "mase": 0.6 }, "test": { "mase": 0.7 }, "best_epoch": 2, "epochs_run": 5 } ],
                "left_out": [ { "normalize": "window-seasonal", "same_as": "window", "reason": "..." } ] } }
            """);
        string printed = CliRunner.Capture(() => ServerReport.Metrics(metrics.RootElement, Queued(null)));
        Assert.Contains("window-seasonal not trained: same as window", System.Text.RegularExpressions.Regex.Replace(printed, @"\s+", " "));
    }

    [Fact]
    public void A_queued_jobs_line_says_why_it_waits() =>
        Assert.Equal("job-7: queued, next to start (waits for one of the 2 jobs 'ci' has running to end (--max-running-per-owner 2))",
            ServerReport.Line(Queued(0) with { Reason = "waits for one of the 2 jobs 'ci' has running to end (--max-running-per-owner 2)" }));
}
