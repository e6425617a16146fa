using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tou.Protocol.Buffers;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>
/// The per-endpoint part of the engine (one per UDP socket): it demultiplexes datagrams by remote address
/// into connections, answers SYNs when listening, keeps one timer queue for all its connections and
/// schedules their transmissions fairly. Sans-IO and single-owner: the caller feeds it datagrams and the
/// time, and drains <see cref="PollTransmit"/> after every call until it returns 0.
/// </summary>
/// <remarks>Every <c>nowUs</c> argument and every deadline is in microseconds of the caller's monotonic clock
/// (<see cref="TouTime"/>).</remarks>
public sealed partial class TouEndpoint : IDisposable
{
    private const int MaxQueuedControlPackets = 64;
    private const int MaxRecentlyClosed = 4096;
    private static readonly long RecentlyClosedLifetimeUs = TouTime.FromTimeSpan(TimeSpan.FromSeconds(60));

    private readonly TouOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<SocketAddress, ConnectionEntry> _connections = new();
    private readonly Queue<TouConnection> _acceptQueue = new();
    private readonly Queue<ConnectionEntry> _transmitQueue = new();
    private readonly Queue<ConnectionEntry> _eventQueue = new();
    private readonly TimerHeap _timers = new();
    private readonly Queue<ControlPacket> _controlPackets = new();
    private readonly SynCookies _cookies;
    private readonly RecentlyClosedTable _recentlyClosed = new(MaxRecentlyClosed);
    private readonly ChunkPool _chunkPool = new(maxRetained: 1024); // up to 16 MiB of free chunks kept for reuse
    private int _pendingHandshakes;
    private bool _disposed;

