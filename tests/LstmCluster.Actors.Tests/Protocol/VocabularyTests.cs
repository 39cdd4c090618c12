using LstmCluster.Actors.Cluster;
using LstmCluster.Actors.Protocol;
using LstmCluster.Contracts;

namespace LstmCluster.Actors.Tests.Protocol;

/// <summary>The actors' enums and the names the API, the command line and cluster membership use stay one vocabulary.</summary>
public sealed class VocabularyTests
{
    [Fact]
    public void Job_states_are_the_names_of_the_JobState_enum()
    {
        Assert.Equal(Enum.GetNames<JobState>(), Vocabulary.JobStates.All);
        Assert.All(Enum.GetValues<JobState>(), s => Assert.Equal(s is JobState.Succeeded or JobState.Failed or JobState.Cancelled,
            Vocabulary.JobStates.IsEnded(s.ToString())));
    }

    [Fact]
    public void Every_training_mode_has_a_name_that_parses_back_to_it()
    {
        Assert.Equal(Enum.GetValues<TrainingMode>().Length, Vocabulary.Modes.All.Count);
        foreach (var mode in Enum.GetValues<TrainingMode>()) Assert.Equal(mode, EngineOptions.ParseMode(EngineOptions.ModeName(mode)));
        Assert.Equal(TrainingMode.LocalSgd, EngineOptions.ParseMode(Vocabulary.Modes.LocalSgdAlias));
        var e = Assert.Throws<ArgumentException>(() => EngineOptions.ParseMode("fast"));
        Assert.Equal("mode must be sync, async or local-sgd (got 'fast')", e.Message);
    }

    [Fact]
    public void Cluster_discovery_looks_for_the_vocabulary_roles()
    {
        Assert.Equal([ClusterDiscovery.CoordinatorRole, ClusterDiscovery.ParameterServerRole, ClusterDiscovery.WorkerRole], Vocabulary.Roles.All);
    }
}
