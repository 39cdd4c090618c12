using Akka.Actor;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// The coordinator's entry for one job: its <see cref="JobRecord"/> (what the journal says) and what lives only in
/// memory: who waits for it, its prepared data, the checkpoint its next attempt resumes from, and its current attempt.
/// </summary>
internal sealed class RegisteredJob(JobRecord record, IActorRef submitter)
{
    public string Id { get; } = record.Id;

    public JobRecord Record { get; set; } = record;

    /// <summary>Journaled (a job from <see cref="SubmitJob"/>); embedded <see cref="SubmitTraining"/> jobs are not.</summary>
    public bool Durable { get; init; }

    /// <summary>Its <see cref="JobSubmitted"/> is in the journal (or it is an in-memory job that was accepted).</summary>
    public bool Recorded { get; set; }

    public IActorRef Submitter { get; } = submitter;

    /// <summary>The embedded engine's listener (<see cref="SubmitTraining"/>): it hears the training itself and evaluates.</summary>
    public IActorRef? Listener { get; set; }

    public PreparedData? Prepared { get; set; }

    /// <summary><c>--normalize auto</c>: each candidate's options and windows (see <see cref="JobPreparation.Prepared"/>); null for a job of one run.</summary>
    public IReadOnlyList<(Core.Forecasting.RunOptions Options, PreparedData Data)>? Candidates { get; set; }

    /// <summary>Strategy global: every series prepared alone (<see cref="Prepared"/> holds their joined windows); null for any other job.</summary>
    public Core.Forecasting.GlobalPreparation? Global { get; set; }

    /// <summary>What every attempt trains (the run id, workers and checkpoint are filled in per attempt); null while the data loads.</summary>
    public TrainingSetup? Setup { get; set; }

    /// <summary>The run id of its latest attempt (<c>job-N</c>, then <c>job-N.2</c>, ...).</summary>
    public string? RunId { get; set; }

    /// <summary>
    /// The <see cref="JobRunner"/> of its latest attempt until that runner has stopped, which can be a little after the
    /// attempt ended (it finishes storing a checkpoint first): the next attempt waits for it.
    /// </summary>
    public IActorRef? Runner { get; set; }

    public DateTimeOffset? ProgressJournaled { get; set; }

    /// <summary>Train and validation loss per epoch, in epoch order (memory only: the journal keeps the latest epoch).</summary>
    public List<(int Epoch, double TrainLoss, double ValidationLoss)> Losses { get; } = [];

    /// <summary>Adds an epoch's losses; an epoch a resumed attempt trains again replaces the older attempt's from there on.</summary>
    public void AddLosses(int epoch, double trainLoss, double validationLoss)
    {
        int keep = Losses.FindIndex(l => l.Epoch >= epoch);
        if (keep >= 0) Losses.RemoveRange(keep, Losses.Count - keep);
        Losses.Add((epoch, trainLoss, validationLoss));
    }

    /// <summary>Most epochs a <see cref="JobHistory"/> carries (20 bytes each): a long run's curve is thinned to fit one small message.</summary>
    public const int MaxHistoryPoints = 2000;

    /// <summary>The losses per epoch; above <see cref="MaxHistoryPoints"/>, evenly thinned, the latest epoch always kept.</summary>
    public JobHistory History()
    {
        var points = Losses;
        if (points.Count > MaxHistoryPoints)
        {
            int step = (int)Math.Ceiling(points.Count / (double)(MaxHistoryPoints - 1));
            points = [.. points.Where((_, i) => i % step == 0)];
            if (points[^1] != Losses[^1]) points.Add(Losses[^1]);
        }
        return new(Id, Record.State, [.. points.Select(l => l.Epoch)], [.. points.Select(l => l.TrainLoss)], [.. points.Select(l => l.ValidationLoss)]);
    }

    /// <summary>The checkpoint the next attempt resumes from (the newest one its server took), once there is one.</summary>
    public TrainingCheckpoint? Resume { get; set; }

    /// <summary>Its figures so far, as carried by the event that ends it.</summary>
    public JobProgressed Progress() => new(Id, Record.Epoch, Record.Epochs, Record.TrainLoss, Record.ValidationLoss, Record.Round,
        Record.SamplesPerSecond, Record.ActiveWorkers);

    public JobStatus Status()
    {
        var r = Record;
        return new JobStatus(r.Id, r.State, r.Epoch, r.Epochs, r.TrainLoss, r.ValidationLoss, r.Reason, r.Forecast,
            r.TestMase, r.BestBaseline, r.BestBaselineMase)
        {
            Round = r.Round,
            SamplesPerSecond = r.SamplesPerSecond,
            Workers = r.ActiveWorkers,
            Data = r.Data,
            Target = r.Target,
            ForecastTimes = r.ForecastTimes,
            Submitted = r.Submitted,
            Started = r.Started,
            Finished = r.Finished,
            Attempts = r.Attempts,
            Owner = r.Owner,
            ResumedFrom = r.ResumedFrom,
            Group = r.Group,
            Normalization = r.Normalization,
            ForecastLevels = r.ForecastLevels,
            ForecastQuantiles = r.ForecastQuantiles,
        };
    }
}