    /// <summary>Creates an endpoint, neither listening nor connected yet.</summary>
    /// <param name="options">Settings for the endpoint and every connection it makes; copied and validated here, so
    /// later changes to the instance have no effect. Null uses the defaults.</param>
    /// <param name="logger">Where the engine logs (category <c>Tou.Protocol</c> in the UDP host); null logs nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (see <see cref="TouOptions.Validate"/>).</exception>
    public TouEndpoint(TouOptions? options = null, ILogger? logger = null)
    {
        _options = (options ?? new TouOptions()).Clone();
        _options.Validate();
        _cookies = SynCookies.For(_options);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Whether incoming SYNs create connections.</summary>
    public bool IsListening { get; set; }

    /// <summary>The UDP port written into headers as the source port (informational on the wire).</summary>
    public ushort LocalPort { get; set; }

    /// <summary>The endpoint's counters (per-connection ones are on <see cref="TouConnection.Stats"/>).</summary>
    public TouEndpointStats Stats { get; } = new();

    /// <summary>Called with every RTT sample (µs) of any connection, for metrics. Runs on the engine's owner.</summary>
    public Action<long>? RttSampled { get; set; }

    /// <summary>Called for every retransmitted segment of any connection, for metrics.</summary>
    public Action? Retransmitted { get; set; }

    internal void OnRetransmission()
    {
        Stats.Retransmissions++;
        Retransmitted?.Invoke();
    }

    /// <summary>Aborts every connection (each sends RST on the next <see cref="PollTransmit"/>).</summary>
    public void AbortAll()
    {
        foreach (var entry in _connections.Values)
        {
            entry.Connection.Abort();
        }
    }

    /// <summary>
    /// The host is shutting down: stop listening and abort the connections the application still holds, while
    /// those it has closed (<see cref="TouConnection.Close"/>) go on delivering their data and FIN, as a TCP
    /// kernel does after the process closed its sockets. Keep driving the endpoint until <see cref="IsDrained"/>.
    /// </summary>
    public void Shutdown()
    {
        IsListening = false;
        foreach (var entry in _connections.Values)
        {
            if (!entry.Connection.IsClosedByApplication)
            {
                entry.Connection.Abort();
            }
        }
    }

    /// <summary>True when no connection is open any more (lingering ones included); closed ones may still re-acknowledge a late FIN.</summary>
    public bool IsDrained => AllConnections(static c => c.CloseReason != TouCloseReason.None);

    /// <summary>
    /// True when nothing written here is undelivered: every open connection has had all its data and its FIN
    /// acknowledged and at most waits for the peer's FIN. A host that must exit can stop here and lose nothing.
    /// </summary>
    public bool IsDelivered => AllConnections(static c => c.CloseReason != TouCloseReason.None || c.IsWriteCompleted);

    private bool AllConnections(Func<TouConnection, bool> predicate)
    {
        foreach (var entry in _connections.Values)
        {
            if (!predicate(entry.Connection))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The connection with <paramref name="remote"/>, or null.</summary>
    public TouConnection? FindConnection(SocketAddress remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return _connections.GetValueOrDefault(remote)?.Connection;
    }

    /// <summary>Connections held now (handshaking, established or lingering after close).</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Incoming handshakes the endpoint keeps state for now (at most <see cref="TouOptions.MaxPendingHandshakes"/>;
    /// SYNs beyond it get stateless SYN cookies).</summary>
    public int PendingHandshakes => _pendingHandshakes;

    /// <summary>The earliest time <see cref="HandleTimeouts"/> must be called, or <see cref="TouTime.Never"/>.</summary>
    public long NextDeadline => _timers.TryPeek(out _, out long deadline) ? deadline : TouTime.Never;

    /// <summary>Opens a connection to <paramref name="remote"/>; the handshake starts with the next <see cref="PollTransmit"/>.</summary>
    /// <exception cref="InvalidOperationException">A live connection to that address exists already.</exception>
    public TouConnection Connect(long nowUs, SocketAddress remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connections.TryGetValue(remote, out var existing))
        {
            if (existing.Connection.State != TouConnectionState.Closed)
            {
                throw new InvalidOperationException($"This endpoint already has a connection to {remote}; TOU demultiplexes by remote address, so use another local endpoint.");
            }

            Remove(existing);
        }

        if (_connections.Count >= _options.MaxConnections)
        {
            throw new InvalidOperationException($"This endpoint holds TouOptions.MaxConnections ({_options.MaxConnections}) connections already.");
        }

        var entry = Add(remote, isClient: true, nowUs);
        if (_options.EnableConnectionIds)
        {
            AssignConnectionId(entry);
        }

        entry.Connection.StartConnect(nowUs);
        Stats.ConnectionsConnected++;
        OnTransmitReady(entry);
        return entry.Connection;
    }

    /// <summary>The next incoming connection whose handshake completed, or null.</summary>
    public TouConnection? Accept() => _acceptQueue.TryDequeue(out var c) ? c : null;

    /// <summary>The next connection with events to deliver (see <see cref="TouConnection.TakeEvents"/>), or null.</summary>
    public TouConnection? PollEvents()
    {
        if (_eventQueue.TryDequeue(out var entry))
        {
            entry.InEventQueue = false;
            return entry.Connection;
        }

        return null;
    }

    /// <summary>Handles one datagram received from <paramref name="remote"/>. Never throws for bad input: it is dropped and counted.</summary>
    public void HandleDatagram(long nowUs, SocketAddress remote, ReadOnlySpan<byte> datagram)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (_disposed)
        {
            return;
        }

        Stats.DatagramsReceived++;
        if ((_byId.Count > 0 || _closedIds.Count > 0) && TryRouteById(nowUs, remote, datagram))
        {
            return;
        }

        if (_connections.TryGetValue(remote, out var entry))
        {
            if (IsFreshSyn(datagram, entry.Connection))
            {
                entry.Connection.Abort();
                Remove(entry); // a new connection from an address whose old one is over or abandoned
            }
            else
            {
                entry.Connection.HandleDatagram(nowUs, datagram);
                AfterActivity(entry);
                return;
            }
        }

        if (!TouHeader.TryRead(datagram, out var header) || (header.Flags & ~TouFlags.KnownMask) != 0)
        {
            Stats.DroppedMalformed++;
            Log.EndpointDropped(_logger, remote, DropReason.Malformed);
            return;
        }

        if (header.Flags == TouFlags.Syn)
        {
            // A SYN's trailer is a CRC32C; if it does not match, the SYN was damaged and answering it would act on garbage.
            if (datagram.Length > TouHeader.Size + header.PayloadLength && !Extensions.VerifyCrc(datagram, header.PayloadLength))
            {
                Stats.DroppedIntegrity++;
                Log.EndpointDropped(_logger, remote, DropReason.Integrity);
                return;
            }

            _recentlyClosed.Remove(remote);
            HandleSyn(nowUs, remote, header, datagram);
            return;
        }

        if (_recentlyClosed.TryGet(remote, nowUs, out var closed))
        {
            AnswerLatePacket(remote, header, datagram, closed);
            return;
        }

        if ((IsListening && TryAcceptCookie(nowUs, remote, header, datagram)) || TryForwardToShard(remote, header, datagram))
        {
            return;
        }

        // Not ours: answer with RST (never an RST to an RST) so a peer that lost its state learns quickly.
        Stats.DroppedUnknownConnection++;
        Log.EndpointDropped(_logger, remote, DropReason.UnknownConnection);
        if ((header.Flags & TouFlags.Rst) == 0)
        {
            QueueReset(remote, header, datagram);
        }
    }

    /// <summary>
    /// A SYN that starts over from an address whose server-side connection is over, or still half-open with
    /// another initial sequence number (the client restarted, e.g. a reused port), replaces that connection.
    /// </summary>
    private static bool IsFreshSyn(ReadOnlySpan<byte> datagram, TouConnection old) =>
        TouHeader.TryRead(datagram, out var h) && h.Flags == TouFlags.Syn && !old.IsClient
        && (old.State == TouConnectionState.Closed || (old.State == TouConnectionState.Connecting && h.SequenceNumber != old.PeerInitialSequence))
        && (datagram.Length == TouHeader.Size + h.PayloadLength || Extensions.VerifyCrc(datagram, h.PayloadLength));

    private void HandleSyn(long nowUs, SocketAddress remote, in TouHeader header, ReadOnlySpan<byte> datagram)
    {
        if (!IsListening)
        {
            Log.EndpointDropped(_logger, remote, DropReason.NotListening);
            QueueReset(remote, header);
            return;
        }

        var payload = datagram.Slice(TouHeader.Size, header.PayloadLength);
        var offer = Extensions.ReadOffer(payload);
        if (_connections.Count >= _options.MaxConnections || _acceptQueue.Count >= _options.AcceptBacklog)
        {
            Stats.RefusedConnectionLimit++;
            Log.EndpointDropped(_logger, remote, DropReason.ListenerFull);
            QueueReset(remote, header);
            return;
        }

        if (_pendingHandshakes >= _options.MaxPendingHandshakes)
        {
            // The handshake table is full (a SYN flood, or just busy): answer without keeping any state.
            SendCookieSynAck(nowUs, remote, header, offer, datagram.Length);
            return;
        }

        var entry = Add(remote, isClient: false, nowUs);
        var connection = entry.Connection;
        _pendingHandshakes++;
        var keys = offer.Integrity && _options.EnableIntegrity ? _cookies.DeriveIntegrityKeys(remote, header.SequenceNumber, connection.InitialSequence) : default;
        if (offer.ConnectionId != 0 && !keys.IsEmpty && _options.EnableConnectionIds)
        {
            AssignConnectionId(entry);
        }

        connection.AcceptSyn(nowUs, header, payload, offer, datagram.Length, keys);
        OnTransmitReady(entry);
    }

    /// <summary>Runs the timers that are due.</summary>
    public void HandleTimeouts(long nowUs)
    {
        // Bounded: each connection runs at most once per call even if its new deadline is already due.
        for (int budget = _timers.Count; budget > 0 && _timers.TryPeek(out var entry, out long deadline) && deadline <= nowUs; budget--)
        {
            _timers.Update(entry, TouTime.Never);
            entry.Connection.HandleTimeout(nowUs);
            AfterActivity(entry);
        }
    }

    /// <summary>
    /// Writes the next datagram to send into <paramref name="buffer"/> and returns its length and destination; 0
    /// (and a null destination) when there is nothing to send now. Call it until it returns 0 after every other call
    /// into the endpoint or its connections.
    /// </summary>
    /// <param name="nowUs">The current time, µs.</param>
    /// <param name="buffer">Room for one datagram: at least <see cref="TouOptions.MaxDatagramSize"/> and 1,024 bytes
    /// (65,535 is always enough).</param>
    /// <param name="destination">The peer's address the datagram goes to.</param>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is too small for the datagram a connection wants to send.</exception>
    public int PollTransmit(long nowUs, Span<byte> buffer, out SocketAddress? destination)
    {
        if (_controlPackets.TryDequeue(out var control))
        {
            var header = control.Header;
            int payload = control.Offer is { } offer ? Extensions.WriteOffer(buffer[TouHeader.Size..], offer) : 0;
            header.PayloadLength = (ushort)payload;
            header.Write(buffer);
            destination = control.To;
            Stats.DatagramsSent++;
            Stats.ResetsSent += (header.Flags & TouFlags.Rst) != 0 ? 1 : 0;
            int length = TouHeader.Size + payload;
            return control.Trailer switch
            {
                ControlTrailer.Crc => Extensions.AppendCrc(buffer, length),
                ControlTrailer.Tag => Extensions.AppendTag(buffer, length, control.Key),
                ControlTrailer.IdAndTag => ConnectionIdOptions.AppendIdAndTag(buffer, length, control.PeerId, control.Key),
                ControlTrailer.Id => ConnectionIdOptions.AppendId(buffer, length, control.PeerId),
                _ => length,
            };
        }

        while (_transmitQueue.TryDequeue(out var entry))
        {
            entry.InTransmitQueue = false;
            var connection = entry.Connection;
            int length = connection.PollTransmit(nowUs, buffer);
            AfterActivity(entry);
            if (length > 0)
            {
                // Round robin: a connection with more to send goes to the back of the queue.
                EnqueueTransmit(entry);
                destination = connection.TakeTransmitDestination();
                Stats.DatagramsSent++;
                return length;
            }
        }

        destination = null;
        return 0;
    }

    /// <summary>Releases every connection and its buffers at once, sending nothing more; datagrams handed in
    /// afterwards are ignored. Use <see cref="Shutdown"/> first for a graceful end.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var entry in _connections.Values)
        {
            entry.Connection.Dispose();
        }

        _connections.Clear();
        _byId.Clear();
        _idGenerator?.Dispose();
        _timers.Clear();
        _transmitQueue.Clear();
        _acceptQueue.Clear();
    }

