using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Remoting;

/// <summary>The assembler and the chunk serializer in one local system; every chunk crosses the serializer.</summary>
public sealed class ChunkAssemblerTests(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString(ChunkSerializer.Hocon).WithFallback(TestSupport.Config), output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(400);
    private static readonly ChunkingOptions Options = ChunkingOptions.Default with { TransferTimeout = Timeout };

    private static Weights Message(int floats = 1000) => new("job", 7, Enumerable.Range(0, floats).Select(i => i * 0.5f).ToArray());

    private IActorRef Assembler() => Sys.ActorOf(ChunkAssembler.Props(Options));

    private async Task<AssemblerState> State(IActorRef assembler) =>
        await assembler.Ask<AssemblerState>(GetAssemblerState.Instance, TimeSpan.FromSeconds(3));

    [Fact]
    public void A_message_is_cut_into_parts_no_larger_than_the_chunk_size_that_add_up_to_its_serialized_size()
    {
        var chunks = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);
        int total = Sys.Serialization.FindSerializerFor(Message()).ToBinary(Message()).Length;

        Assert.Equal((total + 999) / 1000, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Part.Length is > 0 and <= 1000));
        Assert.Equal(total, chunks.Sum(c => c.Part.Length));
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index));
        Assert.Single(chunks.Select(c => c.Transfer).Distinct());
        Assert.Single(ChunkedSender.Split(Sys, new ReleaseShard("job"), TestActor, chunkBytes: 1000));
    }

    [Fact]
    public void A_chunk_survives_a_round_trip_through_its_serializer()
    {
        var chunk = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000)[2];
        var serializer = Sys.Serialization.FindSerializerFor(chunk);
        Assert.IsType<ChunkSerializer>(serializer);

        var back = Assert.IsType<MessageChunk>(Sys.Serialization.Deserialize(serializer.ToBinary(chunk), serializer.Identifier, "mc"));

        Assert.Equal(chunk with { Part = [] }, back with { Part = [] });
        Assert.Equal(chunk.Part, back.Part);
        Assert.Throws<SerializationException>(() => ((ChunkSerializer)serializer).FromBinary([], "nope"));
    }

    [Fact]
    public async Task Chunks_arriving_in_any_order_are_delivered_once_whole_with_the_original_sender()
    {
        var assembler = Assembler();
        var sender = CreateTestProbe();
        var message = Message(5000);
        var chunks = ChunkedSender.Split(Sys, message, TestActor, chunkBytes: 1000);
        Assert.True(chunks.Count > 10);

        foreach (var chunk in chunks.OrderBy(c => (c.Index * 7919) % chunks.Count)) assembler.Tell(chunk, sender.Ref);

        var received = await ExpectMsgAsync<Weights>();
        Assert.Equal(message.Job, received.Job);
        Assert.Equal(message.Version, received.Version);
        Assert.Equal(message.Values, received.Values);
        Assert.Equal(sender.Ref, LastSender);
        Assert.Equal(new AssemblerState(0, 1, 0, 0, 0), await State(assembler));
    }

    [Fact]
    public async Task A_duplicate_chunk_is_counted_and_the_message_still_arrives_once()
    {
        var assembler = Assembler();
        var chunks = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);

        assembler.Tell(chunks[1]);
        assembler.Tell(chunks[1]);
        foreach (var chunk in chunks.Where(c => c.Index != 1)) assembler.Tell(chunk);
        assembler.Tell(chunks[0]);

        await ExpectMsgAsync<Weights>();
        await ExpectNoMsgAsync(Timeout * 2);
        Assert.Equal(new AssemblerState(0, 1, 0, 0, 2), await State(assembler));
    }

    [Fact]
    public async Task A_transfer_missing_a_chunk_times_out_logged_and_counted_and_delivers_nothing()
    {
        var assembler = Assembler();
        var chunks = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);

        await EventFilter.Warning(contains: "timed out").ExpectOneAsync(TimeSpan.FromSeconds(3), () =>
        {
            foreach (var chunk in chunks.Where(c => c.Index != 2)) assembler.Tell(chunk);
            return Task.CompletedTask;
        });

        assembler.Tell(chunks[2]); // too late: ignored, it does not open a new transfer
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal(new AssemblerState(0, 0, 1, 0, 0), await State(assembler));
    }

    [Fact]
    public async Task A_transfer_that_does_not_deserialize_is_logged_and_counted()
    {
        var assembler = Assembler();
        var chunk = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000)[0];

        await EventFilter.Error(contains: "could not be deserialized").ExpectOneAsync(TimeSpan.FromSeconds(3), () =>
        {
            // A weights message cut short after its job name: the project's serializer, a manifest it reads, bytes it cannot.
            assembler.Tell(chunk with { Index = 0, Count = 1, TotalBytes = 3, Part = [2, (byte)'j', (byte)'b'] });
            return Task.CompletedTask;
        });

        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal(new AssemblerState(0, 0, 0, 1, 0), await State(assembler));
    }

    [Fact]
    public async Task Chunks_that_disagree_with_their_transfer_or_are_out_of_range_reject_it()
    {
        var assembler = Assembler();
        var chunks = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);
        var other = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);
        var third = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);

        await EventFilter.Error(contains: "rejected").ExpectAsync(3, () =>
        {
            assembler.Tell(chunks[0]);
            assembler.Tell(chunks[1] with { TotalBytes = chunks[1].TotalBytes + 1 });
            assembler.Tell(other[0] with { Index = other[0].Count });
            assembler.Tell(third[1] with { TotalBytes = -1 });
            return Task.CompletedTask;
        });
        assembler.Tell(chunks[2]); // the rest of a rejected transfer is ignored, not reopened

        await ExpectNoMsgAsync(Timeout * 2);
        Assert.Equal(new AssemblerState(0, 0, 0, 3, 0), await State(assembler));
    }

    [Fact]
    public async Task A_transfer_of_another_serializer_or_an_unknown_manifest_is_refused_unread_and_counted()
    {
        var assembler = Assembler();
        var chunks = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);
        var other = ChunkedSender.Split(Sys, Message(), TestActor, chunkBytes: 1000);

        await EventFilter.Warning(contains: "is not one of this program's messages").ExpectAsync(2, () =>
        {
            // The sender names the type to build: a foreign serializer (Newtonsoft's JSON, id 1) or a manifest the
            // project's serializer does not read is never deserialized.
            foreach (var c in chunks) assembler.Tell(c with { SerializerId = 1, Manifest = "System.Diagnostics.Process, System" });
            foreach (var c in other) assembler.Tell(c with { Manifest = new string('x', 5000) });
            return Task.CompletedTask;
        });
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal(new AssemblerState(0, 0, 0, 0, 0, Refused: 2), await State(assembler));
    }

    [Fact]
    public async Task A_sender_over_its_open_transfers_or_the_bytes_in_flight_or_an_oversized_gradient_is_refused()
    {
        // Transfers stay open for the whole test (no timeout fires), so the bounds see them.
        var assembler = Sys.ActorOf(ChunkAssembler.Props(Options with
        {
            TransferTimeout = TimeSpan.FromMinutes(5), MaxTransfersPerSender = 2, MaxBytesInFlight = 10_000, MaxModelMessageBytes = 3000,
        }));
        // Transfers left open (their last chunk never sent): two are allowed from one node, a third is refused.
        var open = Enumerable.Range(0, 3).Select(_ => ChunkedSender.Split(Sys, Message(500), TestActor, chunkBytes: 1000)).ToList();
        await EventFilter.Warning(contains: "transfers open").ExpectOneAsync(TimeSpan.FromSeconds(3), () =>
        {
            foreach (var t in open) assembler.Tell(t[0]);
            return Task.CompletedTask;
        });
        Assert.Equal(new AssemblerState(2, 0, 0, 0, 0, Refused: 1), await State(assembler));

        // A gradient larger than any model is refused whatever the sender.
        var big = ChunkedSender.Split(Sys, Message(2000), TestActor, chunkBytes: 1000);
        await EventFilter.Warning(contains: "larger than any model's").ExpectOneAsync(TimeSpan.FromSeconds(3), () =>
        {
            assembler.Tell(big[0]);
            return Task.CompletedTask;
        });

        // Past the bytes-in-flight bound: a data message (not weights) announcing more than is left.
        var shard = ChunkedSender.Split(Sys, new TrainingFailed("job", new string('r', 9000)), TestActor, chunkBytes: 1000);
        await EventFilter.Warning(contains: "bytes are in flight").ExpectOneAsync(TimeSpan.FromSeconds(3), () =>
        {
            assembler.Tell(shard[0]);
            return Task.CompletedTask;
        });
        Assert.Equal(3, (await State(assembler)).Refused);
    }

    [Fact]
    public void Every_message_the_serializer_writes_has_a_manifest_the_assembler_accepts()
    {
        foreach (var row in (System.Collections.IEnumerable)Protocol.SerializerTests.Messages())
        {
            var message = row is object[] values ? values[0] : row;
            var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
            Assert.Contains(serializer.Manifest(message), Serialization.LstmClusterSerializer.KnownManifests);
        }
    }

    [Fact]
    public void Options_come_from_the_remote_settings_and_a_chunk_must_fit_a_frame()
    {
        var options = ChunkingOptions.From(RemoteConfig.Config());

        Assert.Equal(RemoteConfig.ChunkBytes, options.ChunkBytes);
        Assert.Equal(RemoteConfig.MaximumFrameSize - RemoteConfig.FrameOverhead, options.MaxWholeBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), options.TransferTimeout);
        Assert.Equal(RemoteConfig.MaximumFrameSize, RemoteConfig.Config().GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", null));
        Assert.Throws<ArgumentException>(() => (options with { ChunkBytes = options.MaxWholeBytes + 1 }).Validate());
    }
}
