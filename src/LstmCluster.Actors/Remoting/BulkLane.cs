using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Akka.Actor;
using Akka.Event;
using LstmCluster.Actors.Serialization;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// A node's second way to other nodes, beside Akka.Remote, for the messages a <see cref="ChunkedSender"/> sends: one TCP
/// connection (TLS when the cluster runs TLS) from this node to each peer it trains with, written on the sending actor's
/// own thread and read by one thread per connection that tells the recipient directly.
/// </summary>
/// <remarks>
/// <para>
/// Why (issue #12, Actors README "Performance"): a training round sends the model's weights to every worker and a gradient
/// back. Through Akka.Remote each way is five thread hand-overs (endpoint writer, DotNetty's loop, the socket, the reader's
/// loop and endpoint reader, the recipient's dispatcher) plus the transport's copies, 3–4 ms a round between processes on
/// two cores against the ~0.4 ms loopback needs for 400 KB. Here a message is serialized once by the project's serializer
/// and written to the socket by the sender; the peer's reader thread decodes it and tells the recipient: two hand-overs
/// each way.
/// </para>
/// <para>
/// Only what <see cref="LstmClusterSerializer"/> writes travels here (its id, one of its <see cref="LstmClusterSerializer.KnownManifests"/>,
/// model messages within <see cref="ChunkingOptions.MaxModelMessageBytes"/>), and only to actors under <c>/user</c> (or an ask's <c>/temp</c>) of this
/// node: the same protections as the chunk assembler's. Cluster membership, heartbeats, death watch and everything else
/// stay on Akka.Remote, so a long transfer here never delays a heartbeat.
/// </para>
/// <para>
/// Order: a <see cref="ChunkedSender"/> picks this lane or Akka.Remote for a target at its first message to it and keeps
/// that choice (<see cref="ChunkedSender"/>), so everything one sender sends one target stays in order. Connections are
/// opened when a peer becomes a member (<see cref="BulkLaneConnector"/>), before jobs run on it. A connection that fails
/// while writing is dropped and the message goes through Akka.Remote instead, as does everything later to that target.
/// </para>
/// </remarks>
public sealed class BulkLane : IDisposable
{
    /// <summary>The configuration key that turns a node's lane on (<c>NodeConfig</c>: on) or off.</summary>
    public const string EnabledKey = "lstmcluster.bulk-lane.enabled";

    /// <summary>The configuration key of the lane's port (0: any free port).</summary>
    public const string PortKey = "lstmcluster.bulk-lane.port";

    /// <summary>HOCON that keeps a node's weights and gradients on Akka.Remote (<c>simulate --bulk-lane off</c>, the bench).</summary>
    public const string OffHocon = EnabledKey + " = off";

    private const string Magic = "LSTMLANE1";
    private const int HeaderBytes = 4;

    /// <summary>Inbound connections open at once (each has its reader thread): far above any cluster's peers.</summary>
    private const int MaxInbound = 512;

    private static readonly ConditionalWeakTable<ActorSystem, BulkLane> Running = new();

    private readonly ExtendedActorSystem system;
    private readonly RemoteTls? tls;
    private readonly ChunkingOptions limits;
    private readonly ILoggingAdapter log;
    private readonly TcpListener listener;
    private readonly ConcurrentDictionary<Address, Connection> outbound = new();
    private readonly ConcurrentDictionary<Socket, byte> inbound = new();
    private readonly CancellationTokenSource stopping = new();
    private long framesSent, framesReceived, framesRefused, bytesSent, bytesReceived;

    private BulkLane(ExtendedActorSystem system, string bindHost, int port, RemoteTls? tls)
    {
        this.system = system;
        this.tls = tls;
        limits = ChunkingOptions.From(system.Settings.Config);
        log = Logging.GetLogger(system, typeof(BulkLane));
        listener = new TcpListener(RemoteConfig.BindAddress(bindHost), port);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accept = new Thread(AcceptLoop) { IsBackground = true, Name = "bulk-lane-accept" };
        accept.Start();
    }

    /// <summary>The port this node's lane listens on.</summary>
    public int Port { get; }

    /// <summary>Frames written, read, refused; bytes written and read (for tests and the trace).</summary>
    public (long Sent, long Received, long Refused, long BytesSent, long BytesReceived) Counters =>
        (Interlocked.Read(ref framesSent), Interlocked.Read(ref framesReceived), Interlocked.Read(ref framesRefused),
            Interlocked.Read(ref bytesSent), Interlocked.Read(ref bytesReceived));

