using System.CommandLine;
using LstmCluster.Core.Persistence;
using LstmCluster.Reporting;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster export --model DIR --out model.pt</c>: the model's weights as a PyTorch state_dict, and beside it
/// (same name, <c>.json</c>) the sizes, columns and fitted preprocessing that turn a CSV's raw values into a forecast.
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "model directory written by train (…/model) or import", Required = true };
        var output = new Option<string?>("--out") { Description = "state_dict file to write (model.pt); the preprocessing goes beside it with the extension .json", Required = true };
        var force = new Option<bool>("--force") { Description = "overwrite the .pt and .json files if they exist" };
        var command = new Command("export", "Write a model as a PyTorch state_dict (torch.load) with its preprocessing as JSON beside it")
        {
            model, output, force,
        };
        command.SetAction(p =>
        {
            string statePath = Path.GetFullPath(p.GetValue(output)!);
            string jsonPath = JsonPathFor(statePath);
            // Both outputs are checked before the model is read: a refusal costs nothing.
            OutputPaths.CheckFile(statePath, p.GetValue(force));
            OutputPaths.CheckFile(jsonPath, p.GetValue(force), "--out (its .json)");
            return Run(p.GetValue(model)!.FullName, statePath, jsonPath);
        });
        return command;
    }

    /// <summary>model.pt → model.json; a name without the extension .json gets it appended, never replaced by itself.</summary>
    public static string JsonPathFor(string statePath)
    {
        string json = Path.ChangeExtension(statePath, ".json");
        if (string.Equals(json, statePath, StringComparison.Ordinal))
            throw new CliUsageException($"export --out {statePath}: the state_dict cannot be named .json, that is the preprocessing file beside it; use e.g. model.pt");
        return json;
    }

    private static int Run(string modelDir, string statePath, string jsonPath)
    {
        var stored = ModelStore.Load(modelDir);
        // A state_dict holds one network; an ensemble's members are model directories of their own.
        if (stored.IsEnsemble)
            throw new CliUsageException($"{modelDir} is an ensemble of {stored.Members.Count} models (--normalize auto kept the mean of its candidates), and a state_dict holds one: export a member, e.g. --model {Path.Combine(modelDir, "members", "1")}");
        var description = PyTorchInterchange.Describe(stored);
        Directory.CreateDirectory(Path.GetDirectoryName(statePath)!);
        OutputPaths.WriteFile(statePath, temp => PyTorchInterchange.WriteStateDict(stored, temp));
        OutputPaths.WriteFile(jsonPath, temp => PyTorchInterchange.WriteModelFile(description, temp));
        Console.WriteLine($"wrote {statePath} ({description.StateDict!.Count} tensors, {stored.Spec.ParameterCount} parameters)");
        Console.WriteLine($"wrote {jsonPath} (lookback {stored.Preprocessor.Lookback}, horizon {stored.Spec.Horizon}, {stored.Preprocessor.Normalize} normalization, transform {stored.Preprocessor.Transform})");
        return 0;
    }
}
