using Akka.Actor;

namespace LstmCluster.Actors.Protocol;

/// <summary>
/// Asks a node's <see cref="Training.ParameterServerHost"/> to start the parameter server of a job on that node.
/// The host answers <see cref="TrainingStarted"/> (or the server reports <see cref="TrainingFailed"/> to
/// <paramref name="ReportTo"/>). Crosses the wire through the chunked path: the setup holds the job's windows.
/// </summary>
public sealed record StartTraining(TrainingSetup Setup, IActorRef[] Workers, IActorRef ReportTo) : ITrainingMessage;

/// <summary>The parameter server of <paramref name="Job"/> runs as <paramref name="Server"/>.</summary>
public sealed record TrainingStarted(string Job, IActorRef Server) : ITrainingMessage;

/// <summary>Stops a job's parameter server (cancel): it releases its workers' shards and reports nothing more.</summary>
public sealed record StopTraining(string Job) : ITrainingMessage;

/// <summary>
/// A worker that joined the cluster while the job runs, given to it by the coordinator (a job that takes every free
/// worker). The parameter server deals it a shard at the next epoch boundary (sync and local-SGD modes).
/// </summary>
public sealed record JoinWorker(string Job, IActorRef Worker) : ITrainingMessage;

/// <summary>
/// A worker (a <see cref="Training.WorkerActor"/>) the coordinator may use, found by cluster discovery or
/// registered by a host. The coordinator watches it and drops it when it stops or its node leaves.
/// Only ever sent inside one node (discovery runs beside the coordinator).
/// </summary>
public sealed record WorkerAvailable(IActorRef Worker) : INoSerializationVerificationNeeded;

/// <summary>A <see cref="Training.ParameterServerHost"/> the coordinator may start parameter servers on. Node-local, like <see cref="WorkerAvailable"/>.</summary>
public sealed record ParameterServerHostAvailable(IActorRef Host) : INoSerializationVerificationNeeded;
