using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Training;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>
/// A job whose parameter server is lost resumes from its last checkpoint on another parameter-server host and ends
/// with the model the fault-free run of the same seed and K trains. The loss is staged by <see cref="CrashingHost"/>,
/// which stops (with the server inside it) once it has passed on the checkpoint of a given epoch: what the
/// coordinator sees is exactly "checkpoint of epoch E, then the host is gone", however fast the job runs.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class ParameterServerLossTests : TestKit
{
    private readonly ITestOutputHelper log;

    public ParameterServerLossTests(ITestOutputHelper output)
        : base(TestSupport.Config, output: output)
    {
        log = output;
    }

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);
    private const int Epochs = 12, CrashAfterEpoch = 5;

    private IActorRef Coordinator(string id, string store, params IActorRef[] hosts)
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 2, WorkerPool = 2, CheckpointEvery = TimeSpan.Zero },
            LocalWorkers = 2,
            LocalParameterServers = false,
            PersistenceId = id,
            Store = new JobStore(store),
        }));
        foreach (var host in hosts) coordinator.Tell(new ParameterServerHostAvailable(host));
        return coordinator;
    }

    private async Task<JobStatus> Run(IActorRef coordinator)
    {
        coordinator.Tell(new SubmitJob(TestSupport.SineRun(Epochs), TestSupport.SineCsv(), 0, 2));
        await ExpectMsgAsync<JobAccepted>(Wait);
        return (JobStatus)await FishForMessageAsync(m => m is JobStatus { State: JobState.Succeeded or JobState.Failed or JobState.Cancelled }, Wait);
    }

    [Fact]
    public async Task A_job_whose_parameter_server_is_lost_resumes_from_its_checkpoint_and_trains_the_fault_free_model()
    {
        using var dir = new TempDir();
        var reference = await Run(Coordinator("fault-free", Path.Combine(dir.Path, "a"), Sys.ActorOf(ParameterServerHost.Props())));
        Assert.Equal((JobState.Succeeded, 1), (reference.State, reference.Attempts));

        var crashing = Sys.ActorOf(Props.Create(() => new CrashingHost(CrashAfterEpoch, true)), "crashing-host");
        var coordinator = Coordinator("faulty", Path.Combine(dir.Path, "b"), crashing, Sys.ActorOf(ParameterServerHost.Props()));
        var resumed = await Run(coordinator);

        log.WriteLine($"fault-free: test MASE {reference.TestMase:F6}, epochs {reference.Epoch}, rounds {reference.Round}");
        log.WriteLine($"resumed:    test MASE {resumed.TestMase:F6}, epochs {resumed.Epoch}, rounds {resumed.Round}, attempts {resumed.Attempts}");
        Assert.Equal(JobState.Succeeded, resumed.State);
        Assert.Equal(2, resumed.Attempts);
        Assert.Equal(Epochs, resumed.Epoch);
        // The same rounds as the fault-free run: the second attempt started where the checkpoint stood, not from zero.
        Assert.Equal(reference.Round, resumed.Round);
        Assert.InRange(Math.Abs(resumed.TestMase - reference.TestMase) / reference.TestMase, 0, 0.01);
        // A checkpoint write still in flight when the job ended can put the file back for a moment; it is deleted once stored.
        await AwaitAssertAsync(() => Assert.False(File.Exists(Path.Combine(dir.Path, "b", "jobs", resumed.Job, "checkpoint.bin")),
            "a finished job's checkpoint is deleted"), Wait, TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_job_without_a_usable_checkpoint_restarts_from_the_start_when_its_parameter_server_is_lost()
    {
        using var dir = new TempDir();
        // No checkpoints at all: the second attempt trains from epoch 1 and still succeeds.
        var crashing = Sys.ActorOf(Props.Create(() => new CrashingHost(3, false)), "crashing-host");
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(new CoordinatorSettings
        {
            Engine = new EngineOptions { Workers = 2, WorkerPool = 2, CheckpointEvery = null },
            LocalWorkers = 2,
            LocalParameterServers = false,
            PersistenceId = "no-checkpoints",
            Store = new JobStore(dir.Path),
        }));
        coordinator.Tell(new ParameterServerHostAvailable(crashing));
        coordinator.Tell(new ParameterServerHostAvailable(Sys.ActorOf(ParameterServerHost.Props())));
        var final = await Run(coordinator);
        Assert.Equal((JobState.Succeeded, 2, Epochs), (final.State, final.Attempts, final.Epoch));
    }

    /// <summary>
    /// A parameter-server host that dies mid-job: it runs the server as its child, passes its reports on until it has
    /// passed the checkpoint taken at the end of epoch <c>crashAfter</c> (<c>onCheckpoint</c>) or that epoch's progress,
    /// and then stops, its server with it. Whatever the server sent after that is never delivered.
    /// </summary>
    private sealed class CrashingHost : ReceiveActor
    {
        private IActorRef? coordinator;

        public CrashingHost(int crashAfter, bool onCheckpoint)
        {
            Receive<StartTraining>(m =>
            {
                coordinator = m.ReportTo;
                var server = Context.ActorOf(ParameterServerActor.Props(m.Setup, m.Workers, Self), "ps");
                Sender.Tell(new TrainingStarted(m.Setup.Job, server));
            });
            Receive<CheckpointTaken>(m =>
            {
                coordinator!.Tell(m);
                // A checkpoint at the start of epoch crashAfter + 1 holds everything up to the end of epoch crashAfter.
                if (onCheckpoint && m.Checkpoint.Epoch > crashAfter) Context.Stop(Self);
            });
            Receive<EpochProgress>(m =>
            {
                coordinator!.Tell(m);
                if (!onCheckpoint && m.Report.Epoch >= crashAfter) Context.Stop(Self);
            });
            Receive<object>(m => coordinator?.Tell(m));
        }
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("lstmcluster-ps-loss-").FullName;

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
