namespace Tou.Protocol;

/// <summary>
/// Settings of the protocol engine. Times are <see cref="TimeSpan"/>s here; the engine itself counts
/// in microseconds of the caller's clock (see <see cref="TouTime"/>).
/// </summary>
public sealed class TouOptions
{
    /// <summary>
    /// Largest UDP payload (header, options, data and trailer included) this side accepts — it is announced to the peer
    /// in every header's <c>mss</c> field — and the most path MTU discovery raises the datagrams this side sends to. The
    /// default, 65,507, is the largest UDP payload at all, so discovery is capped only by the path, the local interface
    /// (loopback carries 64 KB) and the peer's own limit. Between 128 and 65,507.
    /// </summary>
    public int MaxDatagramSize { get; set; } = 65_507;

    /// <summary>
    /// The datagram size a connection starts sending with, and falls back to when full-size packets stop getting through
    /// (black-hole detection): the size assumed safe on any path. 1452 fits a 1500-byte IPv6 path. Without path MTU
    /// discovery (off, or not agreed) it is the size a connection keeps. Between 128 and <see cref="MaxDatagramSize"/>;
    /// a plain (seed) peer gets at most 1,024 whatever it is.
    /// </summary>
    public int InitialDatagramSize { get; set; } = 1452;

    /// <summary>
    /// Discover the path's datagram size (DPLPMTUD, RFC 8899): after the handshake, send probes (padding, not data) of
    /// sizes between <see cref="InitialDatagramSize"/> and the smaller of <see cref="MaxDatagramSize"/>, the local
    /// interface's limit and the peer's, and use the largest a peer acknowledges; fall back to the initial size when
    /// full-size packets stop getting through; search again every 10 minutes. Needs <see cref="EnableExtensions"/> and a
    /// peer that answers probes (every Tou.Kestrel peer does, whatever this setting says on its side). This side only: it
    /// decides what this side sends; what it accepts is <see cref="MaxDatagramSize"/>.
    /// </summary>
    public bool EnablePathMtuDiscovery { get; set; } = true;

    /// <summary>Bytes of received data the application has not read yet that a connection will hold;
    /// the advertised window is what is left of it.</summary>
    public int ReceiveBufferSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Bytes written by the application and not yet acknowledged that a connection will hold;
    /// a write beyond it is accepted only in part (backpressure).</summary>
    public int SendBufferSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Offer the negotiated extensions (window scaling, SACK, piggybacked ACKs, pings). When false,
    /// the engine behaves like the seed on the wire.</summary>
    public bool EnableExtensions { get; set; } = true;

    /// <summary>Offer selective acknowledgement (needs <see cref="EnableExtensions"/>).</summary>
    public bool EnableSack { get; set; } = true;

    /// <summary>Offer window scaling so windows can exceed 64 KiB (needs <see cref="EnableExtensions"/>).</summary>
    public bool EnableWindowScaling { get; set; } = true;

    /// <summary>Offer (client) and accept (server) the keyed integrity trailer on every packet (needs
    /// <see cref="EnableExtensions"/>): a damaged packet, or one forged by an attacker who cannot see the
    /// connection, is dropped instead of delivered (docs/security.md). On by default; costs 4 bytes and a
    /// CRC32C plus a short SipHash per packet. It is not encryption: use TLS against on-path attackers.</summary>
    public bool EnableIntegrity { get; set; } = true;

