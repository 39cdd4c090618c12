using System.CommandLine;
using LstmCluster.Cli.Output;
using LstmCluster.Reporting;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Persistence;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster forecast --model DIR --data FILE</c>: the next H values after the file's last row; or
/// <c>lstmcluster forecast --server URL ID [--out DIR]</c>: a job's forecast from a job API server.
/// </summary>
public static class ForecastCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "model directory written by train (…/model)" };
        var data = new Option<FileInfo?>("--data") { Description = "CSV with the same columns the model was trained on; the forecast starts after its last row (with --server ID: the server's model of that job forecasts it)" };
        var output = new Option<string?>("--out") { Description = "with --model, or --server with --data: write the forecast as CSV to this file (default: print it; an existing file only with --force); with --server alone: write forecast.csv and forecast.png into this directory (created; files in it replaced)" };
        var force = new Option<bool>("--force") { Description = "with --model --out FILE: overwrite FILE if it exists" };
        var dateFormat = new Option<string?>("--date-format") { Description = "how the file's dates are written (.NET notation: dd/MM/yyyy, MM/dd/yyyy HH:mm); default: the format training read its file with, else detected" };
        var server = ServerCommands.ServerOption(required: false);
        var token = ServerCommands.TokenOption();
        var ca = ServerCommands.CaOption();
        var job = new Argument<string?>("ID") { Description = "with --server: the job whose forecast to fetch", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("forecast", "Forecast the next values of a series with a trained model, or fetch a job's forecast from a server")
        {
            model, data, output, force, dateFormat, server, token, ca, job,
        };
        command.SetAction((p, ct) =>
        {
            string? outPath = p.GetValue(output) is { Length: > 0 } o ? Path.GetFullPath(o) : null;
            if (p.GetValue(server) is { } url)
            {
                if (p.GetValue(model) is not null)
                    throw new CliUsageException("forecast: --server uses the job's model on the server; --model is for a local model");
                if (p.GetValue(job) is not { Length: > 0 } id) throw new CliUsageException("forecast --server needs a job id (lstmcluster forecast --server URL ID)");
                if (p.GetValue(data) is { } recent)
                {
                    // Live serving: the server's copy of the job's model forecasts after this file's rows.
                    if (outPath is not null) OutputPaths.CheckFile(outPath, p.GetValue(force));
                    return ServerCommands.ServeForecast(url, ServerCommands.Access(p, token, ca), id, recent.FullName, outPath, ct);
                }
                if (outPath is not null) OutputPaths.CheckDirectory(outPath);
                return ServerCommands.Forecast(url, ServerCommands.Access(p, token, ca), id, outPath, ct);
            }
            if (p.GetValue(job) is not null) throw new CliUsageException("forecast: a job id needs --server URL");
            if (p.GetValue(token) is not null) throw new CliUsageException("forecast: --token is for --server");
            if (p.GetValue(ca) is not null) throw new CliUsageException("forecast: --ca is for --server");
            if (p.GetValue(model) is not { } dir || p.GetValue(data) is not { } file)
                throw new CliUsageException("forecast needs --model DIR and --data FILE (or --server URL ID for a job on a server)");
            // Before loading anything: an output that cannot be written is a usage error, not a failure after the work.
            if (outPath is not null) OutputPaths.CheckFile(outPath, p.GetValue(force));
            return Task.FromResult(Run(dir.FullName, file.FullName, outPath, p.GetValue(dateFormat)));
        });
        return command;
    }

    private static int Run(string modelDir, string dataPath, string? outPath, string? dateFormat)
    {
        var stored = ModelStore.Load(modelDir);
        var selection = stored.Metadata.Data.ForFile(dataPath);
        if (!string.IsNullOrWhiteSpace(dateFormat)) selection = selection with { DateFormat = dateFormat.Trim() };
        var series = CsvSeriesLoader.Load(selection);
        if (series.Columns.Length != stored.Preprocessor.Features)
            throw new DataException(dataPath, null, $"the model takes {stored.Preprocessor.Features} input columns, the file gave {series.Columns.Length}");
        using var networks = ModelNetworks.Build(stored);
        var forecast = networks.Forecast(series);
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
