using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Training;

/// <summary>
/// A parameter server's record of what its rounds were made of (<see cref="RoundTimes"/>): per round the time from its
/// weights going out to the last contribution in, the slowest worker's own compute (each worker times its part and sends
/// the time with its gradient) and the server's step. It keeps the last <see cref="Capacity"/> rounds in fixed arrays, so a
/// long job's memory does not grow with its rounds and the medians describe its steady state rather than its first rounds.
/// </summary>
public sealed class RoundClock
{
    /// <summary>Rounds kept: 2,048, about 25 epochs of the suite's series at batch 64, in 64 KB.</summary>
    public const int Capacity = 2048;

    private readonly double[] round = new double[Capacity];
    private readonly double[] compute = new double[Capacity];
    private readonly double[] serverStep = new double[Capacity];
    private long recorded;

    /// <summary>Rounds recorded so far (all of them, not only the kept ones).</summary>
    public long Recorded => recorded;

    /// <param name="roundTime">From the round's weights going out to its last contribution in.</param>
    /// <param name="slowestCompute">The longest of the round's contributions' own compute times.</param>
    /// <param name="step">The server's averaging and optimizer step after it.</param>
    public void Record(TimeSpan roundTime, TimeSpan slowestCompute, TimeSpan step)
    {
        int i = (int)(recorded % Capacity);
        round[i] = roundTime.TotalMilliseconds;
        // A clock that says the compute outlasted the round (a worker on another machine whose clock runs fast, a
        // contribution without a time) would make the hand-over negative: the compute is at most the round.
        compute[i] = Math.Clamp(slowestCompute.TotalMilliseconds, 0, roundTime.TotalMilliseconds);
        serverStep[i] = step.TotalMilliseconds;
        recorded++;
    }

    /// <summary>Medians over the kept rounds; null before the first round.</summary>
    public RoundTimes? Summary()
    {
        int n = (int)Math.Min(recorded, Capacity);
        if (n == 0) return null;
        var handOver = new double[n];
        for (int i = 0; i < n; i++) handOver[i] = round[i] - compute[i];
        return new RoundTimes(n, Median(round, n), Median(compute, n), Median(handOver, n), Median(serverStep, n));
    }

    private static TimeSpan Median(double[] values, int n)
    {
        var sorted = values.AsSpan(0, n).ToArray();
        Array.Sort(sorted);
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return TimeSpan.FromMilliseconds(median);
    }
}
