using System.Text.Json;
using LstmCluster.Contracts;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Forecasting;
using LstmCluster.Hosting.Api;
using LstmCluster.Reporting;

namespace LstmCluster.Hosting.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class JobArtifactFilesTests
{
    [Fact]
    public void The_writer_returns_every_file_train_writes_by_relative_name_and_leaves_no_directory()
    {
        var options = new RunOptionValues { Data = ApiHost.AirPassengers, Target = "value", Epochs = "2", Hidden = 8, Layers = 1, Lookback = 12, Season = 12 }
            .ToRunOptions();
        var result = ForecastRun.Execute(options);
        string root = Path.Combine(Path.GetTempPath(), "lstmcluster-artifacts");
        int before = Directory.Exists(root) ? Directory.GetDirectories(root).Length : 0;

        var files = JobArtifactFiles.Write(options, result, "reference");

        Assert.Equal(before, Directory.Exists(root) ? Directory.GetDirectories(root).Length : 0);
        foreach (var name in new[] { "metrics.json", "forecast.csv", "test_predictions.csv", "forecast.png", "loss.png", "model/spec.json", "model/weights.bin" })
            Assert.True(files.TryGetValue(name, out var bytes) && bytes.Length > 0, $"{name} missing or empty");
        var metrics = JsonDocument.Parse(files["metrics.json"]).RootElement;
        Assert.Equal("AirPassengers.csv", metrics.GetProperty("data").GetProperty("file").GetString());
        Assert.Equal("reference", metrics.GetProperty("training").GetProperty("engine").GetString());
    }

    [Fact]
    public void The_plot_fonts_are_embedded_in_the_reporting_assembly()
    {
        var names = typeof(RunOutputs).Assembly.GetManifestResourceNames();
        Assert.Contains("LstmCluster.Reporting.Rendering.Fonts.DejaVuSans.ttf", names);
        Assert.Contains("LstmCluster.Reporting.Rendering.Fonts.DejaVuSans-Bold.ttf", names);
    }
}
