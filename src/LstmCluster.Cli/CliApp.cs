using System.CommandLine;
using System.Globalization;
using LstmCluster.Cli.Commands;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Persistence;
using LstmCluster.Reporting;

namespace LstmCluster.Cli;

/// <summary>
/// Builds the command tree and maps failures to exit codes: 2 for bad usage or input (3 is train's
/// --require-beat-naive), 1 for any other failure, 130 when cancelled.
/// </summary>
public static class CliApp
{
    public const int ExitFailure = 1;
    public const int ExitBadInput = 2;
    public const int ExitCancelled = 130;

    // Where libtorch's float32 inference LSTM is found wrong, forecasts switch to float64 (Core's LstmInferenceCheck): say so.
    // Once per process (tests call Run many times in one).
    static CliApp() => LstmCluster.Core.Model.LstmInferenceCheck.Process.FaultFound += why => Console.Error.WriteLine($"warning: {why}");

    public static int Run(string[] args)
    {
        // Output files and tables use '.' decimals whatever the host locale: they are read by programs too.
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        // Before libtorch allocates anything: training steps otherwise spend a third of their CPU in page faults.
        LstmCluster.Core.Runtime.NativeMemory.Tune();
        try
        {
            var defaults = Defaults.Load();
            var root = new RootCommand("lstmcluster: train LSTM forecasters on time series, locally or on a cluster")
            {
                TrainCommand.Create(defaults),
                ForecastCommand.Create(),
                InspectCommand.Create(),
                ExportCommand.Create(),
                ImportCommand.Create(),
                BacktestCommand.Create(defaults),
                SweepCommand.Create(defaults),
                NodeCommand.Create(),
                SimulateCommand.Create(defaults),
                ServerCommands.Submit(defaults),
                ServerCommands.Status(),
                ServerCommands.Cancel(),
                ServerCommands.Delete(),
            };
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {error.Message}");
                Console.Error.WriteLine("see 'lstmcluster --help'");
                return ExitBadInput;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is DataException or ModelFileException or InterchangeException or CliUsageException or ArgumentException or OutputPathException or Hosting.Node.PortInUseException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return ExitBadInput;
        }
        catch (Exception ex) when (ex is Actors.Embedded.TrainingFailedException or Core.Training.TrainingDivergedException)
        {
            // The run failed (it diverged, a worker failed): its reason is the whole story, a stack trace only when debugging.
            Console.Error.WriteLine($"error: {ex.Message}");
            if (Environment.GetEnvironmentVariable("LSTMCLUSTER_DEBUG") is { Length: > 0 }) Console.Error.WriteLine(ex);
            return ExitFailure;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("error: cancelled");
            return ExitCancelled;
        }
        catch (Exception ex)
        {
            // A failure that is not the user's input: one line by default, the whole trace on request.
            Console.Error.WriteLine($"error: {ex.Message}");
            if (Environment.GetEnvironmentVariable("LSTMCLUSTER_DEBUG") is { Length: > 0 }) Console.Error.WriteLine(ex);
            else Console.Error.WriteLine("(set LSTMCLUSTER_DEBUG=1 for the stack trace)");
            return ExitFailure;
        }
    }
}
