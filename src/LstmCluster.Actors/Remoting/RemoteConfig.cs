using Akka.Configuration;
using LstmCluster.Actors.Serialization;

namespace LstmCluster.Actors.Remoting;

/// <summary>
/// Akka.Remote configuration for LstmCluster nodes (named apart from Akka's own <c>Akka.Remote.RemoteSettings</c>): the transport's frame and socket buffer sizes,
/// chunking, and the project's serializers.
/// </summary>
public static class RemoteConfig
{
    /// <summary>
    /// Largest frame the DotNetty transport sends or accepts. Akka's default (128,000 bytes) is
    /// smaller than one 2×64 LSTM's parameters (about 200 KB), and a larger message is dropped
    /// with only an error log. 4 MiB lets every message below <see cref="ChunkBytes"/> go whole
    /// with room to spare (windows, setups), while anything bigger is chunked so a single frame
    /// never holds the connection, which also carries heartbeats, for long.
    /// </summary>
    public const int MaximumFrameSize = 4 * 1024 * 1024;

    /// <summary>Messages serialized larger than this are split by <see cref="ChunkedSender"/> into parts of this size.</summary>
    public const int ChunkBytes = 1024 * 1024;

    /// <summary>
    /// Space kept in a frame for what Akka adds around a payload (recipient and sender paths,
    /// serializer id, manifest); <see cref="ChunkedSender.TellWhole"/> refuses payloads above
    /// <see cref="MaximumFrameSize"/> minus this.
    /// </summary>
    public const int FrameOverhead = 64 * 1024;

    /// <summary>
    /// The remoting HOCON: transport on <paramref name="hostname"/>:<paramref name="port"/>
    /// (0 = any free port), frame and buffer sizes, chunking defaults, and both serializers.
    /// <paramref name="provider"/> is "remote" here; a cluster node passes "cluster".
    /// </summary>
    public static string Hocon(string hostname = "127.0.0.1", int port = 0, string provider = "remote", string? publicHostname = null) => $$"""
        akka.actor.provider = {{provider}}
        akka.remote.dot-netty.tcp {
          hostname = "{{hostname}}"
          port = {{port}}
          {{(publicHostname is null ? "" : $"public-hostname = \"{publicHostname}\"")}}
          # See RemoteConfig.MaximumFrameSize: the default 128000b drops one model's weights.
          maximum-frame-size = {{MaximumFrameSize}}b
          # Akka asks that the socket buffers hold a whole frame of the maximum size.
          send-buffer-size = {{MaximumFrameSize}}b
          receive-buffer-size = {{MaximumFrameSize}}b
        }
        {{ChunkingHocon}}
        """;

    /// <summary>
    /// How large messages are split (<see cref="ChunkingOptions"/>): the part of <see cref="Hocon"/> that is not the transport's,
    /// which a node wired through Akka.Hosting's <c>WithRemoting</c> takes on its own.
    /// </summary>
    public static string ChunkingHocon { get; } = $$"""
        lstmcluster.chunking {
          # on: a message that fits one frame goes straight to its recipient (one serialization, no hop through the
          # assembler; see the Actors README, "Performance"); off: everything through the assembler, as before.
          direct = on
          chunk-size = {{ChunkBytes}}b
          # An incomplete transfer is dropped (counted, logged) after this long without its last chunk.
          transfer-timeout = 30s
          # Refuse to reassemble anything larger (a bad header must not allocate gigabytes).
          max-transfer-size = 512MiB
        }
        """;

    /// <summary>
    /// The address a listener on <paramref name="host"/> binds: any for <c>0.0.0.0</c>, <c>*</c> or empty, IPv6's any for
    /// <c>::</c>, the address itself, or a name's first address (any when it has none).
    /// </summary>
    public static System.Net.IPAddress BindAddress(string host) =>
        host is "0.0.0.0" or "*" or "" ? System.Net.IPAddress.Any
        : host == "::" ? System.Net.IPAddress.IPv6Any
        : System.Net.IPAddress.TryParse(host, out var ip) ? ip
        : System.Net.Dns.GetHostAddresses(host).FirstOrDefault() ?? System.Net.IPAddress.Any;

