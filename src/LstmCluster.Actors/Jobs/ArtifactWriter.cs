using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// Turns a finished job into the files a user downloads (metrics, forecast, plots, model), by relative
/// name. The coordinator calls it off its mailbox once evaluation is done; the hosting layer supplies
/// it (rendering lives above the actors). Without one, a job's artifacts are empty. <paramref name="figures"/> are the
/// training engine's (rounds, samples, dropped gradients, each worker's share): metrics.json's <c>engine</c>, as in an embedded run.
/// </summary>
public delegate IReadOnlyDictionary<string, byte[]> ArtifactWriter(RunOptions options, RunResult result, string engine, Embedded.EngineStats? figures);

/// <summary>Turns a finished job group's summary into its files by relative name (summary.json, series.csv, forecast.csv, grid.png); supplied by the hosting layer.</summary>
public delegate IReadOnlyDictionary<string, byte[]> GroupWriter(GroupSummary summary, string strategy);
