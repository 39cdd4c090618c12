namespace LstmCluster.Core.Sweeps;

/// <summary>One round of a sweep: how many trials train, and for how many epochs each.</summary>
public sealed record SweepRound(int Number, int Trials, int Epochs);

/// <summary>
/// Successive halving: every trial trains a few epochs, the best 1/<see cref="Eta"/> of them (by validation MASE) train
/// <see cref="Eta"/> times longer, and so on until one trial trains <see cref="FinalEpochs"/> epochs. Hopeless trials stop
/// after the first, short round: a grid of 27 costs about 27 + 9·3 + 3·9 + 27 short rounds of training instead of 27 full
/// trainings. Each round trains its trials from the start (a trial's earlier round is not resumed), so every trial's result is
/// that of a plain training with that many epochs, which `train` reproduces.
/// </summary>
public sealed record SuccessiveHalving(int Eta = 3, int FinalEpochs = 50, int MinEpochs = 2)
{
    /// <summary>Checks the figures; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Eta is < 2 or > 10) throw new ArgumentException($"eta must be between 2 and 10 (got {Eta})");
        if (FinalEpochs is < 1 or > 100_000) throw new ArgumentException($"max-epochs must be between 1 and 100000 (got {FinalEpochs})");
        if (MinEpochs < 1 || MinEpochs > FinalEpochs) throw new ArgumentException($"min-epochs must be between 1 and max-epochs, {FinalEpochs} (got {MinEpochs})");
    }

    /// <summary>
    /// The rounds for <paramref name="trials"/> trials: as many as it takes to keep one (1/eta kept each time, rounded up),
    /// the last with <see cref="FinalEpochs"/>, each earlier one eta times shorter, never below <see cref="MinEpochs"/>.
    /// </summary>
    public IReadOnlyList<SweepRound> Rounds(int trials)
    {
        Validate();
        if (trials < 1) throw new ArgumentException("a sweep needs at least one trial");
        var counts = new List<int> { trials };
        while (counts[^1] > 1) counts.Add((counts[^1] + Eta - 1) / Eta);
        var rounds = new List<SweepRound>();
        for (int i = 0; i < counts.Count; i++)
        {
            double epochs = FinalEpochs / Math.Pow(Eta, counts.Count - 1 - i);
            rounds.Add(new SweepRound(i + 1, counts[i], Math.Max(MinEpochs, (int)Math.Round(epochs))));
        }
        // A round whose epochs did not grow (held up by MinEpochs) would train the same again: its choice is the earlier
        // round's ranking, so it is dropped and the earlier round keeps the trials of the next one that trains longer.
        var kept = new List<SweepRound>();
        foreach (var round in rounds)
            if (kept.Count == 0 || round.Epochs > kept[^1].Epochs) kept.Add(round with { Number = kept.Count + 1 });
        return kept;
    }
}
