using LstmCluster.Actors.Protocol;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// The coordinator's <see cref="JobStatus"/> as the API shows it (<see cref="JobView"/> lives in LstmCluster.Contracts,
/// which knows nothing of the actors).
/// </summary>
public static class JobViews
{
    extension(JobView)
    {
        /// <summary>Losses and MASE that do not exist yet (NaN) become null; a queued job has no throughput.</summary>
        public static JobView From(JobStatus s) => new(
            s.Job, s.State.ToString(), s.Epoch, s.Epochs, s.Round, Finite(s.TrainLoss), Finite(s.ValidationLoss),
            s.State == JobState.Queued ? null : Finite(s.SamplesPerSecond), s.Workers, s.Data, s.Target, s.Reason,
            s.Submitted, s.Started, s.Finished, s.Forecast?.Select(Finite).ToArray(), s.ForecastTimes,
            Finite(s.TestMase), s.BestBaseline, Finite(s.BestBaselineMase), s.Attempts, s.ResumedFrom, s.Owner, s.Group, s.Normalization,
            s.Ahead);
    }

    extension(GroupView)
    {
        public static GroupView From(GroupStatus g) => new(g.Group, g.State.ToString(), g.Strategy, g.Reason, g.Data, g.Target, g.Owner,
            g.Submitted, g.Finished, g.Members.Length, g.Count(JobState.Queued), g.Count(JobState.Running), g.Count(JobState.Succeeded),
            g.Count(JobState.Failed), g.Count(JobState.Cancelled), g.Progress,
            [.. g.Members.Select(m => new GroupMemberView(m.Symbol, m.Job, m.State.ToString(), m.Epoch, m.Epochs,
                Finite(m.TestMase), m.Reason, m.Trial, m.Round, Finite(m.ValidationMase)))],
            g.Sweep is { } s ? SweepOf(s) : null);

        private static SweepView SweepOf(SweepStatus s) => new(s.Round, s.Eta, s.Trials,
            [.. s.Parameters.Select(p => new SweepParameterView(p.Name, p.Values))],
            [.. s.Rounds.Select(r => new SweepRoundView(r.Round, r.Trials, r.Epochs))],
            [.. s.Leaderboard.Select(e => new SweepTrialView(e.Rank, e.Trial,
                s.Parameters.Select((p, i) => KeyValuePair.Create(p.Name, i < e.Values.Length ? e.Values[i] : "")).ToDictionary(),
                e.Round, e.EpochsPlanned, e.EpochsRun, e.BestEpoch, Finite(e.ValidationMase), Finite(e.NaiveValidationMase), Finite(e.TestMase),
                e.Job, e.Error, e.Status))],
            s.Best);
    }

    extension(ForecastPointView)
    {
        /// <summary>The <see cref="Quantiles"/> of step <paramref name="step"/> (0-based): levels and, per level, values step by step.</summary>
        public static IReadOnlyDictionary<string, double?>? QuantilesAt(IReadOnlyList<double>? levels, IReadOnlyList<double[]>? values, int step) =>
            levels is { Count: > 0 } && values is not null && values.Count == levels.Count && values.All(v => step < v.Length)
                ? levels.Select((level, i) => KeyValuePair.Create(Core.Model.QuantileLevels.ColumnName(level),
                    double.IsFinite(values[i][step]) ? values[i][step] : (double?)null)).ToDictionary()
                : null;
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
