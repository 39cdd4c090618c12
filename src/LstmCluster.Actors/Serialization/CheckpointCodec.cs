using System.Runtime.Serialization;
using System.Security.Cryptography;
using LstmCluster.Actors.Protocol;
using LstmCluster.Core.Training;

namespace LstmCluster.Actors.Serialization;

/// <summary>
/// The binary form of a <see cref="TrainingCheckpoint"/>: on the wire (inside <see cref="CheckpointTaken"/> and a resumed
/// <see cref="TrainingSetup"/>) and, behind a header with its SHA-256, on disk (<see cref="ToFile"/>). One encoding for
/// both, so a checkpoint read back from the store is the one the parameter server sent, value for value.
/// </summary>
public static class CheckpointCodec
{
    // "LCCK" + a format version: a file of anything else is named as such, never half-read.
    private static readonly byte[] Magic = "LCCK"u8.ToArray();
    // 2: the stopping rule's plateau counter and learning-rate factor follow its best weights.
    private const int FormatVersion = 2;

    public static void Write(BinaryWriter w, TrainingCheckpoint c)
    {
        w.Write(c.Epoch); w.Write(c.Step); w.Write(c.Version); w.Write(c.Shards);
        var o = c.Optimizer;
        LstmClusterSerializer.WriteFloats(w, o.Weights);
        LstmClusterSerializer.WriteFloats(w, o.FirstMoment);
        LstmClusterSerializer.WriteNullable(w, o.SecondMoment);
        w.Write(o.Steps); w.Write(o.LearningRate);
        var s = c.Stopping;
        w.Write(s.Waited); w.Write(s.BestTrainedLoss); w.Write(s.AnyTrained); w.Write(s.BestEpoch); w.Write(s.BestLoss);
        LstmClusterSerializer.WriteNullable(w, s.BestWeights);
        w.Write(s.SinceReduction); w.Write(s.LearningRateFactor);
        LstmClusterSerializer.WriteArray(w, c.History, LstmClusterSerializer.WriteReport);
        w.Write(c.EpochLossSum); w.Write(c.EpochSamples); w.Write(c.TotalSamples); w.Write(c.Elapsed.Ticks);
    }

    public static TrainingCheckpoint Read(BinaryReader r)
    {
        int epoch = r.ReadInt32(), step = r.ReadInt32();
        long version = r.ReadInt64();
        int shards = r.ReadInt32();
        var optimizer = new OptimizerState(LstmClusterSerializer.ReadFloats(r), LstmClusterSerializer.ReadFloats(r),
            LstmClusterSerializer.ReadNullableFloats(r), r.ReadInt64(), r.ReadDouble());
        var stopping = new EarlyStoppingState(r.ReadInt32(), r.ReadDouble(), r.ReadBoolean(), r.ReadInt32(), r.ReadDouble(),
            LstmClusterSerializer.ReadNullableFloats(r), r.ReadInt32(), r.ReadDouble());
        var history = LstmClusterSerializer.ReadArray(r, LstmClusterSerializer.ReadReport);
        var checkpoint = new TrainingCheckpoint(epoch, step, version, shards, optimizer, stopping, history, r.ReadDouble(), r.ReadInt64(),
            r.ReadInt64(), new TimeSpan(r.ReadInt64()));
        if (epoch < 1 || step < 0 || version < 0 || shards < 1)
            throw new SerializationException($"checkpoint out of range (epoch {epoch}, step {step}, version {version}, shards {shards})");
        return checkpoint;
    }

    /// <summary>The file form: magic, format version, payload length, the payload's SHA-256, the payload.</summary>
    public static byte[] ToFile(TrainingCheckpoint checkpoint)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true)) Write(w, checkpoint);
        var bytes = payload.ToArray();
        using var file = new MemoryStream(bytes.Length + 48);
        using (var w = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(FormatVersion);
            w.Write((long)bytes.Length);
            w.Write(SHA256.HashData(bytes));
            w.Write(bytes);
        }
        return file.ToArray();
    }

    /// <summary>The SHA-256 (hex) of a file's payload, as journaled with the checkpoint.</summary>
    public static string Checksum(byte[] file) => Convert.ToHexStringLower(file.AsSpan(16, 32));

    /// <summary>Reads a checkpoint file; a foreign, truncated or corrupt file throws <see cref="InvalidDataException"/> saying which.</summary>
    public static TrainingCheckpoint FromFile(byte[] file, string name)
    {
        if (file.Length < 48 || !file.AsSpan(0, 4).SequenceEqual(Magic))
            throw new InvalidDataException($"{name} is not a LstmCluster checkpoint");
        int format = BitConverter.ToInt32(file, 4);
        if (format != FormatVersion) throw new InvalidDataException($"{name} has checkpoint format {format}; this version reads {FormatVersion}");
        long length = BitConverter.ToInt64(file, 8);
        if (length != file.Length - 48) throw new InvalidDataException($"{name} is truncated ({file.Length - 48} of {length} bytes)");
        var payload = file.AsSpan(48);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(file.AsSpan(16, 32)))
            throw new InvalidDataException($"{name} fails its checksum (corrupt)");
        try
        {
            using var r = new BinaryReader(new MemoryStream(file, 48, file.Length - 48, writable: false));
            return Read(r);
        }
        catch (Exception e) when (e is EndOfStreamException or SerializationException)
        {
            throw new InvalidDataException($"{name} cannot be read: {e.Message}", e);
        }
    }
}