    internal void OnTransmitReady(ConnectionEntry entry)
    {
        EnqueueTransmit(entry);
        Reschedule(entry);
    }

    internal void OnEventsRaised(ConnectionEntry entry)
    {
        if (!entry.InEventQueue)
        {
            entry.InEventQueue = true;
            _eventQueue.Enqueue(entry);
        }
    }

    private void EnqueueTransmit(ConnectionEntry entry)
    {
        if (!entry.InTransmitQueue && !entry.Connection.IsReleased)
        {
            entry.InTransmitQueue = true;
            _transmitQueue.Enqueue(entry);
        }
    }

    private ConnectionEntry Add(SocketAddress remote, bool isClient, long nowUs)
    {
        var key = SocketAddresses.Copy(remote);
        var entry = new ConnectionEntry(this);
        entry.Connection = new TouConnection(entry, key, isClient, _options, _logger, nowUs, _chunkPool);
        _connections.Add(key, entry);
        return entry;
    }

    internal void OnEstablished(TouConnection connection)
    {
        if (!connection.IsClient)
        {
            if (!connection.FromCookie)
            {
                _pendingHandshakes--;
            }

            Stats.ConnectionsAccepted++;
            _acceptQueue.Enqueue(connection);
        }
    }

    private void AfterActivity(ConnectionEntry entry)
    {
        if (entry.Connection.IsReleased)
        {
            Remove(entry);
            return;
        }

        Reschedule(entry);
    }

