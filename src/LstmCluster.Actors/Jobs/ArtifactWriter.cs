using LstmCluster.Core.Forecasting;

namespace LstmCluster.Actors.Jobs;

/// <summary>
/// Turns a finished job into the files a user downloads (metrics, forecast, plots, model), by relative
/// name. The coordinator calls it off its mailbox once evaluation is done; the hosting layer supplies
/// it (rendering lives above the actors). Without one, a job's artifacts are empty.
/// </summary>
public delegate IReadOnlyDictionary<string, byte[]> ArtifactWriter(RunOptions options, RunResult result, string engine);
