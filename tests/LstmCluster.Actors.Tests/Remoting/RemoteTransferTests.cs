using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Remoting;

/// <summary>
/// Two ActorSystems talking Akka.Remote over loopback (port 0), configured by <see cref="RemoteConfig"/>:
/// <see cref="TestKit.Sys"/> sends, <c>_other</c> receives into a probe.
/// </summary>
public sealed class RemoteTransferTests : TestKit
{
    /// <summary>
    /// Remote death watch with a short fuse, so that starved heartbeats during a transfer would show
    /// up as a <see cref="Terminated"/> within the test instead of after Akka's default 10 s pause.
    /// </summary>
    private const string Hocon = """
        akka.remote.watch-failure-detector {
          heartbeat-interval = 200ms
          acceptable-heartbeat-pause = 5s
          expected-response-after = 200ms
          unreachable-nodes-reaper-interval = 200ms
        }
        """;

    // An upper bound only: CI runs the other test assemblies on the same two cores.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly ActorSystem _other;
    private readonly TestProbe _sink;
    private readonly IActorRef _remoteSink;

    public RemoteTransferTests(ITestOutputHelper output) : base(Configure(), "sender", output)
    {
        _other = ActorSystem.Create("receiver", Configure());
        _other.StartChunkAssembler();
        Sys.StartChunkAssembler();
        _sink = CreateTestProbe(_other);
        var address = ((ExtendedActorSystem)_other).Provider.DefaultAddress;
        Assert.True(address.Port > 0);
        _remoteSink = Sys.ActorSelection(_sink.Ref.Path.ToStringWithAddress(address)).ResolveOne(Wait).GetAwaiter().GetResult();
    }

    private static Config Configure() =>
        ConfigurationFactory.ParseString(TestSupport.SerializeEverything + "\n" + Hocon)
            .WithFallback(RemoteConfig.Config("127.0.0.1", 0))
            .WithFallback(TestSupport.Config);

    protected override void AfterAll()
    {
        Shutdown(_other, Wait, verifySystemShutdown: false);
        base.AfterAll();
    }

    /// <summary>5,000,000 floats (20 MB), value i * 0.5 at index i: exact in float, so every value can be checked.</summary>
    private static Weights Big(int floats = 5_000_000) => new("big", 42, Enumerable.Range(0, floats).Select(i => i * 0.5f).ToArray());

    private static void AssertPattern(int floats, float[] values)
    {
        Assert.Equal(floats, values.Length);
        for (int i = 0; i < values.Length; i++)
            if (values[i] != i * 0.5f) Assert.Fail($"value {i} is {values[i]}, expected {i * 0.5f}");
    }

    [Fact]
    public async Task A_20_MB_vector_arrives_intact_in_chunks_with_its_sender()
    {
        var sender = CreateTestProbe();

        int chunks = _remoteSink.TellChunked(Big(), sender.Ref, Sys);

        Assert.Equal(20, chunks);
        var received = await _sink.ExpectMsgAsync<Weights>(Wait);
        Assert.Equal(("big", 42L), (received.Job, received.Version));
        AssertPattern(5_000_000, received.Values);
        Assert.Equal(sender.Ref.Path.Elements, _sink.LastSender.Path.Elements);
        Assert.Equal(((ExtendedActorSystem)Sys).Provider.DefaultAddress, _sink.LastSender.Path.Address);
        var state = await _other.ActorSelection("/user/" + ChunkAssembler.Name).Ask<AssemblerState>(GetAssemblerState.Instance, Wait);
        Assert.Equal(new AssemblerState(0, 1, 0, 0, 0), state);
    }