    private void Reschedule(ConnectionEntry entry) => _timers.Update(entry, entry.Connection.IsReleased ? TouTime.Never : entry.Connection.NextDeadline);

    private void Remove(ConnectionEntry entry)
    {
        var connection = entry.Connection;
        bool byAddress = _connections.TryGetValue(connection.RemoteAddress, out var held) && ReferenceEquals(held, entry);
        if (RemoveId(entry) | byAddress)
        {
            if (byAddress)
            {
                _connections.Remove(connection.RemoteAddress);
            }

            if (connection.CloseReason == TouCloseReason.Graceful)
            {
                RememberClosed(connection);
            }

            Stats.ConnectionsClosed++;
            if (!connection.IsClient && connection.CloseReason != TouCloseReason.None && !connection.WasEstablished)
            {
                _pendingHandshakes--;
            }
        }

        _timers.Update(entry, TouTime.Never);
    }

    private void SendCookieSynAck(long nowUs, SocketAddress remote, in TouHeader syn, in ExtensionSet offer, int synLength)
    {
        var agreed = AgreedOptions.Accept(_options, offer);
        var remembered = agreed;
        remembered.WindowShift = agreed.WindowShift >= 0 ? offer.WindowShift : -1; // the client's shift is what must be kept
        uint cookie = _cookies.Create(nowUs, remote, syn.SequenceNumber, remembered);
        if (agreed.Integrity)
        {
            agreed.Keys = _cookies.DeriveIntegrityKeys(remote, syn.SequenceNumber, cookie);
        }

        var synAck = new TouHeader
        {
            SourcePort = LocalPort,
            DestinationPort = syn.SourcePort,
            SequenceNumber = cookie,
            AcknowledgementNumber = syn.SequenceNumber + 1,
            Flags = TouFlags.Syn | TouFlags.Ack,
            Window = AgreedOptions.HandshakeWindow(_options),
            Mss = (uint)AgreedOptions.LocalMaxPayload(_options),
        };

        // One SYN+ACK per SYN, never larger than three times the SYN (anti-amplification).
        int size = AgreedOptions.SynAckSize(agreed);
        if (size > 3 * synLength)
        {
            return;
        }

        Stats.SynCookiesSent++;
        QueueControl(remote, synAck, agreed.Integrity ? ControlTrailer.Crc : ControlTrailer.None, offer: agreed.Extended ? agreed : null);
    }

