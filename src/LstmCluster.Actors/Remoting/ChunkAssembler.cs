using Akka.Actor;
using Akka.Event;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// One per node, at <c>/user/lstmcluster-chunks</c>: collects the <see cref="MessageChunk"/>s of
/// each transfer in any order, and once all have arrived deserializes the message and tells its
/// recipient with the sender the chunks carried. A duplicate chunk (also one arriving after its
/// transfer was delivered) is counted and ignored; a chunk
/// whose header disagrees with its transfer's, or out of range, rejects the transfer; a transfer
/// still incomplete after <see cref="ChunkingOptions.TransferTimeout"/> is dropped. All are
/// counted (<see cref="AssemblerState"/>) and logged.
/// </summary>
public sealed class ChunkAssembler : ReceiveActor, IWithTimers
{
    public const string Name = "lstmcluster-chunks";

    private readonly ChunkingOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Guid, Transfer> _transfers = [];

    // Transfers closed lately (true: delivered), so a chunk arriving after its transfer was delivered,
    // rejected or timed out is ignored instead of opening a new transfer that can only time out.
    private readonly Dictionary<Guid, bool> _closed = [];
    private readonly Queue<Guid> _closedOrder = new();
    private const int ClosedRemembered = 4096;
    private long _completed;
    private long _timedOut;
    private long _invalid;
    private long _duplicates;
    private long _refused;