    [Fact]
    public async Task Transfers_of_40_MB_leave_the_association_and_death_watch_healthy()
    {
        var lifecycle = CreateTestProbe();
        var otherLifecycle = CreateTestProbe(_other);
        foreach (var (system, probe) in new[] { (Sys, lifecycle), (_other, otherLifecycle) })
        {
            system.EventStream.Subscribe(probe.Ref, typeof(DisassociatedEvent));
            system.EventStream.Subscribe(probe.Ref, typeof(AssociationErrorEvent));
        }
        // The subscription would see a disassociation: the check below can fail.
        var self = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
        Sys.EventStream.Publish(new DisassociatedEvent(self, self, inbound: true));
        await lifecycle.ExpectMsgAsync<DisassociatedEvent>();
        var watcher = CreateTestProbe();
        await watcher.WatchAsync(_remoteSink);

        var small = new ReleaseShard("ping");
        // Generous per-message time: CI runs the other test assemblies on the same two cores.
        for (int round = 0; round < 2; round++)
        {
            _remoteSink.TellChunked(Big(), watcher.Ref, Sys);
            _remoteSink.TellChunked(small, watcher.Ref, Sys);
            await _sink.ExpectMsgAsync<Weights>(TimeSpan.FromSeconds(60));
            await _sink.ExpectMsgAsync<ReleaseShard>(TimeSpan.FromSeconds(60));
        }

        await watcher.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(1500));
        await lifecycle.ExpectNoMsgAsync(TimeSpan.Zero);
        await otherLifecycle.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task An_oversized_unchunked_message_is_an_error_not_a_silent_loss_and_the_association_survives()
    {
        var big = Big(1_500_000); // 6 MB, over the 4 MiB frame

        var refused = Assert.Throws<OversizedMessageException>(() => new ChunkedSender(Sys).TellWhole(_remoteSink, big));
        Assert.Contains(nameof(Weights), refused.Message);
        Assert.Equal(typeof(Weights), refused.MessageType);
        Assert.True(refused.Bytes > RemoteConfig.MaximumFrameSize);

        // A plain Tell past the helper: Akka.Remote drops the frame, and says so at error level.
        await EventFilter.Error(contains: "Discarding oversized payload").ExpectOneAsync(Wait, () =>
        {
            _remoteSink.Tell(big);
            return Task.CompletedTask;
        });
        await _sink.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));

        _remoteSink.TellChunked(big, ActorRefs.NoSender, Sys);
        AssertPattern(1_500_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
    }

    [Fact]
    public async Task Messages_sent_through_the_chunker_keep_their_order_whatever_their_size()
    {
        var sender = CreateTestProbe();
        var model = Big(50_000); // one 2x64 LSTM, 200 KB: over Akka's default frame, one chunk here

        Assert.Equal(1, _remoteSink.TellChunked(new ReleaseShard("first"), sender.Ref, Sys));
        Assert.Equal(3, _remoteSink.TellChunked(Big(600_000), sender.Ref, Sys));
        Assert.Equal(1, _remoteSink.TellChunked(model, sender.Ref, Sys));
        Assert.Equal(1, _remoteSink.TellChunked(new ReleaseShard("last"), sender.Ref, Sys));

        Assert.Equal("first", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
        AssertPattern(600_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
        AssertPattern(50_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
        Assert.Equal("last", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
    }

    [Fact]
    public async Task A_message_that_fits_a_frame_goes_whole_to_its_recipient_past_the_assembler()
    {
        var sender = CreateTestProbe();
        var wire = new ChunkedSender(Sys);
        var model = Big(50_000); // one 2x64 LSTM's weights, 200 KB

        Assert.Equal(1, wire.Tell(_remoteSink, model, sender.Ref));
        Assert.Equal(1, wire.Tell(_remoteSink, new ReleaseShard("small"), sender.Ref));

        AssertPattern(50_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
        Assert.Equal(sender.Ref.Path.Elements, _sink.LastSender.Path.Elements);
        Assert.Equal("small", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
        var state = await _other.ActorSelection("/user/" + ChunkAssembler.Name).Ask<AssemblerState>(GetAssemblerState.Instance, Wait);
        Assert.Equal(new AssemblerState(0, 0, 0, 0, 0), state);
    }

    [Fact]
    public async Task Once_a_target_was_sent_chunks_everything_later_to_it_takes_the_assembler_and_keeps_its_order()
    {
        var sender = CreateTestProbe();
        var wire = new ChunkedSender(Sys);

        Assert.Equal(1, wire.Tell(_remoteSink, new ReleaseShard("first"), sender.Ref));   // whole, straight to the sink
        Assert.Equal(6, wire.Tell(_remoteSink, Big(1_500_000), sender.Ref));               // 6 MB: over a frame, chunked
        Assert.Equal(1, wire.Tell(_remoteSink, Big(50_000), sender.Ref));                  // fits, but must not overtake it
        Assert.Equal(1, wire.Tell(_remoteSink, new ReleaseShard("last"), sender.Ref));

        Assert.Equal("first", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
        AssertPattern(1_500_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
        AssertPattern(50_000, (await _sink.ExpectMsgAsync<Weights>(Wait)).Values);
        Assert.Equal("last", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
        var state = await _other.ActorSelection("/user/" + ChunkAssembler.Name).Ask<AssemblerState>(GetAssemblerState.Instance, Wait);
        Assert.Equal(3, state.Completed);
    }

    [Fact]
    public async Task A_message_sent_whole_under_the_projects_serializer_id_with_an_unknown_manifest_is_never_delivered()
    {
        // A peer that forges the project's serializer id with a manifest of its choosing: the receiving serializer refuses
        // it (SerializationException), Akka drops it, and the association carries on.
        var forgerConfig = ConfigurationFactory.ParseString($$"""
            akka.actor {
              serializers.forged = "{{typeof(ForgingSerializer).AssemblyQualifiedName}}"
              serialization-bindings { "{{typeof(Forged).AssemblyQualifiedName}}" = forged }
            }
            """).WithFallback(ConfigurationFactory.ParseString(RemoteConfig.Hocon("127.0.0.1", 0))).WithFallback(TestSupport.Config);
        var forger = ActorSystem.Create("receiver", forgerConfig);
        try
        {
            var address = ((ExtendedActorSystem)_other).Provider.DefaultAddress;
            var sink = await forger.ActorSelection(_sink.Ref.Path.ToStringWithAddress(address)).ResolveOne(Wait);

            sink.Tell(new Forged());
            new ChunkedSender(forger).Tell(sink, new ReleaseShard("after"));

            Assert.Equal("after", (await _sink.ExpectMsgAsync<ReleaseShard>(Wait)).Job);
            await _sink.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        }
        finally
        {
            await forger.Terminate();
        }
    }

    private sealed record Forged;

    /// <summary>Claims <c>LstmClusterSerializer</c>'s id and writes a manifest that serializer does not read.</summary>
    private sealed class ForgingSerializer(ExtendedActorSystem system) : Akka.Serialization.SerializerWithStringManifest(system)
    {
        public override int Identifier => Serialization.LstmClusterSerializer.SerializerId;

        public override string Manifest(object o) => "System.Diagnostics.Process, System";

        public override byte[] ToBinary(object obj) => [1, 2, 3];

        public override object FromBinary(byte[] bytes, string manifest) => new Forged();
    }
}
