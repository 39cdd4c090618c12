using System.CommandLine;
using LstmCluster.Core.Persistence;
using LstmCluster.Reporting;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster import --state-dict model.pt --preprocessing model.json --out DIR</c>: a model directory that
/// <c>forecast</c> uses, from a PyTorch state_dict of <c>nn.LSTM</c> + <c>nn.Linear</c> and the preprocessing file
/// <c>export</c> writes. Every tensor is checked by name and shape before anything is written.
/// </summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var stateDict = new Option<FileInfo?>("--state-dict") { Description = "file written by torch.save(model.state_dict(), path): lstm.weight_ih_l0, ..., head.weight, head.bias", Required = true };
        var preprocessing = new Option<FileInfo?>("--preprocessing") { Description = "the .json export writes beside its state_dict (sizes, columns, preprocessing)", Required = true };
        var output = new Option<string?>("--out") { Description = "model directory to write (created; files of a model already there are replaced)", Required = true };
        var command = new Command("import", "Make a model directory from a PyTorch state_dict and its preprocessing JSON")
        {
            stateDict, preprocessing, output,
        };
        command.SetAction(p =>
        {
            string outDir = Path.GetFullPath(p.GetValue(output)!);
            OutputPaths.CheckDirectory(outDir);
            var stored = PyTorchInterchange.Import(p.GetValue(stateDict)!.FullName, p.GetValue(preprocessing)!.FullName);
            OutputPaths.WriteDirectory(outDir, staging =>
            {
                ModelStore.Save(staging, stored);
                // Read back as forecast will, before it is moved in: a model that would not load is never left in --out.
                ModelStore.Load(staging);
            });
            Console.WriteLine($"wrote {outDir} ({stored.Spec.ParameterCount} parameters: input {stored.Spec.InputSize}, hidden {stored.Spec.HiddenSize}, layers {stored.Spec.NumLayers}, horizon {stored.Spec.Horizon})");
            return 0;
        });
        return command;
    }
}
