using Akka.Actor;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// Sends a message to a remote actor, whole when it fits <see cref="ChunkingOptions.MaxWholeBytes"/> (one frame), else in
/// chunks no larger than <see cref="ChunkingOptions.ChunkBytes"/>. Chunks are <see cref="MessageChunk"/>s sent to the
/// <see cref="ChunkAssembler"/> on the recipient's node, which deserializes the whole and tells the recipient with the
/// original sender. Everything one <see cref="ChunkedSender"/> sends to one target keeps its order: a message sent whole
/// goes straight to the recipient, which would overtake a chunked one still being reassembled, so once a target has
/// been sent chunks, everything later to it takes the assembler's path too (the target is "routed"). Hold one instance
/// per sending actor for that. Local recipients get the message as is. Where the node runs a <see cref="BulkLane"/> and has
/// a connection to the target's node at the first message to that target, everything to the target goes through the lane
/// instead (same order rule: one way per target).
/// </summary>
public sealed class ChunkedSender(ActorSystem system, ChunkingOptions options)
{
    // Targets that have been sent chunks: from then on, all to them goes through their node's assembler (order).
    private readonly HashSet<IActorRef> routed = [];

    // Per target, the node's bulk lane connection chosen at the first message to it (null: Akka.Remote), kept so that
    // everything to one target takes one way and stays in order (BulkLane).
    private readonly Dictionary<IActorRef, BulkLane.Connection?> lanes = [];

    public ChunkedSender(ActorSystem system)
        : this(system, ChunkingOptions.From(system.Settings.Config))
    {
    }

    public ChunkingOptions Options { get; } = options;

    /// <summary>
    /// Sends <paramref name="message"/>; returns the number of remote messages it took: 1 when sent whole (or to a
    /// local recipient), else the number of chunks.
    /// </summary>
    public int Tell(IActorRef target, object message, IActorRef? sender = null)
    {
        sender ??= ActorRefs.NoSender;
        if (target.Path.Address.HasLocalScope)
        {
            target.Tell(message, sender);
            return 1;
        }
        if (Options.Direct && Lane(target) is { } connection)
        {
            if (connection.TryWrite(target, message, sender)) return 1;
            // Not the project's message, or the connection failed: this target goes through Akka.Remote from now on.
            lanes[target] = null;
        }
        if (Options.Direct && !routed.Contains(target))
        {
            // Weights and gradients (every round) are sized from their length, not serialized twice.
            long? size = Serialization.LstmClusterSerializer.ExactSize(message);
            if (size is { } b && b <= Options.MaxWholeBytes)
            {
                target.Tell(message, sender);
                WireTrace.Mark("told", message.GetType().Name, b);
                return 1;
            }
        }
        var (bytes, serializerId, manifest) = Serialize(system, message);
        if (bytes.Length > Options.MaxTransferBytes)
            throw new OversizedMessageException(message.GetType(), bytes.Length, Options.MaxTransferBytes);
        if (Options.Direct && !routed.Contains(target) && bytes.Length <= Options.MaxWholeBytes)
        {
            target.Tell(message, sender);
            WireTrace.Mark("told", message.GetType().Name, bytes.Length);
            return 1;
        }
        if (Options.Direct) routed.Add(target);
        var chunks = Split(bytes, serializerId, manifest, target, Options.ChunkBytes);
        var assembler = system.ActorSelection(target.Path.Root / "user" / ChunkAssembler.Name);
        foreach (var chunk in chunks) assembler.Tell(chunk, sender);
        WireTrace.Mark("told", message.GetType().Name, bytes.Length);
        return chunks.Count;
    }

    /// <summary>The lane connection <paramref name="target"/> was given at its first message, or null for Akka.Remote.</summary>
    private BulkLane.Connection? Lane(IActorRef target)
    {
        if (!lanes.TryGetValue(target, out var connection))
        {
            connection = routed.Contains(target) ? null : BulkLane.Of(system)?.To(target.Path.Address);
            lanes[target] = connection;
        }
        return connection is { Open: true } ? connection : null;
    }

    /// <summary>
    /// Sends <paramref name="message"/> whole, never chunked, after checking that it fits one
    /// frame: an <see cref="OversizedMessageException"/> naming the type and size instead of a
    /// frame the transport would drop.
    /// </summary>
    public void TellWhole(IActorRef target, object message, IActorRef? sender = null)
    {
        if (!target.Path.Address.HasLocalScope) EnsureFitsOneFrame(message);
        target.Tell(message, sender ?? ActorRefs.NoSender);
    }

    /// <summary>Throws <see cref="OversizedMessageException"/> if <paramref name="message"/> serializes larger than one frame carries.</summary>
    public void EnsureFitsOneFrame(object message)
    {
        var (bytes, _, _) = Serialize(system, message);
        if (bytes.Length > Options.MaxWholeBytes) throw new OversizedMessageException(message.GetType(), bytes.Length, Options.MaxWholeBytes);
    }

    /// <summary>Serializes <paramref name="message"/> and cuts it into chunks of at most <paramref name="chunkBytes"/>.</summary>
    public static IReadOnlyList<MessageChunk> Split(ActorSystem system, object message, IActorRef recipient, int chunkBytes)
    {
        var (bytes, serializerId, manifest) = Serialize(system, message);
        return Split(bytes, serializerId, manifest, recipient, chunkBytes);
    }

    private static List<MessageChunk> Split(byte[] bytes, int serializerId, string manifest, IActorRef recipient, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkBytes);
        var transfer = Guid.NewGuid();
        int count = Math.Max(1, (bytes.Length + chunkBytes - 1) / chunkBytes);
        var chunks = new List<MessageChunk>(count);
        for (int i = 0; i < count; i++)
        {
            int start = i * chunkBytes;
            var part = bytes.AsSpan(start, Math.Min(chunkBytes, bytes.Length - start)).ToArray();
            chunks.Add(new MessageChunk(transfer, i, count, bytes.Length, recipient, serializerId, manifest, part));
        }
        return chunks;
    }

    private static (byte[] Bytes, int SerializerId, string Manifest) Serialize(ActorSystem system, object message)
    {
        var serializer = system.Serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        return (bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }
}

public static class ChunkedSenderExtensions
{
    /// <summary>Starts the node's <see cref="ChunkAssembler"/> under its well-known name, with options from the system's config.</summary>
    public static IActorRef StartChunkAssembler(this ActorSystem system) =>
        system.ActorOf(ChunkAssembler.Props(ChunkingOptions.From(system.Settings.Config)), ChunkAssembler.Name);

    /// <summary>
    /// <c>target.TellChunked(message, sender, Context.System)</c>: always through the recipient node's
    /// <see cref="ChunkAssembler"/> (in chunks when large), so that messages sent this way by one sender keep their order
    /// without a <see cref="ChunkedSender"/> held across calls. An actor that sends often holds a
    /// <see cref="ChunkedSender"/> instead, which sends what fits a frame whole. See <see cref="ChunkedSender"/>.
    /// </summary>
    public static int TellChunked(this IActorRef target, object message, IActorRef? sender, ActorSystem system) =>
        new ChunkedSender(system, ChunkingOptions.From(system.Settings.Config) with { Direct = false }).Tell(target, message, sender);
}
