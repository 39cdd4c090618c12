using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;
using LstmCluster.Core.Model;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Serialization;

/// <summary>
/// Binary serializer for <see cref="ITrainingMessage"/> and <see cref="IJobMessage"/>. Float
/// vectors (weights, gradients, windows) are written raw, little-endian, behind their length; the
/// few option records go as JSON, which keeps them readable and tolerant of added fields.
/// </summary>
public sealed class LstmClusterSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Above Akka's reserved range (0-100).</summary>
    public const int SerializerId = 4711;

    private static readonly JsonSerializerOptions Json = new() { IncludeFields = false };

    // A group's members carry NaN MASE until they succeed.
    private static readonly JsonSerializerOptions GroupJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public override int Identifier => SerializerId;

    /// <summary>Every manifest <see cref="FromBinary"/> reads: what a remote transfer may carry (see <c>ChunkAssembler</c>).</summary>
    public static IReadOnlySet<string> KnownManifests { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "as", "rs", "w", "g", "lr", "lw", "wf", "ep", "tf", "tx", "gss", "ss", "sj", "st", "ja", "jr", "gjs", "cj", "dj", "jrm", "uj", "js",
        "gcs", "cs", "lj", "jl", "gja", "jar", "stt", "tst", "spt", "jw", "ck", "gjh", "jh", "grs", "ssw", "lg", "gl", "gbl", "ble",
    };

    /// <summary>The manifests of weights and gradients, whose size the model bounds.</summary>
    public static IReadOnlySet<string> ModelManifests { get; } = new HashSet<string>(StringComparer.Ordinal) { "w", "g", "lr", "lw" };

    /// <summary>HOCON binding this serializer to the protocol marker interfaces.</summary>
    public static string Hocon => $$"""
        akka.actor {
          serializers.lstmcluster = "{{typeof(LstmClusterSerializer).AssemblyQualifiedName}}"
          serialization-bindings {
            "{{typeof(ITrainingMessage).AssemblyQualifiedName}}" = lstmcluster
            "{{typeof(IJobMessage).AssemblyQualifiedName}}" = lstmcluster
          }
          serialization-identifiers { "{{typeof(LstmClusterSerializer).AssemblyQualifiedName}}" = {{SerializerId}} }
        }
        """;

    public override string Manifest(object o) => o switch
    {
        AssignShard => "as",
        ReleaseShard => "rs",
        Weights => "w",
        Gradient => "g",
        LocalRound => "lr",
        LocalWeights => "lw",
        WorkerFailed => "wf",
        EpochProgress => "ep",
        TrainingFinished => "tf",
        TrainingFailed => "tx",
        GetServerState => "gss",
        ServerState => "ss",
        SubmitJob => "sj",
        SubmitTraining => "st",
        JobAccepted => "ja",
        JobRejected => "jr",
        GetJobStatus => "gjs",
        CancelJob => "cj",
        DeleteJob => "dj",
        JobRemoved => "jrm",
        UnknownJob => "uj",
        JobStatus => "js",
        GetCoordinatorState => "gcs",
        CoordinatorState => "cs",
        ListJobs => "lj",
        JobList => "jl",
        GetJobArtifacts => "gja",
        JobArtifacts => "jar",
        StartTraining => "stt",
        TrainingStarted => "tst",
        StopTraining => "spt",
        JoinWorker => "jw",
        CheckpointTaken => "ck",
        GetJobHistory => "gjh",
        JobHistory => "jh",
        GroupStatus => "grs",
        SubmitSweep => "ssw",
        ListGroups => "lg",
        GroupList => "gl",
        Remoting.GetBulkLane => "gbl",
        Remoting.BulkLaneEndpoint => "ble",
        _ => throw new ArgumentException($"{nameof(LstmClusterSerializer)} cannot serialize {o.GetType()}"),
    };

    /// <summary>
    /// The bytes of the broadcasts being sent: a parameter server tells one <see cref="Weights"/> (or <see cref="LocalRound"/>)
    /// instance to each of its K workers, and each worker's endpoint would serialize it again. Keyed by the instance, held no
    /// longer than it lives; messages are immutable records, so the bytes stay right. (ps-scale --serialize on: README,
    /// "Performance".)
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, byte[]> Broadcasts = new();

    public override byte[] ToBinary(object obj)
    {
        if (obj is Weights or LocalRound)
        {
            if (Broadcasts.TryGetValue(obj, out var done))
            {
                if (Remoting.WireTrace.Enabled) Remoting.WireTrace.Mark("ser", Manifest(obj), done.Length);
                Telemetry.ClusterMetrics.Serialized(obj.GetType().Name, done.Length);
                return done;
            }
            // Racing endpoints may both serialize; either's bytes are the same.
            var bytes = Serialize(obj);
            Broadcasts.AddOrUpdate(obj, bytes);
            return bytes;
        }
        return Serialize(obj);
    }

    private byte[] Serialize(object obj)
    {
        if (ExactSize(obj) is { } size && size <= Array.MaxLength)
        {
            int exact = (int)size;
            // Weights and gradients (800 KB at hidden 128, every round): written straight into an array of their exact size,
            // left unzeroed since every byte is written, and returned as it is: no second copy of the bytes.
            var buffer = GC.AllocateUninitializedArray<byte>(exact);
            using var fixedSize = new MemoryStream(buffer, writable: true);
            using (var w = new BinaryWriter(fixedSize, Encoding.UTF8, leaveOpen: true)) Write(w, obj);
            if (fixedSize.Position != exact)
                throw new SerializationException($"a {obj.GetType().Name} took {fixedSize.Position} bytes, not the {exact} ExactSize computed");
            if (Remoting.WireTrace.Enabled) Remoting.WireTrace.Mark("ser", Manifest(obj), exact);
            Telemetry.ClusterMetrics.Serialized(obj.GetType().Name, exact);
            return buffer;
        }
        using var stream = new MemoryStream(256);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) Write(w, obj);
        if (Remoting.WireTrace.Enabled) Remoting.WireTrace.Mark("ser", Manifest(obj), stream.Length);
        var bytes = stream.ToArray();
        Telemetry.ClusterMetrics.Serialized(obj.GetType().Name, bytes.Length);
        return bytes;
    }

    /// <summary>
    /// The exact number of bytes <see cref="Write"/> writes for a weights or gradient message, from its job id and vector's
    /// length (no serialization); null for any other message.
    /// </summary>
    public static long? ExactSize(object message) => message switch
    {
        Weights m => StringSize(m.Job) + sizeof(long) + FloatsSize(m.Values),
        Gradient m => StringSize(m.Job) + sizeof(long) + sizeof(int) + FloatsSize(m.Values) + sizeof(int) + sizeof(double) + sizeof(long),
        LocalRound m => StringSize(m.Job) + sizeof(long) + FloatsSize(m.Values) + sizeof(int) + sizeof(double),
        LocalWeights m => StringSize(m.Job) + sizeof(long) + sizeof(int) + FloatsSize(m.Values) + sizeof(int) + sizeof(double) + sizeof(long),
        _ => null,
    };

    /// <summary><see cref="BinaryWriter.Write(string)"/>'s bytes: the UTF-8 length as a 7-bit encoded integer, then the UTF-8.</summary>
    private static int StringSize(string s)
    {
        int bytes = Encoding.UTF8.GetByteCount(s);
        int prefix = 1;
        for (uint rest = (uint)bytes >> 7; rest != 0; rest >>= 7) prefix++;
        return prefix + bytes;
    }

    /// <summary><see cref="WriteFloats"/>' bytes: the length, then four bytes a value.</summary>
    private static long FloatsSize(float[] values) => sizeof(int) + 4L * values.Length;

    public override object FromBinary(byte[] bytes, string manifest)
    {
        Remoting.WireTrace.Mark("des", manifest, bytes.Length);
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        object message = manifest switch
        {
            "as" => new AssignShard(r.ReadString(), r.ReadInt32(), ReadSpec(r), ReadPlan(r), ReadWindows(r), ReadJson<TrainingOptions>(r),
                r.ReadInt32(), r.ReadInt32(), r.ReadInt32()),
            "rs" => new ReleaseShard(r.ReadString()),
            "w" => new Weights(r.ReadString(), r.ReadInt64(), ReadFloats(r)),
            "g" => new Gradient(r.ReadString(), r.ReadInt64(), r.ReadInt32(), ReadFloats(r), r.ReadInt32(), r.ReadDouble(), new TimeSpan(r.ReadInt64())),
            "lr" => new LocalRound(r.ReadString(), r.ReadInt64(), ReadFloats(r), r.ReadInt32(), r.ReadDouble()),
            "lw" => new LocalWeights(r.ReadString(), r.ReadInt64(), r.ReadInt32(), ReadFloats(r), r.ReadInt32(), r.ReadDouble(), new TimeSpan(r.ReadInt64())),
            "wf" => new WorkerFailed(r.ReadString(), r.ReadInt32(), r.ReadString()),
            "ep" => new EpochProgress(r.ReadString(), ReadReport(r), r.ReadInt64(), r.ReadInt32()),
            "tf" => new TrainingFinished(r.ReadString(), ReadFloats(r), r.ReadInt32(), r.ReadDouble(), ReadArray(r, ReadReport),
                r.ReadBoolean(), r.ReadInt64(), new TimeSpan(r.ReadInt64()), r.ReadInt64(), ReadArray(r, ReadFigures), new TimeSpan(r.ReadInt64()),
                r.ReadBoolean() ? new RoundTimes(r.ReadInt64(), new TimeSpan(r.ReadInt64()), new TimeSpan(r.ReadInt64()), new TimeSpan(r.ReadInt64()),
                    new TimeSpan(r.ReadInt64())) : null),
            "tx" => new TrainingFailed(r.ReadString(), r.ReadString()),
            "gss" => new GetServerState(r.ReadString()),
            "ss" => new ServerState(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64()),
            // Fields added later follow the owner, in the order they were added.
            "sj" => new SubmitJob(ReadJson<RunOptions>(r), ReadNullableString(r), r.ReadInt32(), ReadNullableInt(r),
                (TrainingMode?)ReadNullableInt(r), ReadNullableInt(r), ReadNullableInt(r), Owner: ReadNullableString(r))
            {
                Sampling = (BatchSampling?)ReadNullableInt(r),
            },
            "st" => new SubmitTraining(ReadSetup(r), ReadRef(r), r.ReadInt32()),
            "ja" => new JobAccepted(r.ReadString()),
            "jr" => new JobRejected(r.ReadString(), r.ReadBoolean(), r.ReadBoolean()),
            "gjs" => new GetJobStatus(r.ReadString()),
            "cj" => new CancelJob(r.ReadString()),
            "dj" => new DeleteJob(r.ReadString()),
            "jrm" => new JobRemoved(r.ReadString()),
            "uj" => new UnknownJob(r.ReadString()),
            "js" => ReadStatus(r),
            "gcs" => GetCoordinatorState.Instance,
            "cs" => new CoordinatorState(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32()) { Fenced = r.ReadInt64() },
            "lj" => ListJobs.Instance,
            "jl" => new JobList(ReadArray(r, ReadStatus)),
            "gja" => new GetJobArtifacts(r.ReadString()),
            "jar" => ReadArtifacts(r),
            "stt" => new StartTraining(ReadSetup(r), ReadArray(r, ReadRef), ReadRef(r)),
            "tst" => new TrainingStarted(r.ReadString(), ReadRef(r)),
            "spt" => new StopTraining(r.ReadString()),
            "jw" => new JoinWorker(r.ReadString(), ReadRef(r)),
            "ck" => new CheckpointTaken(r.ReadString(), CheckpointCodec.Read(r)),
            "gjh" => new GetJobHistory(r.ReadString()),
            "grs" => JsonSerializer.Deserialize<GroupStatus>(r.ReadString(), GroupJson) ?? throw new SerializationException("empty GroupStatus"),
            // A sweep carries its CSV inline (large: bytes, not a BinaryWriter string with its 2^31 UTF-16 bound) and a few option records.
            "ssw" => JsonSerializer.Deserialize<SubmitSweep>(ReadBytes(r), GroupJson) ?? throw new SerializationException("empty SubmitSweep"),
            "lg" => ListGroups.Instance,
            "gl" => JsonSerializer.Deserialize<GroupList>(ReadBytes(r), GroupJson) ?? throw new SerializationException("empty GroupList"),
            "gbl" => Remoting.GetBulkLane.Instance,
            "ble" => new Remoting.BulkLaneEndpoint(r.ReadString(), r.ReadInt32()),
            "jh" => new JobHistory(r.ReadString(), (JobState)r.ReadInt32(), ReadArray(r, x => x.ReadInt32()), ReadArray(r, x => x.ReadDouble()),
                ReadArray(r, x => x.ReadDouble())),
            _ => throw new SerializationException($"unknown manifest '{manifest}' for {nameof(LstmClusterSerializer)}"),
        };
        Telemetry.ClusterMetrics.Deserialized(message.GetType().Name, bytes.Length);
        return message;
    }

    private void Write(BinaryWriter w, object obj)
    {
        switch (obj)
        {
            case AssignShard m:
                w.Write(m.Job); w.Write(m.Worker); WriteSpec(w, m.Spec); WritePlan(w, m.Plan); WriteWindows(w, m.Windows); WriteJson(w, m.Options);
                w.Write(m.Shard); w.Write(m.StartEpoch); w.Write(m.StartStep);
                break;
            case ReleaseShard m: w.Write(m.Job); break;
            case Weights m: w.Write(m.Job); w.Write(m.Version); WriteFloats(w, m.Values); break;
            case Gradient m:
                w.Write(m.Job); w.Write(m.Version); w.Write(m.Worker); WriteFloats(w, m.Values); w.Write(m.Samples); w.Write(m.Loss); w.Write(m.Compute.Ticks);
                break;
            case LocalRound m: w.Write(m.Job); w.Write(m.Version); WriteFloats(w, m.Values); w.Write(m.Steps); w.Write(m.LearningRate); break;
            case LocalWeights m:
                w.Write(m.Job); w.Write(m.Version); w.Write(m.Worker); WriteFloats(w, m.Values); w.Write(m.Samples); w.Write(m.Loss); w.Write(m.Compute.Ticks);
                break;
            case WorkerFailed m: w.Write(m.Job); w.Write(m.Worker); w.Write(m.Reason); break;
            case EpochProgress m: w.Write(m.Job); WriteReport(w, m.Report); w.Write(m.Version); w.Write(m.Workers); break;
            case TrainingFinished m:
                w.Write(m.Job); WriteFloats(w, m.BestWeights); w.Write(m.BestEpoch); w.Write(m.BestValidationLoss);
                WriteArray(w, m.Epochs, WriteReport); w.Write(m.StoppedEarly); w.Write(m.Samples); w.Write(m.Elapsed.Ticks);
                w.Write(m.Version); WriteArray(w, m.Workers, WriteFigures); w.Write(m.ServerTime.Ticks);
                w.Write(m.Rounds is not null);
                if (m.Rounds is { } t)
                {
                    w.Write(t.Measured); w.Write(t.Round.Ticks); w.Write(t.Compute.Ticks); w.Write(t.HandOver.Ticks); w.Write(t.ServerStep.Ticks);
                }
                break;
            case TrainingFailed m: w.Write(m.Job); w.Write(m.Reason); break;
            case GetServerState m: w.Write(m.Job); break;
            case ServerState m:
                w.Write(m.Job); w.Write(m.Version); w.Write(m.Epoch); w.Write(m.Applied); w.Write(m.Duplicates); w.Write(m.Stale); w.Write(m.Late);
                break;
            case SubmitJob m:
                WriteJson(w, m.Options); WriteNullable(w, m.CsvText); w.Write(m.Priority); WriteNullable(w, m.Workers);
                WriteNullable(w, (int?)m.Mode); WriteNullable(w, m.Staleness); WriteNullable(w, m.SyncPeriod); WriteNullable(w, m.Owner);
                WriteNullable(w, (int?)m.Sampling);
                break;
            case SubmitTraining m: WriteSetup(w, m.Setup); WriteRef(w, m.Listener); w.Write(m.Priority); break;
            case JobAccepted m: w.Write(m.Job); break;
            case JobRejected m: w.Write(m.Reason); w.Write(m.Busy); w.Write(m.OverQuota); break;
            case GetJobStatus m: w.Write(m.Job); break;
            case CancelJob m: w.Write(m.Job); break;
            case DeleteJob m: w.Write(m.Job); break;
            case JobRemoved m: w.Write(m.Job); break;
            case UnknownJob m: w.Write(m.Job); break;
            case JobStatus m: WriteStatus(w, m); break;
            case GetCoordinatorState: break;
            case CoordinatorState m: w.Write(m.Queued); w.Write(m.Running); w.Write(m.FreeWorkers); w.Write(m.TotalWorkers); w.Write(m.Fenced); break;
            case ListJobs: break;
            case JobList m: WriteArray(w, m.Jobs, WriteStatus); break;
            case GetJobArtifacts m: w.Write(m.Job); break;
            case GetJobHistory m: w.Write(m.Job); break;
            case GroupStatus m: w.Write(JsonSerializer.Serialize(m, GroupJson)); break;
            case SubmitSweep m: WriteBytes(w, JsonSerializer.SerializeToUtf8Bytes(m, GroupJson)); break;
            case ListGroups: break;
            case Remoting.GetBulkLane: break;
            case Remoting.BulkLaneEndpoint m: w.Write(m.Host); w.Write(m.Port); break;
            case GroupList m: WriteBytes(w, JsonSerializer.SerializeToUtf8Bytes(m, GroupJson)); break;
            case JobHistory m:
                w.Write(m.Job); w.Write((int)m.State);
                WriteArray(w, m.Epochs, (x, v) => x.Write(v)); WriteArray(w, m.TrainLoss, (x, v) => x.Write(v)); WriteArray(w, m.ValidationLoss, (x, v) => x.Write(v));
                break;
            case JobArtifacts m:
                w.Write(m.Job); w.Write((int)m.State); w.Write(m.Files.Count);
                foreach (var (name, bytes) in m.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
                {
                    w.Write(name); w.Write(bytes.Length); w.Write(bytes);
                }
                break;
            case StartTraining m: WriteSetup(w, m.Setup); WriteArray(w, m.Workers, WriteRef); WriteRef(w, m.ReportTo); break;
            case TrainingStarted m: w.Write(m.Job); WriteRef(w, m.Server); break;
            case StopTraining m: w.Write(m.Job); break;
            case JoinWorker m: w.Write(m.Job); WriteRef(w, m.Worker); break;
            case CheckpointTaken m: w.Write(m.Job); CheckpointCodec.Write(w, m.Checkpoint); break;
            default: throw new ArgumentException($"{nameof(LstmClusterSerializer)} cannot serialize {obj.GetType()}");
        }
    }

    // --- vectors: length, then raw little-endian values ---

    internal static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values)
    {
        w.Write(values.Length);
        if (BitConverter.IsLittleEndian)
        {
            w.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> buffer = stackalloc byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
            w.Write(buffer);
        }
    }

    internal static float[] ReadFloats(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) throw new SerializationException($"negative vector length {n}");
        // Unzeroed: the read below fills every value or throws.
        var result = GC.AllocateUninitializedArray<float>(n);
        var bytes = MemoryMarshal.AsBytes(result.AsSpan());
        if (r.Read(bytes) != bytes.Length) throw new SerializationException("truncated float vector");
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4, 4));
        return result;
    }

    private static void WriteInts(BinaryWriter w, int[] values)
    {
        w.Write(values.Length);
        foreach (var v in values) w.Write(v);
    }

    private static int[] ReadInts(BinaryReader r)
    {
        var result = new int[r.ReadInt32()];
        for (int i = 0; i < result.Length; i++) result[i] = r.ReadInt32();
        return result;
    }

    internal static void WriteArray<T>(BinaryWriter w, IReadOnlyList<T> items, Action<BinaryWriter, T> write)
    {
        w.Write(items.Count);
        foreach (var item in items) write(w, item);
    }

    internal static T[] ReadArray<T>(BinaryReader r, Func<BinaryReader, T> read)
    {
        var result = new T[r.ReadInt32()];
        for (int i = 0; i < result.Length; i++) result[i] = read(r);
        return result;
    }

    // --- nullable scalars: a presence flag ---

    private static void WriteNullable(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    private static string? ReadNullableString(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteNullable(BinaryWriter w, int? value)
    {
        w.Write(value.HasValue);
        if (value is { } v) w.Write(v);
    }

    private static int? ReadNullableInt(BinaryReader r) => r.ReadBoolean() ? r.ReadInt32() : null;

    private static void WriteNullable(BinaryWriter w, double[]? values)
    {
        w.Write(values is not null);
        if (values is null) return;
        w.Write(values.Length);
        foreach (var v in values) w.Write(v);
    }

    private static double[]? ReadNullableDoubles(BinaryReader r)
    {
        if (!r.ReadBoolean()) return null;
        var result = new double[r.ReadInt32()];
        for (int i = 0; i < result.Length; i++) result[i] = r.ReadDouble();
        return result;
    }

    internal static void WriteNullable(BinaryWriter w, float[]? values)
    {
        w.Write(values is not null);
        if (values is not null) WriteFloats(w, values);
    }

    internal static float[]? ReadNullableFloats(BinaryReader r) => r.ReadBoolean() ? ReadFloats(r) : null;

    // --- composite parts ---

    private static void WriteJson<T>(BinaryWriter w, T value) => w.Write(JsonSerializer.Serialize(value, Json));

    private static T ReadJson<T>(BinaryReader r) =>
        JsonSerializer.Deserialize<T>(r.ReadString(), Json) ?? throw new SerializationException($"empty {typeof(T).Name}");

    private static void WriteSpec(BinaryWriter w, ModelSpec s)
    {
        w.Write(s.InputSize); w.Write(s.HiddenSize); w.Write(s.NumLayers); w.Write(s.Horizon); w.Write(s.Dropout);
        // A quantile head's levels: the workers' loss (pinball) and the head's width follow from them.
        WriteNullable(w, s.Quantiles);
    }

    private static ModelSpec ReadSpec(BinaryReader r)
    {
        var spec = new ModelSpec(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble());
        return ReadNullableDoubles(r) is { } quantiles ? spec with { Quantiles = quantiles } : spec;
    }

    private static void WritePlan(BinaryWriter w, PlanSpec p)
    {
        w.Write(p.WindowCount); w.Write(p.ShardCount); w.Write(p.BatchSize); w.Write(p.Seed); w.Write((byte)p.Sampling);
    }

    private static PlanSpec ReadPlan(BinaryReader r) => new(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), (BatchSampling)r.ReadByte());

    private static void WriteWindows(BinaryWriter w, WindowSet s)
    {
        w.Write(s.Lookback); w.Write(s.Features); w.Write(s.Horizon);
        WriteFloats(w, s.Inputs); WriteFloats(w, s.Targets); WriteInts(w, s.Origins);
    }

    private static WindowSet ReadWindows(BinaryReader r)
    {
        int lookback = r.ReadInt32(), features = r.ReadInt32(), horizon = r.ReadInt32();
        var inputs = ReadFloats(r);
        var targets = ReadFloats(r);
        return new WindowSet(inputs, targets, ReadInts(r), lookback, features, horizon);
    }

    internal static void WriteReport(BinaryWriter w, EpochReport e)
    {
        w.Write(e.Epoch); w.Write(e.Epochs); w.Write(e.TrainLoss); w.Write(e.ValidationLoss); w.Write(e.LearningRate);
        w.Write(e.Improved); w.Write(e.BestEpoch); w.Write(e.Samples); w.Write(e.SamplesPerSecond); w.Write(e.Elapsed.Ticks);
    }

    internal static EpochReport ReadReport(BinaryReader r) => new(r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(),
        r.ReadDouble(), r.ReadBoolean(), r.ReadInt32(), r.ReadInt64(), r.ReadDouble(), new TimeSpan(r.ReadInt64()));

    private static void WriteFigures(BinaryWriter w, WorkerFigures f)
    {
        w.Write(f.Worker); w.Write(f.Rounds); w.Write(f.Samples); w.Write(f.Dropped);
    }

    private static WorkerFigures ReadFigures(BinaryReader r) => new(r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void WriteSetup(BinaryWriter w, TrainingSetup s)
    {
        w.Write(s.Job); WriteSpec(w, s.Spec); WriteWindows(w, s.Train); WriteWindows(w, s.Validation);
        WriteJson(w, s.Options); WriteJson(w, s.Engine); WriteNullable(w, s.InitialWeights);
        w.Write(s.Resume is not null);
        if (s.Resume is not null) CheckpointCodec.Write(w, s.Resume);
    }

    private static TrainingSetup ReadSetup(BinaryReader r) => new(r.ReadString(), ReadSpec(r), ReadWindows(r), ReadWindows(r),
        ReadJson<TrainingOptions>(r), ReadJson<EngineOptions>(r), ReadNullableFloats(r), r.ReadBoolean() ? CheckpointCodec.Read(r) : null);

    private static void WriteStatus(BinaryWriter w, JobStatus m)
    {
        w.Write(m.Job); w.Write((int)m.State); w.Write(m.Epoch); w.Write(m.Epochs); w.Write(m.TrainLoss); w.Write(m.ValidationLoss);
        WriteNullable(w, m.Reason); WriteNullable(w, m.Forecast); w.Write(m.TestMase); WriteNullable(w, m.BestBaseline); w.Write(m.BestBaselineMase);
        w.Write(m.Round); w.Write(m.SamplesPerSecond); w.Write(m.Workers); WriteNullable(w, m.Data); WriteNullable(w, m.Target);
        w.Write(m.ForecastTimes is not null);
        if (m.ForecastTimes is not null) WriteArray(w, m.ForecastTimes, (w2, t) => w2.Write(t));
        WriteTime(w, m.Submitted); WriteTime(w, m.Started); WriteTime(w, m.Finished);
        w.Write(m.Attempts);
        w.Write(m.ResumedFrom);
        WriteNullable(w, m.Owner);
        WriteNullable(w, m.Group);
        WriteNullable(w, m.Normalization);
        WriteNullable(w, m.ForecastLevels);
        w.Write(m.ForecastQuantiles is not null);
        if (m.ForecastQuantiles is not null) WriteArray(w, m.ForecastQuantiles, (w2, level) => WriteNullable(w2, level));
        w.Write(m.Ahead ?? -1);
    }

    private static JobStatus ReadStatus(BinaryReader r) =>
        new JobStatus(r.ReadString(), (JobState)r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(),
            ReadNullableString(r), ReadNullableDoubles(r), r.ReadDouble(), ReadNullableString(r), r.ReadDouble())
        {
            Round = r.ReadInt64(),
            SamplesPerSecond = r.ReadDouble(),
            Workers = r.ReadInt32(),
            Data = ReadNullableString(r),
            Target = ReadNullableString(r),
            ForecastTimes = r.ReadBoolean() ? ReadArray(r, r2 => r2.ReadString()) : null,
            Submitted = ReadTime(r),
            Started = ReadTime(r),
            Finished = ReadTime(r),
            Attempts = r.ReadInt32(),
            ResumedFrom = r.ReadInt32(),
            Owner = ReadNullableString(r),
            Group = ReadNullableString(r),
            Normalization = ReadNullableString(r),
            ForecastLevels = ReadNullableDoubles(r),
            ForecastQuantiles = r.ReadBoolean() ? ReadArray(r, r2 => ReadNullableDoubles(r2) ?? []) : null,
            Ahead = r.ReadInt32() is >= 0 and var ahead ? ahead : null,
        };

    private static void WriteTime(BinaryWriter w, DateTimeOffset? time)
    {
        w.Write(time.HasValue);
        if (time is { } t) w.Write(t.UtcTicks);
    }

    private static DateTimeOffset? ReadTime(BinaryReader r) => r.ReadBoolean() ? new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero) : null;

    private static JobArtifacts ReadArtifacts(BinaryReader r)
    {
        string job = r.ReadString();
        var state = (JobState)r.ReadInt32();
        int count = r.ReadInt32();
        if (count < 0) throw new SerializationException($"negative file count {count}");
        var files = new Dictionary<string, byte[]>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = r.ReadString();
            int length = r.ReadInt32();
            if (length < 0) throw new SerializationException($"negative length for {name}");
            var bytes = r.ReadBytes(length);
            if (bytes.Length != length) throw new SerializationException($"truncated file {name}");
            files[name] = bytes;
        }
        return new JobArtifacts(job, state, files);
    }

    private static void WriteRef(BinaryWriter w, IActorRef actor) => w.Write(Akka.Serialization.Serialization.SerializedActorPath(actor));

    private IActorRef ReadRef(BinaryReader r) => system.Provider.ResolveActorRef(r.ReadString());

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r)
    {
        int length = r.ReadInt32();
        if (length < 0) throw new SerializationException($"negative length {length}");
        var bytes = r.ReadBytes(length);
        if (bytes.Length != length) throw new SerializationException($"truncated message: {bytes.Length} of {length} bytes");
        return bytes;
    }
}