    /// <summary>A packet from an unknown address may be the ACK of a stateless handshake: its acknowledgement number is then our cookie.</summary>
    private bool TryAcceptCookie(long nowUs, SocketAddress remote, in TouHeader header, ReadOnlySpan<byte> datagram)
    {
        var flags = header.Flags;
        if ((flags & (TouFlags.Syn | TouFlags.Rst)) != 0)
        {
            return false;
        }

        uint clientIsn = header.SequenceNumber - 1;
        if (!_cookies.TryValidate(nowUs, remote, clientIsn, header.AcknowledgementNumber, out var agreed))
        {
            return false;
        }

        if (agreed.Integrity)
        {
            agreed.Keys = _cookies.DeriveIntegrityKeys(remote, clientIsn, header.AcknowledgementNumber);
            if (!Extensions.VerifyTag(datagram, header.PayloadLength, agreed.Keys.ForReceiving(isClient: false)))
            {
                Stats.DroppedIntegrity++;
                return true;
            }
        }

        if (_connections.Count >= _options.MaxConnections || _acceptQueue.Count >= _options.AcceptBacklog)
        {
            Stats.RefusedConnectionLimit++;
            QueueReset(remote, header);
            return true;
        }

        var entry = Add(remote, isClient: false, nowUs);
        Stats.SynCookiesAccepted++;
        entry.Connection.AcceptCookie(nowUs, header, datagram.Slice(TouHeader.Size, header.PayloadLength), agreed, header.AcknowledgementNumber);
        OnTransmitReady(entry);
        return true;
    }

    private void QueueControl(SocketAddress remote, in TouHeader header, ControlTrailer trailer, DirectionKey key = default, ExtensionSet? offer = null, ulong peerId = 0)
    {
        if (_controlPackets.Count >= MaxQueuedControlPackets)
        {
            Stats.ResetsSuppressed++; // bounded: a flood cannot make the endpoint queue without end
            return;
        }

        _controlPackets.Enqueue(new ControlPacket(SocketAddresses.Copy(remote), header, trailer, key, offer, peerId));
    }

    private void QueueReset(SocketAddress remote, in TouHeader incoming) =>
        // No trailer: a host without the connection has no key. Peers accept it only at the exact sequence number.
        QueueControl(remote, ControlPacket.ResetFor(incoming, LocalPort, AgreedOptions.LocalMaxPayload(_options)), ControlTrailer.None);

}