    /// <summary>
    /// <see cref="Hocon"/> with the project's serializers bound and Akka's JSON fallback restricted to known types
    /// (<see cref="AllowListJsonSerializer"/>: a peer must not name any .NET type for the node to build), as a <see cref="Config"/>.
    /// </summary>
    public static Config Config(string hostname = "127.0.0.1", int port = 0, string provider = "remote", string? publicHostname = null) =>
        ConfigurationFactory.ParseString(Hocon(hostname, port, provider, publicHostname))
            .WithFallback(ConfigurationFactory.ParseString(ChunkSerializer.Hocon))
            .WithFallback(ConfigurationFactory.ParseString(LstmClusterSerializer.Hocon))
            .WithFallback(ConfigurationFactory.ParseString(AllowListJsonSerializer.Hocon));
}

/// <summary>Chunking figures, read from <c>lstmcluster.chunking</c> and the transport's frame size.</summary>
public sealed record ChunkingOptions(int ChunkBytes, int MaxWholeBytes, TimeSpan TransferTimeout, int MaxTransferBytes)
{
    /// <summary>
    /// A message that fits <see cref="MaxWholeBytes"/> is told to its recipient whole instead of going through the
    /// assembler (<c>lstmcluster.chunking.direct</c>). Its protections are then the transport's and the serializer's:
    /// the frame size caps it, <c>LstmClusterSerializer</c> refuses an unknown manifest.
    /// </summary>
    public bool Direct { get; init; } = true;

    /// <summary>Transfers one sending node may have open at once: a peer cannot make the assembler hold unbounded partial messages.</summary>
    public int MaxTransfersPerSender { get; init; } = 32;

    /// <summary>Announced bytes of every open transfer together (memory the assembler may come to hold).</summary>
    public long MaxBytesInFlight { get; init; } = 1L << 30;

    /// <summary>
    /// Largest weights or gradient message (<c>w</c>, <c>g</c>, <c>lr</c>, <c>lw</c>): 64 M parameters, far above any model a
    /// job's budget allows; data-carrying messages (shards, job submissions, files) are bounded by <see cref="MaxTransferBytes"/>.
    /// </summary>
    public int MaxModelMessageBytes { get; init; } = 256 * 1024 * 1024;

    public static ChunkingOptions Default { get; } = new(
        RemoteConfig.ChunkBytes,
        RemoteConfig.MaximumFrameSize - RemoteConfig.FrameOverhead,
        TimeSpan.FromSeconds(30),
        512 * 1024 * 1024);

    /// <summary>Reads the options from a system's config; missing keys keep <see cref="Default"/>.</summary>
    public static ChunkingOptions From(Config config)
    {
        long frame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", null) ?? RemoteConfig.MaximumFrameSize;
        var options = new ChunkingOptions(
            (int)(config.GetByteSize("lstmcluster.chunking.chunk-size", null) ?? Default.ChunkBytes),
            (int)Math.Max(0, frame - RemoteConfig.FrameOverhead),
            config.GetTimeSpan("lstmcluster.chunking.transfer-timeout", Default.TransferTimeout),
            (int)Math.Min(int.MaxValue, config.GetByteSize("lstmcluster.chunking.max-transfer-size", null) ?? Default.MaxTransferBytes))
        {
            Direct = config.GetBoolean("lstmcluster.chunking.direct", Default.Direct),
        };
        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (ChunkBytes <= 0) throw new ArgumentException($"chunk size must be positive (got {ChunkBytes})");
        if (ChunkBytes > MaxWholeBytes)
            throw new ArgumentException($"chunk size {ChunkBytes} does not fit a frame ({MaxWholeBytes} bytes after overhead); raise maximum-frame-size");
        if (TransferTimeout <= TimeSpan.Zero) throw new ArgumentException($"transfer timeout must be positive (got {TransferTimeout})");
    }
}