    /// <summary>
    /// Starts <paramref name="system"/>'s lane, listening on <paramref name="bindHost"/>:<paramref name="port"/> (0: any
    /// free port), with TLS between nodes when <paramref name="tls"/> is given. Stops with the system.
    /// </summary>
    public static BulkLane Start(ActorSystem system, string bindHost, int port, RemoteTls? tls)
    {
        var lane = new BulkLane((ExtendedActorSystem)system, bindHost, port, tls);
        Running.AddOrUpdate(system, lane);
        system.RegisterOnTermination(lane.Dispose);
        return lane;
    }

    /// <summary>The lane <see cref="Start"/> started for <paramref name="system"/>, or null.</summary>
    public static BulkLane? Of(ActorSystem system) => Running.TryGetValue(system, out var lane) ? lane : null;

    /// <summary>The open connection to the node at <paramref name="node"/>, or null (not connected yet, failed, or no lane there).</summary>
    public Connection? To(Address node) => outbound.TryGetValue(node, out var c) && c.Open ? c : null;

    /// <summary>Connects to the lane of the node at <paramref name="node"/>, listening at <paramref name="host"/>:<paramref name="port"/>; replaces an older connection.</summary>
    public async Task ConnectAsync(Address node, string host, int port)
    {
        // A write blocks while the peer does not read (frozen, gone without a FIN): after 10 s it fails, the connection is
        // dropped and the message goes through Akka.Remote, instead of holding the sending actor's thread.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, SendBufferSize = RemoteConfig.MaximumFrameSize, SendTimeout = 10_000 };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(host, port, timeout.Token);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, chain, errors) => ValidatePeer(certificate, chain, errors, $"{host}:{port}"));
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    ClientCertificates = [tls.Certificate],
                    EnabledSslProtocols = SslProtocols.None,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                }, timeout.Token);
                stream = ssl;
            }
            stream.Write(Encoding.ASCII.GetBytes(Magic));
            stream.Flush();
            var connection = new Connection(this, node, socket, stream);
            if (outbound.TryGetValue(node, out var old)) old.Close();
            outbound[node] = connection;
            log.Info("bulk lane to {0} open ({1}:{2}{3})", node, host, port, tls is null ? "" : ", TLS");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes the connection to <paramref name="node"/> (it left the cluster).</summary>
    public void Disconnect(Address node)
    {
        if (outbound.TryRemove(node, out var c)) c.Close();
    }

    public void Dispose()
    {
        if (stopping.IsCancellationRequested) return;
        stopping.Cancel();
        listener.Stop();
        foreach (var c in outbound.Values) c.Close();
        foreach (var s in inbound.Keys) s.Dispose();
    }

    private bool ValidatePeer(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, string peer)
    {
        if (tls is null) return false;
        return tls.Validate(certificate is null ? null : certificate as X509Certificate2 ?? new X509Certificate2(certificate), chain, peer,
            errors & ~(SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch), log);
    }

    private void AcceptLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = listener.AcceptSocket();
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of descriptors, say: not a loop that spins while it lasts.
                log.Warning("bulk lane: accept failed: {0}", e.Message);
                Thread.Sleep(100);
                continue;
            }
            if (inbound.Count >= MaxInbound)
            {
                // A node has one connection per peer it trains with; this many is someone opening connections to hold threads.
                Refuse(socket.RemoteEndPoint?.ToString() ?? "?", $"{MaxInbound} connections are open already");
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            socket.ReceiveBufferSize = RemoteConfig.MaximumFrameSize;
            inbound[socket] = 0;
            var reader = new Thread(() => Read(socket)) { IsBackground = true, Name = "bulk-lane-read" };
            reader.Start();
        }
    }

    /// <summary>One inbound connection: the handshake (TLS, the magic), then frames until the peer closes or sends a bad one.</summary>
    private void Read(Socket socket)
    {
        string peer = socket.RemoteEndPoint?.ToString() ?? "?";
        var resolved = new Dictionary<string, IActorRef>(StringComparer.Ordinal);
        try
        {
            socket.ReceiveTimeout = 10_000;
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, chain, errors) => ValidatePeer(certificate, chain, errors, peer));
                ssl.AuthenticateAsServer(new SslServerAuthenticationOptions
                {
                    ServerCertificate = tls.Certificate,
                    ClientCertificateRequired = true,
                    EnabledSslProtocols = SslProtocols.None,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                });
                stream = ssl;
            }
            var magic = new byte[Magic.Length];
            stream.ReadExactly(magic);
            if (Encoding.ASCII.GetString(magic) != Magic)
            {
                Refuse(peer, "it did not open with the lane's greeting");
                return;
            }
            // From here a connection may stay idle between jobs for as long as the peer is a member.
            socket.ReceiveTimeout = 0;
            // Small reads (the header's fields) from a buffer; a payload larger than it is read straight into its array.
            var reader = new BufferedStream(stream, 64 * 1024);
            var field = new byte[4];
            while (!stopping.IsCancellationRequested)
            {
                reader.ReadExactly(field);
                int length = BinaryPrimitives.ReadInt32LittleEndian(field);
                if (length <= 0 || length > limits.MaxTransferBytes + RemoteConfig.FrameOverhead)
                {
                    Refuse(peer, $"a frame of {length} bytes");
                    return;
                }
                reader.ReadExactly(field);
                int serializerId = BinaryPrimitives.ReadInt32LittleEndian(field);
                int header = 4;
                string manifest = ReadString(reader, ref header), recipientPath = ReadString(reader, ref header), senderPath = ReadString(reader, ref header);
                int payloadLength = length - header;
                if (payloadLength < 0)
                {
                    Refuse(peer, $"a frame of {length} bytes whose header is longer");
                    return;
                }
                if (Check(serializerId, manifest, payloadLength) is { } problem)
                {
                    Refuse(peer, problem);
                    return;
                }
                // Unzeroed (ReadExactly fills it or throws): a weights or gradient payload is 800 KB at hidden 128, every round.
                var payload = GC.AllocateUninitializedArray<byte>(payloadLength);
                reader.ReadExactly(payload);
                Interlocked.Add(ref bytesReceived, length + HeaderBytes);
                if (Deliver(serializerId, manifest, recipientPath, senderPath, payload, resolved) is { } refused)
                {
                    Refuse(peer, refused);
                    return;
                }
                Interlocked.Increment(ref framesReceived);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
            // The peer closed or went away (or this node is stopping).
            if (!stopping.IsCancellationRequested) log.Debug("bulk lane from {0} closed: {1}", peer, e.Message);
        }
        catch (Exception e)
        {
            // A refused handshake (TLS), a payload the serializer rejects: the connection ends, the node runs on.
            Refuse(peer, $"{e.GetType().Name}: {e.Message}");
        }
        finally
        {
            inbound.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private void Refuse(string peer, string why)
    {
        Interlocked.Increment(ref framesRefused);
        log.Warning("bulk lane: closed the connection from {0}: {1}", peer, why);
    }

    /// <summary>Why a frame's header is refused before its payload is read, or null: the chunk assembler's rules.</summary>
    private string? Check(int serializerId, string manifest, int payloadLength)
    {
        if (serializerId != LstmClusterSerializer.SerializerId || !LstmClusterSerializer.KnownManifests.Contains(manifest))
            return $"a message of serializer {serializerId}, manifest '{manifest}' (only the project's messages travel on the lane)";
        if (LstmClusterSerializer.ModelManifests.Contains(manifest) && payloadLength > limits.MaxModelMessageBytes)
            return $"a '{manifest}' message of {payloadLength} bytes is larger than any model's ({limits.MaxModelMessageBytes})";
        return null;
    }

    /// <summary>Deserializes one frame's payload and tells its recipient; the reason it was refused, or null.</summary>
    private string? Deliver(int serializerId, string manifest, string recipientPath, string senderPath, byte[] payload,
        Dictionary<string, IActorRef> resolved)
    {
        var recipient = Resolve(recipientPath, resolved, local: true);
        if (recipient is null) return $"a recipient that is not an actor under /user or /temp of this node ({recipientPath})";
        var sender = senderPath.Length == 0 ? ActorRefs.NoSender : Resolve(senderPath, resolved, local: false) ?? ActorRefs.NoSender;
        var message = system.Serialization.Deserialize(payload, serializerId, manifest);
        WireTrace.Mark("lane-delivered", manifest, payload.Length);
        recipient.Tell(message, sender);
        return null;
    }

    private IActorRef? Resolve(string path, Dictionary<string, IActorRef> resolved, bool local)
    {
        if (resolved.TryGetValue(path, out var known)) return known;
        if (!ActorPath.TryParse(path, out var parsed)) return null;
        if (local)
        {
            // Only this node's own actors, and only the application's and asks' (/user, /temp), never Akka's (/system).
            bool mine = parsed.Address.HasLocalScope || parsed.Address.Equals(system.Provider.DefaultAddress);
            if (!mine || parsed.Elements.Count < 2 || parsed.Elements[0] is not ("user" or "temp")) return null;
        }
        var actor = system.Provider.ResolveActorRef(path);
        if (actor is null || actor.IsNobody()) return null;
        if (resolved.Count > 1024) resolved.Clear();
        resolved[path] = actor;
        return actor;
    }

    /// <summary>A length-prefixed UTF-8 string; adds the bytes it took to <paramref name="consumed"/>.</summary>
    private static string ReadString(Stream reader, ref int consumed)
    {
        Span<byte> prefix = stackalloc byte[2];
        reader.ReadExactly(prefix);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(prefix);
        consumed += 2 + length;
        if (length == 0) return "";
        var bytes = new byte[length];
        reader.ReadExactly(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>This node's connection to one peer's lane: frames written under a lock, by whichever actor sends.</summary>
    public sealed class Connection
    {
        private readonly BulkLane lane;
        private readonly Socket socket;
        private readonly Stream stream;
        private readonly object gate = new();
        private volatile bool open = true;

        internal Connection(BulkLane lane, Address node, Socket socket, Stream stream)
        {
            this.lane = lane;
            Node = node;
            this.socket = socket;
            this.stream = stream;
        }

        public Address Node { get; }

        public bool Open => open;

        /// <summary>
        /// Serializes <paramref name="message"/> with the project's serializer and writes it for <paramref name="target"/>;
        /// false when it cannot travel here (another serializer) or the connection failed (then it is closed).
        /// </summary>
        public bool TryWrite(IActorRef target, object message, IActorRef? sender)
        {
            if (!open) return false;
            var serializer = lane.system.Serialization.FindSerializerFor(message);
            if (serializer.Identifier != LstmClusterSerializer.SerializerId) return false;
            string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
            var payload = serializer.ToBinary(message);
            if (payload.Length > lane.limits.MaxTransferBytes) throw new OversizedMessageException(message.GetType(), payload.Length, lane.limits.MaxTransferBytes);
            string recipientPath = Akka.Serialization.Serialization.SerializedActorPath(target);
            string senderPath = sender is null || sender.IsNobody() ? "" : Akka.Serialization.Serialization.SerializedActorPath(sender);
            int headLength = HeaderBytes + 4 + 6 + Encoding.UTF8.GetByteCount(manifest) + Encoding.UTF8.GetByteCount(recipientPath) + Encoding.UTF8.GetByteCount(senderPath);
            var head = ArrayPool<byte>.Shared.Rent(headLength);
            try
            {
                var span = head.AsSpan(0, headLength);
                BinaryPrimitives.WriteInt32LittleEndian(span, headLength - HeaderBytes + payload.Length);
                BinaryPrimitives.WriteInt32LittleEndian(span[4..], serializer.Identifier);
                int at = 8;
                WriteString(span, ref at, manifest);
                WriteString(span, ref at, recipientPath);
                WriteString(span, ref at, senderPath);
                lock (gate)
                {
                    if (!open) return false;
                    stream.Write(span);
                    stream.Write(payload);
                    stream.Flush();
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
            {
                lane.log.Warning("bulk lane to {0} failed ({1}); its messages go through Akka.Remote", Node, e.Message);
                Close();
                lane.outbound.TryRemove(new KeyValuePair<Address, Connection>(Node, this));
                return false;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(head);
            }
            Interlocked.Increment(ref lane.framesSent);
            Interlocked.Add(ref lane.bytesSent, headLength + payload.Length);
            WireTrace.Mark("lane-written", manifest, payload.Length);
            return true;
        }

        /// <summary>Closes the socket, not under the writers' lock: a write blocked on it fails at once.</summary>
        internal void Close()
        {
            open = false;
            socket.Dispose();
        }

        private static void WriteString(Span<byte> span, ref int at, string s)
        {
            int n = Encoding.UTF8.GetBytes(s, span[(at + 2)..]);
            if (n > ushort.MaxValue) throw new ArgumentException($"a path or manifest of {n} bytes");
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)n);
            at += 2 + n;
        }
    }
}
