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
            Finite(s.TestMase), s.BestBaseline, Finite(s.BestBaselineMase), s.Attempts, s.ResumedFrom, s.Owner);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
