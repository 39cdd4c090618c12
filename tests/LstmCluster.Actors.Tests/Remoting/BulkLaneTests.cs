using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using LstmCluster.Actors.Protocol;
using LstmCluster.Actors.Remoting;
using LstmCluster.Actors.Serialization;
using Xunit.Abstractions;

namespace LstmCluster.Actors.Tests.Remoting;

/// <summary>
/// Two ActorSystems on loopback, each with a <see cref="BulkLane"/>: <see cref="TestKit.Sys"/> sends through a
/// <see cref="ChunkedSender"/>, <c>_other</c> receives into a probe. Which way a message took is read from the lanes' counters.
/// </summary>
public sealed class BulkLaneTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly ActorSystem _other;
    private readonly TestProbe _sink;
    private readonly IActorRef _remoteSink;
    private readonly BulkLane _lane, _otherLane;
    private readonly Address _otherAddress;

    public BulkLaneTests(ITestOutputHelper output) : base(Configure(), "sender", output)
    {
        _other = ActorSystem.Create("receiver", Configure());
        _other.StartChunkAssembler();
        Sys.StartChunkAssembler();
        _lane = BulkLane.Start(Sys, "127.0.0.1", 0, tls: null);
        _otherLane = BulkLane.Start(_other, "127.0.0.1", 0, tls: null);
        _sink = CreateTestProbe(_other);
        _otherAddress = ((ExtendedActorSystem)_other).Provider.DefaultAddress;
        // The lane delivers to application actors (/user) only; a probe lives under /system, so a forwarder stands in front.
        var front = _other.ActorOf(Props.Create(() => new Forwarder(_sink.Ref)), "sink");
        _remoteSink = Sys.ActorSelection(front.Path.ToStringWithAddress(_otherAddress)).ResolveOne(Wait).GetAwaiter().GetResult();
    }

    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    private static Config Configure() =>
        ConfigurationFactory.ParseString(TestSupport.SerializeEverything)
            .WithFallback(RemoteConfig.Config("127.0.0.1", 0))
            .WithFallback(TestSupport.Config);

    protected override void AfterAll()
    {
        Shutdown(_other, Wait, verifySystemShutdown: false);
        base.AfterAll();
    }

    private Task Connect() => _lane.ConnectAsync(_otherAddress, "127.0.0.1", _otherLane.Port);

    private static float[] Pattern(int n) => Enumerable.Range(0, n).Select(i => i * 0.5f).ToArray();

    [Fact]
    public async Task Messages_to_a_connected_node_travel_on_the_lane_whole_in_order_with_their_sender()
    {
        await Connect();
        var sender = CreateTestProbe();
        var wire = new ChunkedSender(Sys);

        // Small, then 20 MB (chunked on Akka.Remote, whole here), then small again.
        wire.Tell(_remoteSink, new Weights("j", 1, Pattern(10)), sender.Ref);
        wire.Tell(_remoteSink, new Gradient("j", 2, 0, Pattern(5_000_000), 64, 0.25), sender.Ref);
        wire.Tell(_remoteSink, new ReleaseShard("j"), sender.Ref);

        Assert.Equal(1, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(sender.Ref.Path.Elements, _sink.LastSender.Path.Elements);
        var big = await _sink.ExpectMsgAsync<Gradient>(Wait);
        Assert.Equal((2L, 64, 0.25), (big.Version, big.Samples, big.Loss));
        Assert.Equal(Pattern(5_000_000), big.Values);
        await _sink.ExpectMsgAsync<ReleaseShard>(Wait);
        // The sink's reply finds the sender on the first system (Akka.Remote: a string is not the project's).
        _sink.LastSender.Tell("thanks");
        await sender.ExpectMsgAsync("thanks", Wait);
        Assert.Equal(3, _otherLane.Counters.Received);
        Assert.Equal(3, _lane.Counters.Sent);
    }

    [Fact]
    public async Task A_target_first_sent_through_Akka_Remote_stays_there_after_the_lane_opens()
    {
        var wire = new ChunkedSender(Sys);
        wire.Tell(_remoteSink, new Weights("j", 1, Pattern(10)), TestActor);
        await Connect();
        for (int v = 2; v <= 5; v++) wire.Tell(_remoteSink, new Weights("j", v, Pattern(10)), TestActor);

        for (int v = 1; v <= 5; v++) Assert.Equal(v, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        // One way per target: mixing would let a lane message overtake one still on Akka.Remote.
        Assert.Equal(0, _otherLane.Counters.Received);

        // A sender that meets the target for the first time now takes the lane.
        new ChunkedSender(Sys).Tell(_remoteSink, new Weights("j", 6, Pattern(10)), TestActor);
        Assert.Equal(6, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(1, _otherLane.Counters.Received);
    }

    [Fact]
    public async Task After_the_connection_closes_later_messages_go_through_Akka_Remote_in_order()
    {
        await Connect();
        var wire = new ChunkedSender(Sys);
        wire.Tell(_remoteSink, new Weights("j", 1, Pattern(10)), TestActor);
        Assert.Equal(1, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);

        _lane.Disconnect(_otherAddress);
        wire.Tell(_remoteSink, new Weights("j", 2, Pattern(10)), TestActor);
        wire.Tell(_remoteSink, new Weights("j", 3, Pattern(10)), TestActor);

        Assert.Equal(2, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(3, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(1, _otherLane.Counters.Received);
    }

    [Fact]
    public async Task Local_recipients_and_messages_of_other_serializers_never_take_the_lane()
    {
        await Connect();
        var wire = new ChunkedSender(Sys);
        var local = CreateTestProbe();
        wire.Tell(local.Ref, new Weights("j", 1, Pattern(10)), TestActor);
        await local.ExpectMsgAsync<Weights>(Wait);
        // A string is Akka's own serializer's: it goes through Akka.Remote, and everything later to that target with it.
        wire.Tell(_remoteSink, "plain", TestActor);
        wire.Tell(_remoteSink, new Weights("j", 2, Pattern(10)), TestActor);
        await _sink.ExpectMsgAsync("plain", Wait);
        Assert.Equal(2, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(0, _lane.Counters.Sent);
    }

    /// <summary>A raw connection to the receiver's lane that sends the greeting and one frame built by hand.</summary>
    private async Task<TcpClient> SendForged(int serializerId, string manifest, string recipient, byte[] payload)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _otherLane.Port);
        byte[] m = Encoding.UTF8.GetBytes(manifest), r = Encoding.UTF8.GetBytes(recipient);
        var head = new byte[4 + 4 + 2 + m.Length + 2 + r.Length + 2];
        BinaryPrimitives.WriteInt32LittleEndian(head, head.Length - 4 + payload.Length);
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(4), serializerId);
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)m.Length);
        m.CopyTo(head, 10);
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(10 + m.Length), (ushort)r.Length);
        r.CopyTo(head, 12 + m.Length);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("LSTMLANE1"));
        await stream.WriteAsync(head);
        await stream.WriteAsync(payload);
        return client;
    }

    /// <summary>Waits until the lane has closed <paramref name="client"/>'s connection (what it does after a bad frame).</summary>
    private static async Task AssertClosed(TcpClient client)
    {
        using (client)
        {
            using var timeout = new CancellationTokenSource(Wait);
            try
            {
                Assert.Equal(0, await client.GetStream().ReadAsync(new byte[1], timeout.Token));
            }
            catch (IOException)
            {
                // Closed with a reset: closed all the same.
            }
        }
    }

    [Fact]
    public async Task Frames_of_another_serializer_an_unknown_manifest_or_for_a_system_actor_are_refused_and_never_delivered()
    {
        string sink = $"{_otherAddress}/user/sink";
        var weights = new LstmClusterSerializer((ExtendedActorSystem)_other).ToBinary(new Weights("j", 7, Pattern(3)));

        await AssertClosed(await SendForged(1, "", sink, Encoding.UTF8.GetBytes("\"x\"")));
        await AssertClosed(await SendForged(LstmClusterSerializer.SerializerId, "nope", sink, weights));
        await AssertClosed(await SendForged(LstmClusterSerializer.SerializerId, "w", $"{_otherAddress}/system/deadLetters", weights));

        Assert.Equal(3, _otherLane.Counters.Refused);
        Assert.Equal(0, _otherLane.Counters.Received);

        // The same frame, well addressed, is delivered: the refusals above were the frames', not the forging's.
        using var good = await SendForged(LstmClusterSerializer.SerializerId, "w", sink, weights);
        Assert.Equal(7, (await _sink.ExpectMsgAsync<Weights>(Wait)).Version);
        Assert.Equal(1, _otherLane.Counters.Received);
    }
}
