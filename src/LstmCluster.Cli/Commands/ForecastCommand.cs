using System.CommandLine;
using LstmCluster.Cli.Output;
using LstmCluster.Reporting;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Persistence;

namespace LstmCluster.Cli.Commands;

/// <summary><c>lstmcluster forecast --model DIR --data FILE</c>: the next H values after the file's last row.</summary>
public static class ForecastCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "model directory written by train (…/model)", Required = true };
        var data = new Option<FileInfo>("--data") { Description = "CSV with the same columns the model was trained on; the forecast starts after its last row", Required = true };
        var output = new Option<FileInfo?>("--out") { Description = "write the forecast as CSV here (default: print it)" };
        var command = new Command("forecast", "Forecast the next values of a series with a trained model") { model, data, output };
        command.SetAction(p => Run(p.GetValue(model)!.FullName, p.GetValue(data)!.FullName, p.GetValue(output)?.FullName));
        return command;
    }

    private static int Run(string modelDir, string dataPath, string? outPath)
    {
        var stored = ModelStore.Load(modelDir);
        var series = CsvSeriesLoader.Load(stored.Metadata.Data.ForFile(dataPath));
        if (series.Columns.Length != stored.Spec.InputSize)
            throw new DataException(dataPath, null, $"the model takes {stored.Spec.InputSize} input columns, the file gave {series.Columns.Length}");
        using var model = stored.Build();
        var forecast = ForecastRun.Forecast(model, stored.Preprocessor, series);
        if (outPath is not null)
        {
            RunOutputs.WriteForecastCsv(outPath, forecast);
            Console.WriteLine($"wrote {outPath}");
        }
        else
        {
            Report.Forecast(forecast, series.TargetName);
        }
        return 0;
    }
}
