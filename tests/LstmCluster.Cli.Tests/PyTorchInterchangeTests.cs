using System.Globalization;
using System.Text.Json;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using LstmCluster.Core.Training;
using TorchSharp;

namespace LstmCluster.Cli.Tests;

/// <summary>
/// export and import against PyTorch itself (Debian's python3-torch, <see cref="PyTorchTool"/>): the README's script
/// (<c>scripts/pytorch_forecast.py</c>) loads an export and reproduces lstmcluster's forecast from the raw CSV, and a
/// state_dict that PyTorch wrote imports and forecasts as PyTorch does. Agreement: the model's normalized outputs to
/// 1e-5 absolute, the forecasts in original units to 1e-5 relative.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class PyTorchInterchangeTests : IDisposable
{
    private const double Absolute = 1e-5;
    private const double Relative = 1e-5;

    private static readonly string Script = CliRunner.RepoFile(Path.Combine("scripts", "pytorch_forecast.py"));
    private static readonly string RandomStateDict = Path.Combine(AppContext.BaseDirectory, "TestData", "random_state_dict.py");

    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly string[] MsftWithFeatures =
        ["--target", "Close", "--features", "Open,Volume", "--transform", "log-return", "--normalize", "window-scaled", "--lookback", "16", "--horizon", "2"];

    /// <summary>Each preprocessing path of the script: seasonal anchors, log returns with features, long format with a global scaler.</summary>
    public static TheoryData<string, string[]> Models => new()
    {
        { "AirPassengers.csv", ["--target", "value", "--season", "12", "--lookback", "24", "--horizon", "3"] },
        { "MSFT.csv", MsftWithFeatures },
        { "vega_stocks.csv", ["--target", "price", "--symbol", "MSFT", "--normalize", "global", "--scaler", "minmax", "--lookback", "12"] },
    };

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void Exported_state_dict_loads_in_pytorch_and_the_readme_script_reproduces_the_forecast(string sample, string[] options)
    {
        string data = CliRunner.Sample(sample);
        string modelDir = Train(data, options);
        // One epoch may keep the initial zero head (naive): random weights make every output depend on every tensor.
        RandomizeWeights(modelDir, seed: 7);

        string pt = Path.Combine(dir, "export", "model.pt");
        var export = CliRunner.Run("export", "--model", modelDir, "--out", pt);
        Assert.True(export.ExitCode == 0, export.Error + export.Out);
        Assert.True(File.Exists(Path.ChangeExtension(pt, ".json")), "model.json not written beside model.pt");

        var python = RunScript(pt, Path.ChangeExtension(pt, ".json"), data);
        AssertClose(NetOutputs(modelDir, data), python.Normalized, Absolute, relative: false, "normalized output");
        AssertClose(NetForecast(modelDir, data), python.Forecast, Relative, relative: true, "forecast");
    }

    [SkippableFact]
    public void A_state_dict_written_by_pytorch_imports_and_forecasts_as_pytorch_does()
    {
        string data = CliRunner.Sample("MSFT.csv");
        string trained = Train(data, MsftWithFeatures);
        string pt = Path.Combine(dir, "model.pt"), json = Path.Combine(dir, "model.json");
        Assert.Equal(0, CliRunner.Run("export", "--model", trained, "--out", pt).ExitCode);

        string fromPyTorch = Path.Combine(dir, "pytorch.pt");
        PyTorchTool.Run(RandomStateDict, json, fromPyTorch, "11");
        string imported = Path.Combine(dir, "imported");
        var import = CliRunner.Run("import", "--state-dict", fromPyTorch, "--preprocessing", json, "--out", imported);
        Assert.True(import.ExitCode == 0, import.Error + import.Out);

        var python = RunScript(fromPyTorch, json, data);
        AssertClose(NetOutputs(imported, data), python.Normalized, Absolute, relative: false, "normalized output");
        AssertClose(NetForecast(imported, data), python.Forecast, Relative, relative: true, "forecast");
        // Not the trained model's weights: the imported ones are PyTorch's.
        Assert.NotEqual(ModelStore.Load(trained).Weights, ModelStore.Load(imported).Weights);
    }

    [SkippableFact]
    public void A_pytorch_state_dict_of_another_hidden_size_exits_2_naming_the_tensor_and_both_shapes()
    {
        string data = CliRunner.Sample("AirPassengers.csv");
        string trained = Train(data, ["--target", "value", "--lookback", "8"]);
        string pt = Path.Combine(dir, "model.pt"), json = Path.Combine(dir, "model.json");
        Assert.Equal(0, CliRunner.Run("export", "--model", trained, "--out", pt).ExitCode);

        string wide = Path.Combine(dir, "wide.pt");
        PyTorchTool.Run(RandomStateDict, json, wide, "1", "16");
        string target = Path.Combine(dir, "imported");
        var r = CliRunner.Run("import", "--state-dict", wide, "--preprocessing", json, "--out", target);
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {wide}: tensor 'lstm.weight_ih_l0' has shape [64, 1], expected [32, 1] for input_size 1, hidden_size 8", line);
        Assert.False(Directory.Exists(target), "a refused import must not leave a model directory");
    }

    [SkippableFact]
    public void Export_refuses_an_existing_file_without_force_and_a_json_name_before_reading_the_model()
    {
        string pt = Path.Combine(dir, "model.pt");
        File.WriteAllText(pt, "keep");
        var r = CliRunner.Run("export", "--model", Path.Combine(dir, "no-model"), "--out", pt);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("the file exists; add --force", r.Error);
        Assert.Equal("keep", File.ReadAllText(pt));

        r = CliRunner.Run("export", "--model", Path.Combine(dir, "no-model"), "--out", Path.Combine(dir, "model.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("the state_dict cannot be named .json", r.Error);

        r = CliRunner.Run("export", "--model", Path.Combine(dir, "no-model"), "--out", Path.Combine(dir, "fresh.pt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no such model directory", r.Error);
    }

    [SkippableFact]
    public void Readme_shows_the_script_the_tests_run()
    {
        string readme = File.ReadAllText(CliRunner.RepoFile("README.md")).ReplaceLineEndings("\n");
        string script = File.ReadAllText(Script).ReplaceLineEndings("\n");
        Assert.Contains("```python\n" + script + "```\n", readme);
    }

    private string Train(string data, string[] options)
    {
        string run = Path.Combine(dir, "run-" + Guid.NewGuid().ToString("N")[..6]);
        var r = CliRunner.Run(["train", "--data", data, .. options, "--epochs", "1", "--hidden", "8", "--layers", "2", "--workers", "0", "--out", run]);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        return Path.Combine(run, "model");
    }

    private static void RandomizeWeights(string modelDir, long seed)
    {
        var stored = ModelStore.Load(modelDir);
        torch.manual_seed(seed);
        using var model = new ForecastModel(stored.Spec);
        ModelStore.Save(modelDir, stored with { Weights = ParameterVector.Flatten(model) });
    }

    /// <summary>The .NET model's outputs for the window ending at the file's last row, before decoding.</summary>
    private static double[] NetOutputs(string modelDir, string data)
    {
        var stored = ModelStore.Load(modelDir);
        var series = CsvSeriesLoader.Load(stored.Metadata.Data.ForFile(data));
        using var model = stored.Build();
        var window = stored.Preprocessor.Windows(series.Columns, [series.Length - 1], withTargets: false);
        return [.. Gradients.Predict(model, window).Select(v => (double)v)];
    }

    /// <summary>What <c>lstmcluster forecast --model DIR --data FILE --out</c> writes, in original units.</summary>
    private double[] NetForecast(string modelDir, string data)
    {
        string csv = Path.Combine(dir, "forecast-" + Guid.NewGuid().ToString("N")[..6] + ".csv");
        var r = CliRunner.Run("forecast", "--model", modelDir, "--data", data, "--out", csv);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        return [.. File.ReadAllLines(csv).Skip(1).Select(l => double.Parse(l.Split(',')[^1], CultureInfo.InvariantCulture))];
    }

    private sealed record ScriptOutput(double[] Normalized, double[] Forecast);

    private static ScriptOutput RunScript(string pt, string json, string data)
    {
        string stdout = PyTorchTool.Run(Script, pt, json, data);
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        double[] Read(string key) => [.. doc.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble())];
        return new ScriptOutput(Read("normalized"), Read("forecast"));
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, bool relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]) / (relative ? Math.Max(Math.Abs(expected[i]), 1e-12) : 1);
            Assert.True(error <= tolerance, $"{what}[{i}]: .NET {expected[i]:R}, PyTorch {actual[i]:R} ({(relative ? "relative" : "absolute")} error {error:E2} > {tolerance:E0})");
        }
        // Outputs that are all zero would agree whatever the weights: the comparison must have something to compare.
        Assert.Contains(expected, v => Math.Abs(v) > 1e-3);
    }
}