    /// <summary>Retransmission timeout before the first RTT sample (RFC 6298: 1 s).</summary>
    public TimeSpan InitialRto { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Lower bound of the retransmission timeout. RFC 6298 says 1 s; 200 ms is what Linux uses.</summary>
    public TimeSpan MinRto { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Upper bound of the retransmission timeout, also after backoff.</summary>
    public TimeSpan MaxRto { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Consecutive retransmission timeouts without progress after which the connection is given up.</summary>
    public int MaxRetransmissions { get; set; } = 12;

    /// <summary>A handshake that has not completed after this long fails.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection that hears nothing from its peer for this long is closed (0 disables).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Interval of keepalive probes on an idle connection (0 disables); keep it well under
    /// <see cref="IdleTimeout"/> so that a live peer never times out.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a connection the application has closed (<see cref="TouConnection.Close"/>) keeps delivering its
    /// data and FIN without making progress before it is given up and reset. The clock restarts whenever the peer
    /// acknowledges something, so a slow but moving close is never cut short; the retransmission limit still applies.
    /// </summary>
    public TimeSpan LingerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest time an acknowledgement of in-order data is held back hoping to acknowledge several
    /// segments at once or to ride on data (extension mode only; plain peers get an ACK per packet). An ACK that
    /// waited for this timer tells the sender how long it waited, so its RTT samples stay honest.</summary>
    public TimeSpan DelayedAckTimeout { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Full-size in-order data segments acknowledged by one ACK at most, counted in bytes as TCP does (smaller segments
    /// count for their size, so a request's or response's small pieces wait to ride on data; extension mode; plain
    /// peers get an ACK per packet).
    /// An ACK also goes out once a quarter of <see cref="ReceiveBufferSize"/> is unacknowledged, at once on a hole,
    /// reordering, a duplicate, a FIN or a PING (a sender about to block on its windows asks with one), and after
    /// <see cref="DelayedAckTimeout"/> at the latest. Fewer ACKs cost fewer system calls on both sides; the sender
    /// grows its window by bytes acknowledged, so it does not slow down. 2 is classic TCP. Between 1 and 64.
    /// </summary>
    public int SegmentsPerAck { get; set; } = 10;

    /// <summary>The congestion controller every new connection uses: BBR (the default: holds its rate under random loss and
    /// keeps queues short), CUBIC or NewReno (see docs/protocol.md §7 and docs/performance.md for the sweep behind the
    /// choice). Only these built-in controllers can be chosen.</summary>
    public CongestionControlAlgorithm CongestionControl { get; set; } = CongestionControlAlgorithm.Bbr;

    /// <summary>Spread a window's worth of packets over a round trip instead of sending it in one burst.</summary>
    public bool EnablePacing { get; set; } = true;

    /// <summary>Most connections (established or handshaking) an endpoint holds at once; SYNs beyond it are refused.</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Most incoming handshakes an endpoint keeps state for at once. Beyond it SYNs are answered
    /// statelessly with SYN cookies (no memory until the client's ACK proves its address); 0 makes every
    /// handshake stateless.</summary>
    public int MaxPendingHandshakes { get; set; } = 1_024;

    /// <summary>Most accepted connections waiting for <see cref="TouEndpoint.Accept"/>; beyond it new SYNs are refused.</summary>
    public int AcceptBacklog { get; set; } = 512;

    /// <summary>
    /// The endpoint's secret key (exactly 32 bytes), from which its SYN cookies and every connection's integrity keys
    /// are derived. Null (the default) draws a fresh one per endpoint from <see cref="RandomSource"/>. Endpoints that
    /// share one port (a listener's SO_REUSEPORT shards) are given the same secret so that a cookie one of them issued
    /// validates on any other; otherwise leave it null: whoever knows it can forge cookies and integrity tags.
    /// </summary>
    public byte[]? EndpointSecret { get; set; }

    /// <summary>
    /// Offer connection IDs (docs/protocol.md §5.7): each side picks the 8-byte ID its peer puts on every packet to it, so
    /// a connection survives a change of the peer's address or port (NAT rebinding, a network change) after the new path
    /// answers a challenge. Used only when both sides offer it and the integrity tag is agreed; costs 8 bytes per packet.
    /// Off by default. Needs <see cref="EnableExtensions"/> and <see cref="EnableIntegrity"/>.
    /// </summary>
    public bool EnableConnectionIds { get; set; }

    /// <summary>This server's ID, encoded in the connection IDs it chooses so a load balancer can route by them without
    /// state (QUIC-LB style); it must fit in <see cref="ConnectionIdServerIdLength"/> bytes.</summary>
    public int ConnectionIdServerId { get; set; }

    /// <summary>Bytes of <see cref="ConnectionIdServerId"/> in each connection ID, 0 to 3 (0: no server ID; the listener
    /// shard is always encoded).</summary>
    public int ConnectionIdServerIdLength { get; set; }

    /// <summary>
    /// An AES key (16, 24 or 32 bytes) that hides the server ID and shard in connection IDs from everyone but holders of
    /// the key (the load balancer); null (the default) leaves them readable.
    /// </summary>
    public byte[]? ConnectionIdKey { get; set; }

    /// <summary>Checks every setting and throws an <see cref="ArgumentOutOfRangeException"/> naming the first that is wrong.</summary>
    public void Validate()
    {
        Require(MaxDatagramSize is >= 128 and <= 65_507, nameof(MaxDatagramSize), "must be between 128 and 65,507 bytes");
        Require(InitialDatagramSize is >= 128 and <= 65_507, nameof(InitialDatagramSize), "must be between 128 and 65,507 bytes");
        Require(InitialDatagramSize <= MaxDatagramSize, nameof(InitialDatagramSize), $"({InitialDatagramSize}) must not exceed TouOptions.MaxDatagramSize ({MaxDatagramSize}): lower it as well, or raise MaxDatagramSize");
        Require(ReceiveBufferSize is >= 4096 and <= 1 << 30, nameof(ReceiveBufferSize), "must be between 4 KiB and 1 GiB");
        Require(SendBufferSize is >= 4096 and <= 1 << 30, nameof(SendBufferSize), "must be between 4 KiB and 1 GiB");
        Require(InitialRto > TimeSpan.Zero, nameof(InitialRto), "must be positive");
        Require(MinRto > TimeSpan.Zero && MinRto <= MaxRto, nameof(MinRto), "must be positive and at most MaxRto");
        Require(MaxRetransmissions is >= 1 and <= 100, nameof(MaxRetransmissions), "must be between 1 and 100");
        Require(HandshakeTimeout > TimeSpan.Zero, nameof(HandshakeTimeout), "must be positive");
        Require(IdleTimeout >= TimeSpan.Zero, nameof(IdleTimeout), "must not be negative (0 disables it)");
        Require(LingerTimeout > TimeSpan.Zero, nameof(LingerTimeout), "must be positive");
        Require(KeepAliveInterval >= TimeSpan.Zero, nameof(KeepAliveInterval), "must not be negative (0 disables it)");
        Require(SegmentsPerAck is >= 1 and <= 64, nameof(SegmentsPerAck), "must be between 1 and 64");
        Require(DelayedAckTimeout >= TimeSpan.Zero && DelayedAckTimeout <= TimeSpan.FromMilliseconds(500), nameof(DelayedAckTimeout), "must be between 0 and 500 ms");
        Require(MaxConnections >= 1, nameof(MaxConnections), "must be at least 1");
        Require(MaxPendingHandshakes >= 0, nameof(MaxPendingHandshakes), "must not be negative (0 makes every handshake stateless)");
        Require(AcceptBacklog >= 1, nameof(AcceptBacklog), "must be at least 1");
        Require(EndpointSecret is null || EndpointSecret.Length == SynCookies.KeySize, nameof(EndpointSecret), "must be null or exactly 32 bytes");
        ValidateConnectionIds();
        Require(Enum.IsDefined(CongestionControl), nameof(CongestionControl), "is not a known algorithm");
    }

    private void ValidateConnectionIds()
    {
        Require(!EnableConnectionIds || (EnableExtensions && EnableIntegrity), nameof(EnableConnectionIds),
            "needs EnableExtensions and EnableIntegrity: a packet from a new address is trusted only when its keyed tag verifies");
        Require(ConnectionIdServerIdLength is >= 0 and <= 3, nameof(ConnectionIdServerIdLength), "must be between 0 and 3 bytes");
        Require(ConnectionIdServerId >= 0 && (long)ConnectionIdServerId < 1L << (8 * ConnectionIdServerIdLength), nameof(ConnectionIdServerId),
            $"({ConnectionIdServerId}) must be non-negative and fit in ConnectionIdServerIdLength ({ConnectionIdServerIdLength}) bytes");
        Require(ConnectionIdKey is null || ConnectionIdKey.Length is 16 or 24 or 32, nameof(ConnectionIdKey), "must be null or an AES key of 16, 24 or 32 bytes");
    }

    private static void Require(bool condition, string name, string rule)
    {
        if (!condition)
        {
            throw new ArgumentOutOfRangeException(name, $"TouOptions.{name} {rule}.");
        }
    }

    /// <summary>A copy of these settings that can be changed without affecting this instance (a shallow copy:
    /// <see cref="RandomSource"/>, a delegate, is shared).</summary>
    public TouOptions Clone() => (TouOptions)MemberwiseClone();

    /// <summary>
    /// Where the engine's randomness comes from — initial sequence numbers and each endpoint's secret key (SYN cookies,
    /// integrity keys): a callback that fills a buffer with random bytes. Null (the default) uses the cryptographic
    /// RNG. Set it only to make a simulation reproducible end to end: predictable numbers and keys hand a blind
    /// attacker the connection.
    /// </summary>
    public Action<Span<byte>>? RandomSource { get; set; }

    /// <summary>
    /// Connection traces, off (null) by default: when set, each new connection calls it once and, if it returns a stream,
    /// writes a qlog trace in JSON-SEQ form there (packets sent and received, ACK/SACK ranges, losses, retransmissions, RTT,
    /// congestion window, pacing rate, state changes; see docs/tracing.md), disposing the stream when the connection is
    /// released. It is called, and the stream written, on the thread driving the endpoint: a file stream with its own buffer
    /// is the intended use. Off, it costs a null check at each event.
    /// </summary>
    public Func<TouConnection, Stream?>? ConnectionTrace { get; set; }

    /// <summary>Test hook: fixed initial sequence numbers (overrides <see cref="RandomSource"/> for them).</summary>
    internal Func<uint>? IsnGenerator { get; set; }

    /// <summary>Fills <paramref name="destination"/> from <see cref="RandomSource"/> or the cryptographic RNG.</summary>
    internal void FillRandom(Span<byte> destination)
    {
        if (RandomSource is { } source)
        {
            source(destination);
        }
        else
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(destination);
        }
    }
}