    public ChunkAssembler(ChunkingOptions options)
    {
        _options = options;
        Receive<MessageChunk>(OnChunk);
        Receive<TransferTimedOut>(OnTimedOut);
        Receive<GetAssemblerState>(_ => Sender.Tell(new AssemblerState(_transfers.Count, _completed, _timedOut, _invalid, _duplicates, _refused)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ChunkingOptions options) => Akka.Actor.Props.Create(() => new ChunkAssembler(options));

    private void OnChunk(MessageChunk chunk)
    {
        WireTrace.Mark("asm", chunk.Manifest, chunk.Part.Length);
        if (_closed.TryGetValue(chunk.Transfer, out bool delivered))
        {
            if (delivered) _duplicates++;
            _log.Warning("Chunk {0} of transfer {1} arrived after the transfer was {2}, ignored",
                chunk.Index, chunk.Transfer, delivered ? "delivered" : "dropped");
            return;
        }
        if (!_transfers.TryGetValue(chunk.Transfer, out var transfer))
        {
            if (Problem(chunk) is { } problem)
            {
                Reject(chunk.Transfer, problem);
                return;
            }
            if (Refusal(chunk, Sender) is { } refusal)
            {
                Close(chunk.Transfer, delivered: false);
                _refused++;
                _log.Warning("Transfer {0} from {1} refused: {2}", chunk.Transfer, Sender.Path.Address, refusal);
                return;
            }
            transfer = new Transfer(chunk, Sender);
            _transfers.Add(chunk.Transfer, transfer);
            Timers.StartSingleTimer(chunk.Transfer, new TransferTimedOut(chunk.Transfer), _options.TransferTimeout);
        }
        else if (!transfer.Matches(chunk))
        {
            Reject(chunk.Transfer, $"chunk {chunk.Index} disagrees with the transfer's header (count, size, recipient or serializer)");
            return;
        }

        if (transfer.Parts[chunk.Index] is not null)
        {
            _duplicates++;
            _log.Warning("Duplicate chunk {0} of transfer {1}, ignored", chunk.Index, chunk.Transfer);
            return;
        }
        transfer.Parts[chunk.Index] = chunk.Part;
        transfer.Received++;
        transfer.Bytes += chunk.Part.Length;
        if (transfer.Bytes > transfer.First.TotalBytes)
        {
            Reject(chunk.Transfer, $"chunks hold more than the announced {transfer.First.TotalBytes} bytes");
            return;
        }
        if (transfer.Received == transfer.Parts.Length) Complete(transfer);
    }

    private string? Problem(MessageChunk c)
    {
        if (c.TotalBytes < 0 || c.TotalBytes > _options.MaxTransferBytes)
            return $"announced size {c.TotalBytes} outside 0..{_options.MaxTransferBytes}";
        if (c.Count < 1 || c.Count > Math.Max(1, c.TotalBytes)) return $"chunk count {c.Count} impossible for {c.TotalBytes} bytes";
        if (c.Index < 0 || c.Index >= c.Count) return $"chunk index {c.Index} outside 0..{c.Count - 1}";
        return null;
    }

    /// <summary>
    /// What a peer may make this node hold and deserialize: only the project's own messages (its serializer and a manifest
    /// that serializer reads, never a type the sender names), weights and gradients no larger than a model can be, and a
    /// bounded number of open transfers per sending node and of announced bytes in all.
    /// </summary>
    private string? Refusal(MessageChunk c, IActorRef sender)
    {
        if (c.SerializerId != Serialization.LstmClusterSerializer.SerializerId || !Serialization.LstmClusterSerializer.KnownManifests.Contains(c.Manifest))
            return $"serializer {c.SerializerId} with manifest '{Bounded(c.Manifest)}' is not one of this program's messages";
        if (Serialization.LstmClusterSerializer.ModelManifests.Contains(c.Manifest) && c.TotalBytes > _options.MaxModelMessageBytes)
            return $"a '{c.Manifest}' message of {c.TotalBytes} bytes is larger than any model's ({_options.MaxModelMessageBytes})";
        long inFlight = _transfers.Values.Sum(t => (long)t.First.TotalBytes);
        if (inFlight + c.TotalBytes > _options.MaxBytesInFlight)
            return $"{inFlight} bytes are in flight; {c.TotalBytes} more would pass the {_options.MaxBytesInFlight}-byte bound";
        var from = sender.Path.Address;
        if (_transfers.Values.Count(t => t.Sender.Path.Address.Equals(from)) >= _options.MaxTransfersPerSender)
            return $"{from} already has {_options.MaxTransfersPerSender} transfers open";
        return null;
    }

    private static string Bounded(string text) => text.Length <= 40 ? text : $"{text[..40]}... ({text.Length} characters)";

    private void Complete(Transfer transfer)
    {
        var first = transfer.First;
        if (transfer.Bytes != first.TotalBytes)
        {
            Reject(first.Transfer, $"chunks hold {transfer.Bytes} bytes, the header announced {first.TotalBytes}");
            return;
        }
        Close(first.Transfer, delivered: true);
        var bytes = new byte[first.TotalBytes];
        int offset = 0;
        foreach (var part in transfer.Parts)
        {
            part!.CopyTo(bytes, offset);
            offset += part.Length;
        }
        object message;
        try
        {
            message = Context.System.Serialization.Deserialize(bytes, first.SerializerId, first.Manifest);
        }
        catch (Exception e)
        {
            _invalid++;
            _log.Error(e, "Transfer {0} ({1} bytes, manifest '{2}') could not be deserialized, dropped", first.Transfer, bytes.Length, first.Manifest);
            return;
        }
        _completed++;
        first.Recipient.Tell(message, transfer.Sender);
        WireTrace.Mark("delivered", first.Manifest, bytes.Length);
    }

    private void OnTimedOut(TransferTimedOut timeout)
    {
        if (!_transfers.TryGetValue(timeout.Transfer, out var transfer)) return;
        Close(timeout.Transfer, delivered: false);
        _timedOut++;
        _log.Warning("Transfer {0} to {1} timed out after {2} with {3} of {4} chunks, dropped",
            timeout.Transfer, transfer.First.Recipient, _options.TransferTimeout, transfer.Received, transfer.Parts.Length);
    }

    private void Reject(Guid id, string reason)
    {
        Close(id, delivered: false);
        Invalid(id, reason);
    }

    private void Invalid(Guid id, string reason)
    {
        _invalid++;
        _log.Error("Transfer {0} rejected: {1}", id, reason);
    }

    private void Close(Guid id, bool delivered)
    {
        _transfers.Remove(id);
        Timers.Cancel(id);
        if (!_closed.TryAdd(id, delivered)) return;
        _closedOrder.Enqueue(id);
        if (_closedOrder.Count > ClosedRemembered) _closed.Remove(_closedOrder.Dequeue());
    }

    private sealed record TransferTimedOut(Guid Transfer);

    private sealed class Transfer(MessageChunk first, IActorRef sender)
    {
        public MessageChunk First { get; } = first;

        public IActorRef Sender { get; } = sender;

        public byte[]?[] Parts { get; } = new byte[]?[first.Count];

        public int Received { get; set; }

        public long Bytes { get; set; }

        public bool Matches(MessageChunk c) =>
            c.Count == First.Count && c.TotalBytes == First.TotalBytes && c.SerializerId == First.SerializerId
            && c.Manifest == First.Manifest && c.Recipient.Equals(First.Recipient) && c.Index >= 0 && c.Index < c.Count;
    }
}
