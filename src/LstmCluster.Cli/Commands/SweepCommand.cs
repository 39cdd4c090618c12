using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmCluster.Actors.Embedded;
using LstmCluster.Actors.Protocol;
using LstmCluster.Cli.Output;
using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Sweeps;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Reporting;
using Spectre.Console;

namespace LstmCluster.Cli.Commands;

/// <summary>
/// <c>lstmcluster sweep --data F --target C --grid hidden=32,64 lr=1e-3,3e-3 [--server URL]</c>: trains every combination of the
/// grid with successive halving (<see cref="SuccessiveHalving"/>) and ranks them by validation MASE; the best trial's model is
/// the sweep's. In process by default; with <c>--server</c> the sweep is one sweep group of that cluster (<c>POST /sweeps</c>): the
/// coordinator runs each round's trials as member jobs side by side on its free workers, scores and promotes them, and keeps
/// the best model as the group's; this command follows the group and downloads its files.
/// </summary>
public static class SweepCommand
{
    public static Command Create(Defaults defaults)
    {
        var args = new RunArguments(defaults);
        var engine = new EngineArguments(defaults);
        var grid = new Option<string[]>("--grid")
        {
            Description = "the options to sweep and their values: name=v1,v2 ... (e.g. hidden=32,64 lookback=24,48 lr=1e-3,3e-3); " +
                $"sweepable: {string.Join(", ", SweepGrid.Sweepable)}",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var eta = new Option<int>("--eta") { Description = "successive halving: keep the best 1/eta of the trials after each round, which then train eta times longer (2-10)", DefaultValueFactory = _ => 3 };
        var minEpochs = new Option<int>("--min-epochs") { Description = "the fewest epochs of a round", DefaultValueFactory = _ => 2 };
        var maxTrials = new Option<int>("--max-trials") { Description = $"refuse a grid with more combinations than this (at most {SweepGrid.MaxTrialsLimit})", DefaultValueFactory = _ => SweepGrid.DefaultMaxTrials };
        var parallel = new Option<int?>("--parallel") { Description = "trials trained at once in process (default 1); with --server the coordinator runs a round's trials on its free workers" };
        var server = ServerCommands.ServerOption(required: false);
        server.Description = "run the sweep as one sweep group on this job API (e.g. http://127.0.0.1:5080) instead of in process: the coordinator runs the rounds, every trial a member job";
        var token = ServerCommands.TokenOption();
        var ca = ServerCommands.CaOption();
        var outDir = new Option<DirectoryInfo>("--out") { Description = "output directory: leaderboard.csv, sweep.json and the best trial's model and outputs", DefaultValueFactory = _ => new DirectoryInfo("runs/sweep") };

        var command = new Command("sweep", "Train every combination of a grid of options with successive halving and rank them by validation MASE; keep the best model");
        args.AddTo(command);
        engine.AddTo(command);
        foreach (var option in new Option[] { grid, eta, minEpochs, maxTrials, parallel, server, token, ca, outDir }) command.Options.Add(option);
        command.SetAction((p, ct) =>
        {
            if (p.GetResult(args.Epochs) is { Implicit: false })
                throw new CliUsageException("sweep: --epochs is the sweep's to set (each round trains longer); --max-epochs is the last round's epochs");
            var values = args.Values(p);
            // --max-epochs is the last round's epochs here; its `train` default (a budget for --epochs auto) is far too long for that.
            int finalEpochs = p.GetResult(args.MaxEpochs) is { Implicit: false } ? values.MaxEpochs : 50;
            var plan = new SuccessiveHalving(p.GetValue(eta), finalEpochs, p.GetValue(minEpochs));
            plan.Validate();
            var sweepGrid = SweepGrid.Parse(p.GetValue(grid) ?? [], values, p.GetValue(maxTrials));
            string output = p.GetValue(outDir)!.FullName;
            OutputPaths.CheckDirectory(output);
            var data = p.GetValue(args.Data)!;
            if (!data.Exists) throw new DataException(data.FullName, null, "file not found");
            var run = new SweepRun(sweepGrid, plan, output);
            if (p.GetValue(server) is { } url)
            {
                // On a server the coordinator decides how many trials train at once (its --max-concurrent-jobs and free workers).
                if (p.GetResult(parallel) is { Implicit: false })
                    throw new CliUsageException("sweep: --parallel is for the in-process sweep; with --server the coordinator runs a round's trials on its free workers (its --max-concurrent-jobs)");
                // The engine's choices go with the trials when given, as submit's do; the server's defaults otherwise.
                var given = ServerCommands.GivenFields(p, args.All.Where(o => o != args.Data && o != args.MaxEpochs)
                    .Concat([engine.Mode, engine.Staleness, engine.SyncPeriod, engine.Sampling]));
                // Each trial's worker count, as `submit --workers` gives a job's (default: the server's, one per member).
                if (p.GetResult(engine.Workers) is { Implicit: false })
                {
                    int workers = p.GetValue(engine.Workers);
                    if (workers < 1) throw new CliUsageException("sweep: --workers with --server is each trial's worker count, at least 1");
                    given["workers"] = workers.ToString(CultureInfo.InvariantCulture);
                }
                return ServerCommands.Guard(() => run.OnServerAsync(url, ServerCommands.Access(p, token, ca), data.FullName, given, p.GetValue(maxTrials), ct));
            }
            if (p.GetValue(token) is not null || p.GetValue(ca) is not null) throw new CliUsageException("sweep: --token and --ca are for --server");
            return run.InProcessAsync(values, engine.Bind(p), engine.BareTorchThreads(p), p.GetValue(parallel) ?? 1, ct);
        });
        return command;
    }

    private sealed class SweepRun(SweepGrid grid, SuccessiveHalving plan, string output)
    {
        private readonly Lock gate = new();
        private readonly IReadOnlyList<SweepTrial> trials = grid.Trials();

        public async Task<int> InProcessAsync(RunOptionValues values, EngineOptions? engine, int bareThreads, int parallel, CancellationToken ct)
        {
            Describe(engine is null ? $"in process, single-process trainer, {bareThreads} torch thread(s)"
                : $"in process, {engine.Workers} worker(s) each, {parallel} trial(s) at once");
            var trainer = engine is null ? ForecastRun.ReferenceEngineWith(bareThreads) : EmbeddedEngine.Trainer(engine);
            TrialRunner runner = (trial, round, cancel) => Task.Run(() =>
            {
                var options = trial.Apply(values).With("epochs", round.Epochs.ToString(CultureInfo.InvariantCulture)).ToRunOptions();
                var result = ForecastRun.Execute(options, ForecastRun.Prepare(options), trainer, null, cancel);
                return new TrialOutcome(result.Validation.Model.Mase, result.Test.Model.Mase, result.Training.Epochs.Count, result.Training.BestEpoch)
                {
                    NaiveValidationMase = result.Validation.Baselines.TryGetValue("naive", out var naive) ? naive.Mase : double.NaN,
                    Handle = (result, options),
                };
            }, cancel);
            var result = await Sweep.RunAsync(trials, plan, runner, parallel, Progress, ct);
            if (Winner(result) is not { } best) return CliApp.ExitFailure;
            var (bestRun, bestOptions) = ((RunResult, RunOptions))best.Outcome.Handle!;
            var written = RunOutputs.Write(output, bestRun, bestOptions, engine is null ? "reference" : "embedded-actors", writeModel: true,
                extra: new JsonObject { ["sweep"] = new JsonObject { ["trial"] = best.Trial.Number, ["parameters"] = best.Trial.Label } });
            Finish(result, written, $"the best trial's model and outputs are in {output}");
            return 0;
        }

        /// <summary>
        /// One sweep group on the server (<c>POST /sweeps</c>): the coordinator runs the rounds, scores and promotes; this follows
        /// the group (a line per trial as each member ends), prints its leaderboard and downloads its files into the output.
        /// </summary>
        public async Task<int> OnServerAsync(string url, ServerCommands.ServerAccess access, string dataPath, Dictionary<string, string> given, int maxTrials, CancellationToken ct)
        {
            using var client = access.Connect(url);
            string server = client.Server.ToString().TrimEnd('/');
            Describe($"on {server}, one sweep group: the coordinator runs each round's trials as member jobs on its free workers");
            var fields = new Dictionary<string, string>(given)
            {
                ["grid"] = string.Join(" ", grid.Parameters.Select(p => $"{p.Name}={string.Join(",", p.Values)}")),
                ["eta"] = plan.Eta.ToString(CultureInfo.InvariantCulture),
                ["min-epochs"] = plan.MinEpochs.ToString(CultureInfo.InvariantCulture),
                ["max-epochs"] = plan.FinalEpochs.ToString(CultureInfo.InvariantCulture),
                ["max-trials"] = maxTrials.ToString(CultureInfo.InvariantCulture),
            };
            string id = await client.SubmitSweepAsync(dataPath, fields, ct);
            Console.WriteLine($"sweep group {id}: {server}/groups/{id}");
            var reported = new HashSet<string>(StringComparer.Ordinal);
            GroupView status;
            try
            {
                while (true)
                {
                    status = await client.GroupStatusAsync(id, ct);
                    foreach (var m in status.Members.Where(m => m is { Trial: not null, Round: not null } && IsEnded(m.State) && reported.Add(m.Symbol)))
                        ServerProgress(m);
                    if (IsEnded(status.State)) break;
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The sweep was stopped: its group stops too (best effort; the server may already be gone).
                try { await client.CancelGroupAsync(id, CancellationToken.None); } catch (Exception) { }
                throw;
            }
            if (status.State != Vocabulary.JobStates.Succeeded || status.Sweep is not { } sweep)
            {
                Console.Error.WriteLine($"error: sweep {id} {status.State.ToLowerInvariant()}{(status.Reason is { } r ? $": {r}" : "")}");
                return CliApp.ExitFailure;
            }
            var result = ResultOf(sweep);
            Directory.CreateDirectory(output);
            var written = new List<string>();
            foreach (var name in new[] { "leaderboard.csv", "sweep.json", "metrics.json", "forecast.csv", "forecast.png" })
            {
                var bytes = await client.GroupFileAsync(id, name, ct);
                string path = Path.Combine(output, name);
                OutputPaths.WriteFile(path, temp => File.WriteAllBytes(temp, bytes));
                written.Add(path);
            }
            var zip = await client.ModelZipAsync(id, ct);
            string zipPath = Path.Combine(output, "model.zip");
            OutputPaths.WriteFile(zipPath, temp => File.WriteAllBytes(temp, zip));
            written.Add(zipPath);
            Finish(result, written, $"the best model ({sweep.Best}'s) is kept as the sweep group's: it serves forecasts at POST {server}/models/{id}/forecast",
                writeFiles: false);
            return 0;
        }

        private static bool IsEnded(string state) =>
            state is Vocabulary.JobStates.Succeeded or Vocabulary.JobStates.Failed or Vocabulary.JobStates.Cancelled;

        private void ServerProgress(GroupMemberView m)
        {
            var trial = trials[m.Trial!.Value - 1];
            string how = m.State == Vocabulary.JobStates.Succeeded && m.ValidationMase is { } v
                ? $"validation MASE {v:0.####} ({m.Epochs} epochs)"
                : $"{m.State.ToLowerInvariant()}{(m.Reason is { } r ? $": {r}" : "")}";
            Console.WriteLine($"round {m.Round}, trial {trial.Number}/{trials.Count} [{trial.Label}]: {how}{(m.Job is { } job ? $" ({job})" : "")}");
        }

        /// <summary>The server's leaderboard as a <see cref="SweepResult"/>, rendered as the in-process one is.</summary>
        private SweepResult ResultOf(SweepView sweep)
        {
            var rounds = sweep.Rounds.Select(r => new SweepRound(r.Round, r.Trials, r.Epochs)).ToList();
            var board = sweep.Leaderboard.Select(e => new LeaderboardEntry(e.Rank, trials[e.Trial - 1], rounds[e.Round - 1],
                new TrialOutcome(e.ValidationMase ?? double.NaN, e.TestMase ?? double.NaN, e.EpochsRun, e.BestEpoch)
                {
                    Error = e.Error,
                    Handle = e.Job,
                    NaiveValidationMase = e.NaiveValidationMase ?? double.NaN,
                })).ToList();
            return new SweepResult(rounds, board);
        }

        private void Describe(string where)
        {
            var rounds = plan.Rounds(trials.Count);
            Console.WriteLine($"sweep: {trials.Count} trial(s) ({string.Join(" × ", grid.Parameters.Select(p => $"{p.Name} {p.Values.Count}"))}), {where}");
            Console.WriteLine($"rounds: {string.Join(", ", rounds.Select(r => $"{r.Trials} × {r.Epochs} epochs"))} (keep the best 1/{plan.Eta} by validation MASE each round)");
        }

        private void Progress(SweepRound round, SweepTrial trial, TrialOutcome outcome)
        {
            string how = outcome.Error is { } error ? $"failed: {error}"
                : $"validation MASE {outcome.ValidationMase:0.####} ({outcome.EpochsRun} epochs, best {outcome.BestEpoch})";
            lock (gate) Console.WriteLine($"round {round.Number}, trial {trial.Number}/{trials.Count} [{trial.Label}]: {how}");
        }

        private static LeaderboardEntry? Winner(SweepResult result)
        {
            if (result.Best.Outcome.Error is null && double.IsFinite(result.Best.Outcome.ValidationMase)) return result.Best;
            Console.Error.WriteLine($"error: every trial failed; the first: {result.Best.Outcome.Error ?? "no finite validation MASE"}");
            return null;
        }

        private void Finish(SweepResult result, IReadOnlyList<string> written, string kept, bool writeFiles = true)
        {
            ServerReport.Out.Write(Leaderboard(result));
            var files = new List<string>(written);
            if (writeFiles)
            {
                string csv = Path.Combine(output, "leaderboard.csv");
                OutputPaths.WriteFile(csv, temp => File.WriteAllText(temp, SweepReport.LeaderboardCsv(grid.Parameters, result)));
                files.Add(csv);
                string json = Path.Combine(output, "sweep.json");
                OutputPaths.WriteFile(json, temp => File.WriteAllText(temp,
                    SweepReport.Json(grid.Parameters, plan.Eta, result).ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
                files.Add(json);
            }
            var best = result.Best;
            Console.WriteLine($"best: trial {best.Trial.Number} [{best.Trial.Label}], validation MASE {best.Outcome.ValidationMase:0.####}, test MASE {best.Outcome.TestMase:0.####}; {kept}");
            Report.Written(files);
        }

        private Table Leaderboard(SweepResult result)
        {
            var table = new Table().Title($"Leaderboard: {trials.Count} trials ranked by validation MASE (test MASE shown, never used to rank)");
            table.AddColumn(new TableColumn("rank").RightAligned());
            table.AddColumn(new TableColumn("trial").RightAligned());
            foreach (var parameter in grid.Parameters) table.AddColumn(new TableColumn(Markup.Escape(parameter.Name)).RightAligned());
            foreach (var column in new[] { "round", "epochs", "val MASE", "÷ naive", "test MASE" }) table.AddColumn(new TableColumn(column).RightAligned());
            table.AddColumn(new TableColumn("status"));
            int lastRound = result.Rounds[^1].Number;
            foreach (var e in result.Leaderboard)
            {
                var o = e.Outcome;
                var cells = new List<string> { e.Rank.ToString(CultureInfo.InvariantCulture), e.Trial.Number.ToString(CultureInfo.InvariantCulture) };
                cells.AddRange(e.Trial.Parameters.Select(p => Markup.Escape(p.Value)));
                cells.Add($"{e.Round.Number}/{lastRound}");
                cells.Add(o.EpochsRun.ToString(CultureInfo.InvariantCulture));
                cells.Add(Num(o.ValidationMase));
                cells.Add(double.IsFinite(o.NaiveValidationMase) && o.NaiveValidationMase > 0 && double.IsFinite(o.ValidationMase) ? $"{o.ValidationMase / o.NaiveValidationMase:0.###}" : "");
                cells.Add(Num(o.TestMase));
                cells.Add(Markup.Escape(SweepReport.Status(e, lastRound)));
                table.AddRow([.. cells]);
            }
            return table;
        }
    }

    private static string Num(double v) => double.IsFinite(v) ? v.ToString("0.####", CultureInfo.InvariantCulture) : "";
}
