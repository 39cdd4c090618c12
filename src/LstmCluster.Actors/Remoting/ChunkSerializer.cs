using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// Binary serializer for <see cref="IChunkMessage"/>: the header, then the part's raw bytes.
/// Separate from <c>LstmClusterSerializer</c> so the protocol serializer's manifests stay as they are.
/// </summary>
public sealed class ChunkSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Next to <c>LstmClusterSerializer</c> (4711), above Akka's reserved range.</summary>
    public const int SerializerId = 4712;

    public override int Identifier => SerializerId;

    /// <summary>HOCON binding this serializer to <see cref="IChunkMessage"/>.</summary>
    public static string Hocon => $$"""
        akka.actor {
          serializers.lstmcluster-chunk = "{{typeof(ChunkSerializer).AssemblyQualifiedName}}"
          serialization-bindings {
            "{{typeof(IChunkMessage).AssemblyQualifiedName}}" = lstmcluster-chunk
          }
          serialization-identifiers { "{{typeof(ChunkSerializer).AssemblyQualifiedName}}" = {{SerializerId}} }
        }
        """;

    public override string Manifest(object o) => o switch
    {
        MessageChunk => "mc",
        _ => throw new ArgumentException($"{nameof(ChunkSerializer)} cannot serialize {o.GetType()}"),
    };

    public override byte[] ToBinary(object obj)
    {
        if (obj is not MessageChunk c) throw new ArgumentException($"{nameof(ChunkSerializer)} cannot serialize {obj.GetType()}");
        WireTrace.Mark("chunk-ser", c.Manifest, c.Part.Length);
        using var stream = new MemoryStream(c.Part.Length + 128);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(c.Transfer.ToByteArray());
            w.Write(c.Index); w.Write(c.Count); w.Write(c.TotalBytes);
            w.Write(Akka.Serialization.Serialization.SerializedActorPath(c.Recipient));
            w.Write(c.SerializerId); w.Write(c.Manifest);
            w.Write(c.Part.Length); w.Write(c.Part);
        }
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest != "mc") throw new SerializationException($"unknown manifest '{manifest}' for {nameof(ChunkSerializer)}");
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        var transfer = new Guid(r.ReadBytes(16));
        int index = r.ReadInt32(), count = r.ReadInt32(), total = r.ReadInt32();
        var recipient = system.Provider.ResolveActorRef(r.ReadString());
        int serializerId = r.ReadInt32();
        string innerManifest = r.ReadString();
        int length = r.ReadInt32();
        if (length < 0) throw new SerializationException($"negative chunk length {length}");
        var part = r.ReadBytes(length);
        if (part.Length != length) throw new SerializationException("truncated chunk");
        WireTrace.Mark("chunk-des", innerManifest, length);
        return new MessageChunk(transfer, index, count, total, recipient, serializerId, innerManifest, part);
    }
}
