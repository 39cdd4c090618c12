using Akka.Actor;

namespace LstmCluster.Actors.Remoting;

/// <summary>Marker for the chunking messages; bound to <see cref="ChunkSerializer"/>.</summary>
public interface IChunkMessage;

/// <summary>
/// Part <paramref name="Index"/> of <paramref name="Count"/> of one serialized message, for the
/// <see cref="ChunkAssembler"/> on <paramref name="Recipient"/>'s node. Every chunk repeats the
/// header (serializer, manifest, total size, recipient), so chunks may arrive in any order and
/// the first one to arrive opens the transfer.
/// </summary>
public sealed record MessageChunk(
    Guid Transfer,
    int Index,
    int Count,
    int TotalBytes,
    IActorRef Recipient,
    int SerializerId,
    string Manifest,
    byte[] Part) : IChunkMessage;

/// <summary>Ask a <see cref="ChunkAssembler"/> for its counters (tests, status). Local only.</summary>
public sealed record GetAssemblerState : INoSerializationVerificationNeeded
{
    public static GetAssemblerState Instance { get; } = new();

    private GetAssemblerState()
    {
    }
}

/// <summary>
/// A <see cref="ChunkAssembler"/>'s counters: transfers open, delivered, timed out, rejected, duplicate chunks, and transfers
/// refused before any byte was kept (a serializer or manifest that is not the project's, a sender over its limits).
/// </summary>
public sealed record AssemblerState(int Open, long Completed, long TimedOut, long Invalid, long Duplicates, long Refused = 0)
    : INoSerializationVerificationNeeded;

/// <summary>A message that cannot be sent whole: its serialized size exceeds what the transport carries in one frame.</summary>
public sealed class OversizedMessageException(Type messageType, long bytes, long limit)
    : InvalidOperationException($"{messageType.Name} is {bytes} bytes serialized, over the {limit}-byte limit for one remote frame; send it with TellChunked")
{
    public Type MessageType { get; } = messageType;

    public long Bytes { get; } = bytes;

    public long Limit { get; } = limit;
}
