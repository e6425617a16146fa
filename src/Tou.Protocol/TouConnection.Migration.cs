using System.Buffers.Binary;
using System.Net;
using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

// Connection IDs and path changes (docs/protocol.md §5.7): the IDs both sides agreed, the ID-and-tag trailer, packets
// from a new address of the peer, the challenge and response that validate it, and the move to it.
public sealed partial class TouConnection
{
    /// <summary>A path challenge or response: header, option block (length byte and one 8-byte TLV), ID and tag.</summary>
    internal const int PathPacketSize = TouHeader.Size + 1 + ConnectionIdOptions.TlvSize + ConnectionIdOptions.TrailerSize;

    private ulong _peerId;                  // the ID the peer chose: on everything we send; 0 until agreed
    private SocketAddress? _packetSource;   // where the packet being handled came from, when not RemoteAddress
    private SocketAddress? _transmitTo;     // where the datagram just built goes, when not RemoteAddress
    private SocketAddress? _lateAckTo;      // closed and lingering: where the peer, which moved meanwhile, repeats its FIN from
    private SocketAddress? _leftAddress;    // the peer's address before the last move: its queue may still deliver
    private long _leftUntilUs;              // until then a packet from there that acknowledges nothing new is a late one
    private PathValidator? _path;

    /// <summary>The ID this side chose for the peer to put on its packets (0: none); set by the endpoint before the handshake.</summary>
    internal ulong LocalConnectionId { get; set; }

    /// <summary>Whether both sides agreed connection IDs (see <see cref="TouOptions.EnableConnectionIds"/>): the connection
    /// then survives a change of the peer's address, after validating it.</summary>
    public bool ConnectionIdsNegotiated => _peerId != 0;

    /// <summary>Bytes of the trailer after the payload of the packets this connection exchanges after the handshake.</summary>
    internal int TrailerLength => _agreed.Integrity ? Extensions.TrailerSize + IdOverhead : 0;

    private int IdOverhead => _peerId != 0 ? ConnectionIdOptions.IdSize : 0;

    private PathValidator Path => _path ??= new PathValidator(_timers, Stats);

    /// <summary>
    /// The handshake's outcome for IDs: both offered one and the keyed tag is agreed (a packet from a new address is
    /// trusted only when its tag verifies). A server's SYN+ACK then carries its own ID. Runs before the segment size is set.
    /// </summary>
    private void AgreeConnectionIds(ulong peerId)
    {
        bool agreed = peerId != 0 && LocalConnectionId != 0 && _agreed.Integrity && _options.EnableConnectionIds;
        _peerId = agreed ? peerId : 0;
        _agreed.ConnectionId = agreed ? LocalConnectionId : 0;
    }

    /// <summary>The offer of this side's SYN, with its ID when it has one.</summary>
    private ExtensionSet OfferWithId()
    {
        var offer = AgreedOptions.Offer(_options);
        offer.ConnectionId = _options.EnableConnectionIds && offer.Integrity ? LocalConnectionId : 0;
        return offer;
    }

    /// <summary>Appends the trailer of a packet after the handshake: the peer's ID (when agreed) and the keyed tag.</summary>
    private int AppendTag(Span<byte> buffer, int length) => _peerId != 0
        ? ConnectionIdOptions.AppendIdAndTag(buffer, length, _peerId, _sendKey)
        : Extensions.AppendTag(buffer, length, _sendKey);

    /// <summary>Whether a packet's trailer is right: our ID (when agreed) and a tag that verifies.</summary>
    private bool VerifyTag(ReadOnlySpan<byte> datagram, int payloadLength) => _peerId != 0
        ? ConnectionIdOptions.VerifyIdAndTag(datagram, payloadLength, LocalConnectionId, _receiveKey)
        : Extensions.VerifyTag(datagram, payloadLength, _receiveKey);

    /// <summary>Where the peer last sent from, when it moved while this side was lingering after the close (or null).</summary>
    internal SocketAddress? LateAddress => _lateAckTo;

    /// <summary>
    /// A bare RST (header only: what a host that lost the connection sends) is accepted at the exact sequence number only.
    /// With IDs it must also echo the ID the packet it answers carried (ours for the peer): a packet whose ID was damaged on
    /// its way reaches no connection over there and draws an RST, which must not end this one.
    /// </summary>
    private bool IsBareRst(ReadOnlySpan<byte> datagram, in TouHeader header) =>
        (header.Flags & TouFlags.Rst) != 0 && header.PayloadLength == 0 && (_peerId == 0
            ? datagram.Length == TouHeader.Size
            : datagram.Length == TouHeader.Size + ConnectionIdOptions.IdSize && BinaryPrimitives.ReadUInt64BigEndian(datagram[TouHeader.Size..]) == _peerId);

