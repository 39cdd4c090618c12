using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using LstmCluster.Actors.Jobs;

namespace LstmCluster.Actors.Serialization;

/// <summary>
/// The coordinator's journal events and snapshots as UTF-8 JSON: they live for years in a database, so they
/// are readable with any SQL client and tolerate added fields; none is large (files are referenced, not held).
/// </summary>
public sealed class JobEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4713;

    // Manifests are stored with every event: short, stable, never reused for another type.
    private const string Submitted = "js", Started = "jst", Progressed = "jp", Requeued = "jr", Succeeded = "jok", Failed = "jf",
        Cancelled = "jc", Deleted = "jd", Snapshot = "rs", Checkpointed = "jck", GroupSubmitted = "gs", GroupSkipped = "gsk",
        GroupCancel = "gc", GroupFinished = "gf", GroupDeleted = "gd",
        SweepRoundEnded = "gsr";

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(JobSubmitted)] = Submitted, [typeof(JobStarted)] = Started, [typeof(JobProgressed)] = Progressed,
        [typeof(JobRequeued)] = Requeued, [typeof(JobSucceeded)] = Succeeded, [typeof(JobFailed)] = Failed,
        [typeof(JobCancelled)] = Cancelled, [typeof(JobDeleted)] = Deleted, [typeof(RegistrySnapshot)] = Snapshot,
        [typeof(JobCheckpointed)] = Checkpointed,
        [typeof(Jobs.GroupSubmitted)] = GroupSubmitted, [typeof(GroupMemberSkipped)] = GroupSkipped, [typeof(GroupCancelRequested)] = GroupCancel,
        [typeof(Jobs.GroupFinished)] = GroupFinished, [typeof(Jobs.GroupDeleted)] = GroupDeleted,
        [typeof(Jobs.SweepRoundEnded)] = SweepRoundEnded,
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    // Losses are NaN before the first epoch: JSON has no NaN, so they are written as the strings "NaN" / "Infinity".
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public override int Identifier => SerializerId;

    public static string Hocon => $$"""
        akka.actor {
          serializers.lstmcluster-jobs = "{{typeof(JobEventSerializer).AssemblyQualifiedName}}"
          serialization-bindings {
            "{{typeof(IJobEvent).AssemblyQualifiedName}}" = lstmcluster-jobs
          }
          serialization-identifiers { "{{typeof(JobEventSerializer).AssemblyQualifiedName}}" = {{SerializerId}} }
        }
        """;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"{o.GetType()} is not a job event");

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown job event manifest '{manifest}': the journal was written by a newer or foreign program");
        try
        {
            return JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"empty job event '{manifest}'");
        }
        catch (JsonException e)
        {
            throw new SerializationException($"corrupt job event '{manifest}' in the journal: {e.Message}", e);
        }
    }
}
