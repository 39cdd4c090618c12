using System.Globalization;
using LstmCluster.Core.Training;
using Spectre.Console;

namespace LstmCluster.Cli.Output;

/// <summary>
/// Per-epoch progress: a live bar when stdout is a terminal, one plain line per epoch when it
/// is redirected (logs, CI), so both a person and a log reader can follow a long run.
/// </summary>
public static class TrainingProgress
{
    public static T Run<T>(string title, int epochs, Func<Action<EpochReport>, T> work)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            return work(report => Console.WriteLine(Line(report)));

        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: epochs);
                result = work(report =>
                {
                    task.Description = Markup.Escape(Line(report));
                    task.Value = report.Epoch;
                });
                task.Value = task.MaxValue;
            });
        return result;
    }

    public static string Line(EpochReport r) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {r.Epoch,3}/{r.Epochs}  train {r.TrainLoss:0.00000}  val {r.ValidationLoss:0.00000}{(r.Improved ? " *" : "  ")}  lr {r.LearningRate:0.#####}  {r.SamplesPerSecond:0} samples/s");
}
