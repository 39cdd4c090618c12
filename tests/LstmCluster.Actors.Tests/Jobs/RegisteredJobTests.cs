using Akka.Actor;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>The coordinator's in-memory loss history per job (the dashboard's curve).</summary>
public sealed class RegisteredJobTests
{
    [Fact]
    public void Losses_are_kept_per_epoch_and_a_resumed_attempt_replaces_the_epochs_it_trains_again()
    {
        var job = new RegisteredJob(new JobRecord { Id = "job-1", Sequence = 1, State = JobState.Running }, ActorRefs.Nobody);
        job.AddLosses(1, 0.9, 1.0);
        job.AddLosses(2, 0.8, 0.95);
        job.AddLosses(3, 0.7, 0.9);
        // The first attempt's server died after epoch 3; the next one resumes from the checkpoint at the end of epoch 1.
        job.AddLosses(2, 0.75, 0.93);

        var history = job.History();
        Assert.Equal("job-1", history.Job);
        Assert.Equal(JobState.Running, history.State);
        Assert.Equal([1, 2], history.Epochs);
        Assert.Equal([0.9, 0.75], history.TrainLoss);
        Assert.Equal([1.0, 0.93], history.ValidationLoss);
    }

    [Fact]
    public void A_long_run_history_is_thinned_to_the_bound_and_keeps_its_first_and_latest_epoch()
    {
        var job = new RegisteredJob(new JobRecord { Id = "job-2", Sequence = 2 }, ActorRefs.Nobody);
        for (int epoch = 1; epoch <= 12_345; epoch++) job.AddLosses(epoch, 1.0 / epoch, 2.0 / epoch);

        var history = job.History();
        Assert.InRange(history.Epochs.Length, RegisteredJob.MaxHistoryPoints / 2, RegisteredJob.MaxHistoryPoints);
        Assert.Equal(1, history.Epochs[0]);
        Assert.Equal(12_345, history.Epochs[^1]);
        Assert.Equal(1.0 / 12_345, history.TrainLoss[^1]);
        Assert.True(history.Epochs.Zip(history.Epochs.Skip(1)).All(p => p.First < p.Second), "epochs in order");
    }
}
