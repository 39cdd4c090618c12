using System.Globalization;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

// Strategy global on a cluster: a group whose series are all trained by ONE member job. The group keeps a member per series
// (so status, the summary and the files read per series as for per-series groups), every member naming that one job. The
// job is an ordinary journaled job (scheduled, data-parallel on its workers, checkpointed, resumed after a restart, retried,
// cancelled); what makes it global is its options (Strategy global, the group's symbols as its list): its data is every
// series prepared alone with their windows joined (GlobalRun.Prepare), and its evaluation is each series on its own windows
// (GlobalRun.Evaluate), the files of each under series/SYMBOL/ in the job's folder.
public sealed partial class CoordinatorActor
{
    /// <summary>A global group's symbols are known: one training job over all of them, the group journaled, then its data prepared.</summary>
    private void ResolveGlobal(PendingGroup pending, GroupResolved m)
    {
        var s = pending.Submit;
        // Like a job of its own: the workers it names, or every free worker on a cluster (the engine's count embedded).
        int workers = s.Workers ?? (settings.FixedPool ? engine.Workers : 0);
        var refusal = QueueRefusal(1, "jobs", s.Owner)
            ?? (settings.FixedPool && workers > pool.Total ? new JobRejected($"the job asks for {workers} workers but the pool has {pool.Total}")
            // The job names its series as a list (symbol A,B,C), which a comma inside a symbol would split.
            : m.Symbols.FirstOrDefault(x => x.Contains(',')) is { } comma
                ? new JobRejected(JobBudget.Bounded($"symbol '{comma}' holds a comma, which strategy global cannot list"))
            : null);
        if (refusal is not null)
        {
            DeleteFiles(m.Group);
            pending.Sender.Tell(refusal);
            return;
        }
        var now = DateTimeOffset.UtcNow;
        long groupSequence = long.Parse(m.Group.AsSpan("group-".Length), CultureInfo.InvariantCulture);
        var job = NewJob(new JobRecord
        {
            Id = $"job-{sequence + 1}", Sequence = sequence + 1, Priority = s.Priority, Workers = workers,
            Options = s.Options with { Data = s.Options.Data with { Symbol = string.Join(",", m.Symbols) } },
            Owner = s.Owner, Mode = s.Mode, Staleness = s.Staleness, SyncPeriod = s.SyncPeriod, Sampling = s.Sampling, Data = pending.Label,
            Target = s.Options.Data.Target, Epochs = s.Options.Training.Epochs, Submitted = now, Group = m.Group, Upload = pending.Upload,
        }, ActorRefs.Nobody, durable: true);
        var group = new GroupRecord
        {
            Id = m.Group, Sequence = groupSequence, Strategy = pending.Strategy, Owner = s.Owner, Data = pending.Label, Target = s.Options.Data.Target,
            Upload = pending.Upload, Submitted = now, Members = [.. m.Symbols.Select(symbol => new GroupMember(symbol, job.Id))],
        };
        groups[group.Id] = group;
        log.Info("group {0}: {1} series of {2}, one global model trained by {3}", group.Id, m.Symbols.Length, pending.Label, job.Id);
        Persist(new GroupSubmitted(group), _ =>
        {
            pending.Sender.Tell(new JobAccepted(group.Id));
            queue.Add(job);
            Prepare(job);
            AfterPersist();
        });
    }

    /// <summary>
    /// The series a global job cannot use (too few rows, ...) are skipped in its group with their reasons; a recovered job
    /// prepares again and finds them skipped already.
    /// </summary>
    private void SkipSeries(RegisteredJob job, IReadOnlyList<SkippedSeries> skipped)
    {
        if (job.Record.Group is not { } id || !groups.TryGetValue(id, out var group)) return;
        foreach (var series in skipped)
        {
            if (!group.Members.Any(m => m.Symbol == series.Symbol && m.Job == job.Id)) continue;
            log.Warning("group {0}: series '{1}' skipped: {2}", id, series.Symbol, series.Reason);
            RecordGroup(id, new GroupMemberSkipped(id, series.Symbol, JobBudget.Bounded(series.Reason)));
        }
    }
}

/// <summary>What a group reads of a global model's job per series.</summary>
internal static class GlobalGroups
{
    /// <summary>The series' figures in a global model's job; null for any other job, or before it succeeded.</summary>
    public static SeriesFigures? FiguresOf(JobRecord job, string symbol) => job.Series?.FirstOrDefault(s => s.Symbol == symbol);

    /// <summary>The test MASE a group's member shows: its series' own in a global model's job, else its job's.</summary>
    public static double TestMase(JobRecord job, string symbol) => FiguresOf(job, symbol)?.TestMase ?? job.TestMase;

    /// <summary>A global run's per-series figures, and their median test MASE (what the training job's own status shows).</summary>
    public static (SeriesFigures[] Series, double Median) Figures(GlobalResult result)
    {
        var series = result.Series.Select(s =>
        {
            var test = s.Result.Test;
            string? best = test.Baselines.Count > 0 ? test.BestBaseline : null;
            return new SeriesFigures(s.Symbol, test.Model.Mase, test.Baselines.TryGetValue("naive", out var naive) ? naive.Mase : double.NaN,
                best, best is null ? double.NaN : test.Baselines[best].Mase, [.. s.Result.Forecast.Select(p => p.Value)], [.. s.Result.Forecast.Select(p => p.Time)]);
        }).ToArray();
        var finite = series.Select(s => s.TestMase).Where(double.IsFinite).Order().ToArray();
        double median = finite.Length == 0 ? double.NaN
            : finite.Length % 2 == 1 ? finite[finite.Length / 2] : (finite[finite.Length / 2 - 1] + finite[finite.Length / 2]) / 2;
        return (series, median);
    }
}