    /// <summary>Where the datagram the last <see cref="PollTransmit"/> built goes: the peer's address, one being validated,
    /// or, lingering after the close, where the peer last repeated its FIN from.</summary>
    internal SocketAddress TakeTransmitDestination()
    {
        var to = _transmitTo ?? (_phase == Phase.TimeWait ? _lateAckTo : null) ?? RemoteAddress;
        _transmitTo = null;
        return to;
    }

    /// <summary>
    /// A datagram with our ID from <paramref name="from"/>, which is not the peer's address: a NAT rebinding, a network
    /// change, or a replay or spoof. It counts only when its tag verifies; it is then processed like any other, and a
    /// packet that is not a late one makes <paramref name="from"/> the address to validate. The connection
    /// stays where it is until the challenge is answered.
    /// </summary>
    internal void HandleDatagramFromPath(long nowUs, SocketAddress from, ReadOnlySpan<byte> datagram)
    {
        // The client may move before its handshake ACK arrived (the server in SYN-RECEIVED): the tag proves it read our
        // SYN+ACK, so that ACK completes the handshake from the new address, which is then validated like any other.
        bool lingering = _phase == Phase.TimeWait;
        bool open = _phase is Phase.Established or Phase.SynReceived && CloseReason == TouCloseReason.None;
        if (_peerId == 0 || !(lingering || open)
            || !TouHeader.TryRead(datagram, out var header) || (header.Flags & (TouFlags.Syn | TouFlags.Rst)) != 0)
        {
            Drop(DropReason.Unexpected); // an RST must come from the validated path: the peer there is the one we trust
            return;
        }

        if (!VerifyTag(datagram, header.PayloadLength))
        {
            Drop(DropReason.Integrity);
            return;
        }

        if (lingering)
        {
            // Closed here: all that is left is to acknowledge the peer's repeated FIN, and that goes where it came from (one
            // ACK per FIN, no larger than it). No validation: the connection has nowhere to move.
            _lateAckTo = SocketAddresses.Copy(from);
            HandleDatagram(nowUs, datagram);
            Notify();
            return;
        }

        // A late packet from a path left behind is processed but does not start a validation: one whose acknowledgement
        // is behind what the peer already acknowledged, or, for a retransmission timeout after the move, one from the
        // address just left that acknowledges nothing new (a peer that only sends never advances its acknowledgement,
        // and the old path's queue drains after the move). A retransmission of old data from any other address does
        // start one: after a NAT rebinding it may be all the peer sends, its ACKs having gone to the old address.
        long acknowledged = SendOffset(new SequenceNumber(header.AcknowledgementNumber));
        bool justLeft = nowUs < _leftUntilUs && from.Equals(_leftAddress);
        bool current = justLeft ? acknowledged > _sndUna + (_finAcked ? 1 : 0) : acknowledged >= _sndUna;
        Path.OnPacket(from, datagram.Length, current, RandomToken());
        _packetSource = from;
        try
        {
            HandleDatagram(nowUs, datagram);
        }
        finally
        {
            _packetSource = null;
        }

        Notify();
    }

    /// <summary>PATH_CHALLENGE and PATH_RESPONSE in a packet's option block (connections with IDs only).</summary>
    private void ReadPathOptions(long nowUs, ReadOnlySpan<byte> options)
    {
        if (_peerId == 0)
        {
            return;
        }

        var source = _packetSource ?? RemoteAddress;
        if (ConnectionIdOptions.TryReadTlv(options, ConnectionIdOptions.TlvPathChallenge, out ulong challenge))
        {
            Path.OnChallenge(source, challenge);
        }

        if (ConnectionIdOptions.TryReadTlv(options, ConnectionIdOptions.TlvPathResponse, out ulong response) && Path.OnResponse(source, response))
        {
            MoveTo(nowUs, source);
        }
    }

    /// <summary>The response this side owes, or the challenge to a candidate address: a pure ACK with the TLV, to that address.</summary>
    private int BuildPathPacket(Span<byte> buffer, long nowUs)
    {
        if (_path is null || !_path.HasPending)
        {
            return 0;
        }

        byte type;
        if (_path.TryTakeResponse(PathPacketSize, out var to, out ulong token))
        {
            type = ConnectionIdOptions.TlvPathResponse;
        }
        else if (_path.TryTakeChallenge(PathPacketSize, nowUs, _rtt.RtoUs, out to, out token))
        {
            type = ConnectionIdOptions.TlvPathChallenge;
        }
        else
        {
            return 0;
        }

        _transmitTo = to.Equals(RemoteAddress) ? null : to;
        var payload = buffer[TouHeader.Size..];
        payload[0] = ConnectionIdOptions.TlvSize;
        ConnectionIdOptions.WriteTlv(payload[1..], type, token);
        return FinishPacket(buffer, TouFlags.Ack | TouFlags.Options, SendSeq(_sndNxt + (_finSent ? 1 : 0)), AckField, 1 + ConnectionIdOptions.TlvSize);
    }

    private void OnPathValidationTimer()
    {
        _path?.OnTimer();
        Notify();
    }

    /// <summary>
    /// The peer proved it receives at <paramref name="address"/>: everything goes there from now on. A new port on the
    /// same IP address is a NAT rebinding, the same network path, so the congestion state stays; a new IP address is a
    /// new path, so the congestion controller and the RTT estimate start afresh (RFC 9000 §9.4).
    /// </summary>
    private void MoveTo(long nowUs, SocketAddress address)
    {
        var old = RemoteAddress;
        bool newHost = !SameHost(old, address);
        RemoteAddress = SocketAddresses.Copy(address);
        _leftAddress = old;
        _leftUntilUs = nowUs + _rtt.RtoUs;
        Stats.PathMigrations++;
        StartOnNewPath(nowUs, newHost);

        // What is in flight went to the address the peer left (its ACKs for anything that arrived came back within
        // the round trip the validation took): resend it now on the new path instead of after a timeout.
        Stats.SegmentsLost += _loss.OnPathChanged();
        Log.PathMigrated(_logger, Id, newHost);
        _host?.OnPathChanged(old);
        Notify();
    }

    /// <summary>
    /// The host moved this connection to a new local socket on purpose (a network change, another interface): a PING
    /// leaves from there at once (data, if any is due, goes first and does as well), so the peer sees the new address
    /// without waiting for a timer and validates it; it moves when its challenge is answered. With
    /// <paramref name="newNetwork"/> (a new local IP address, not only a new port) this side's congestion controller and
    /// RTT estimate start afresh as well, since its packets now take another path.
    /// </summary>
    /// <param name="nowUs">The current time, µs.</param>
    /// <param name="newNetwork">The new socket has another IP address than the old one.</param>
    /// <exception cref="InvalidOperationException">The connection did not agree connection IDs (<see cref="ConnectionIdsNegotiated"/>), so
    /// its peer, which then demultiplexes by address, could not follow it.</exception>
    public void Migrate(long nowUs, bool newNetwork)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_peerId == 0)
        {
            throw new InvalidOperationException("Only a connection that agreed connection IDs (TouOptions.EnableConnectionIds on both sides) can move to another local address.");
        }

        if (_phase != Phase.Established || CloseReason != TouCloseReason.None)
        {
            return;
        }

        Stats.LocalMigrations++;
        StartOnNewPath(nowUs, newNetwork);
        _pingPending = true;
        Notify();
    }

    /// <summary>
    /// Packets take another path from now on. A new network resets what was learnt about the old one (RFC 9000 §9.4);
    /// in any case what waits for a retransmission timeout went the old way, and the timer's backoff measured that
    /// path's silence, so retransmissions start over from now.
    /// </summary>
    private void StartOnNewPath(long nowUs, bool newNetwork)
    {
        if (newNetwork)
        {
            Stats.PathResets++;
            _rtt.Reset();
            _congestion = CongestionControllerFactory.Create(_options.CongestionControl, _sendMss);
            _pacer.Restart(_sendMss);
        }

        _rtt.ResetBackoff();
        if (_timers[TimerKind.Retransmission] != TouTime.Never)
        {
            _timers[TimerKind.Retransmission] = nowUs + _rtt.RtoUs;
        }
    }

    private ulong RandomToken()
    {
        Span<byte> bytes = stackalloc byte[8];
        _options.FillRandom(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    /// <summary>Same family and IP address, whatever the port (bytes 2–3 of an IPv4 or IPv6 socket address).</summary>
    private static bool SameHost(SocketAddress a, SocketAddress b)
    {
        var x = a.Buffer.Span[..a.Size];
        var y = b.Buffer.Span[..b.Size];
        return a.Family == b.Family && x.Length == y.Length && x.Length >= 4 && x[..2].SequenceEqual(y[..2]) && x[4..].SequenceEqual(y[4..]);
    }
}
