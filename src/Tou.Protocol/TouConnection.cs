using System.Net;
using Microsoft.Extensions.Logging;
using Tou.Protocol.Buffers;
using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>
/// One TOU connection: a reliable, ordered, flow- and congestion-controlled byte stream in each direction.
/// Sans-IO: it is fed datagrams (through its <see cref="TouEndpoint"/>), application reads and writes and
/// the time, and produces datagrams and deadlines. Not thread-safe: one owner drives the endpoint and all
/// its connections.
/// </summary>
/// <remarks>
/// Internally both directions count bytes by 64-bit stream offset (offset 0 is the first data byte);
/// 32-bit sequence numbers exist only at the wire edge, which makes the 2^32 wrap a non-event.
/// </remarks>
public sealed partial class TouConnection : IDisposable
{
    /// <summary>The seed's listener reads with a 1,024-byte buffer, so plain peers never get larger datagrams.</summary>
    internal const int SeedMaxDatagram = 1024;

    private readonly TouOptions _options;
    private readonly ILogger _logger;
    private readonly bool _isClient;
    private readonly RttEstimator _rtt;
    private readonly ChunkPool _chunkPool;
    private readonly IConnectionHost? _host;

    private Phase _phase;
    private ExtensionSet _agreed = ExtensionSet.Plain;
    private int _sendShift;     // applied to windows the peer advertises
    private int _sendMss;       // data bytes per segment we send (path MTU discovery moves it)
    private int _peerMaxDatagram; // the largest datagram the peer accepts (its mss field)
    private ICongestionController _congestion = null!;
    private TouConnectionEvents _events;
    private readonly ConnectionTimers _timers = new();
    private long _lastReceiveUs;
    private bool _rstPending;
    private bool _secondRstSent;  // the RST also went out at our unacknowledged FIN's number (see BuildRst)
    private bool _disposed;
    private bool _appClosed;       // the application is gone: it reads no more; what it wrote is still delivered
    private long _lastProgressUs;  // last time the peer acknowledged something new (the linger clock)
    private DirectionKey _sendKey;
    private DirectionKey _receiveKey;

    // --- handshake ---
    private bool _synPending = true;
    private bool _synAckPending;
    private bool _handshakeAckPending;
    private int _rtoRetransmits;        // SYN or SYN+ACK retransmissions (Karn: then no RTT sample)
    private long _synSentUs;
    private uint? _halfOpenResetSeq;    // an RST owed to a half-open connection the peer still holds
    private long _unvalidatedBytesIn;   // anti-amplification, until the handshake proves the address
    private long _unvalidatedBytesOut;

    // --- send direction (offsets in our stream; sequence = _sendSeqBase + offset) ---
    private SequenceNumber _iss;
    private SequenceNumber _sendSeqBase;
    private StreamBuffer? _sendBuffer;
    private long _sndUna;         // oldest unacknowledged offset
    private long _sndNxt;         // next new data offset to send
    private long _written;        // bytes accepted from the application
    private bool _finQueued;      // the application closed its side; FIN sits at offset _written
    private bool _finSent;
    private bool _finAcked;
    private readonly LossDetector _loss;
    private readonly SendWindow _peerWindow = new();
    private int _consecutiveRtos;
    private bool _pingPending;
    private readonly Pacer _pacer = new();
    private readonly PathMtuDiscovery _pmtu;

    // --- receive direction ---
    private SequenceNumber _irs;
    private SequenceNumber _receiveSeqBase;
    private StreamBuffer? _receiveBuffer;
    private readonly ReceiveWindow _receiveWindow;
    private long _peerFinOffset = -1;
    private int _largestSegmentReceived; // the peer's segment size as far as seen (window updates count in it)
    private bool _peerFinConsumed;
    private readonly AckTracker _acks;

    internal TouConnection(IConnectionHost? host, SocketAddress remoteAddress, bool isClient, TouOptions options, ILogger logger, long nowUs, ChunkPool chunkPool)
    {
        _chunkPool = chunkPool;
        Stats = new TouConnectionStats();
        _pmtu = new PathMtuDiscovery(_timers, Stats);
        _acks = new AckTracker(_timers, options.DelayedAckTimeout, options.SegmentsPerAck, Math.Max(1, options.ReceiveBufferSize / 4));
        _receiveWindow = new ReceiveWindow(options.ReceiveBufferSize);
        _host = host;
        RemoteAddress = remoteAddress;
        _isClient = isClient;
        _options = options;
        _logger = logger;
        _rtt = new RttEstimator(TouTime.FromTimeSpan(options.InitialRto), TouTime.FromTimeSpan(options.MinRto), TouTime.FromTimeSpan(options.MaxRto));
        _loss = new LossDetector(_timers, _rtt);
        _iss = new SequenceNumber(options.IsnGenerator?.Invoke() ?? RandomIsn(options));
        _lastReceiveUs = nowUs;
        _lastProgressUs = nowUs;
        _timers[TimerKind.Handshake] = nowUs + TouTime.FromTimeSpan(options.HandshakeTimeout);
        _phase = isClient ? Phase.SynSent : Phase.SynReceived;
        Id = Interlocked.Increment(ref s_nextId);
        StartTrace(nowUs);
    }

    private enum Phase
    {
        SynSent,
        SynReceived,
        Established,
        TimeWait,
        Released,
    }

    private static long s_nextId;

    /// <summary>Process-unique number of this connection (for logs).</summary>
    public long Id { get; }

    /// <summary>Free slot for the host (the I/O layer keeps its connection object here).</summary>
    public object? Context { get; set; }

    /// <summary>The peer's UDP address; with connection IDs it changes when the peer's new address has been validated.</summary>
    public SocketAddress RemoteAddress { get; private set; }

    /// <summary>True for a connection this side opened (<see cref="TouEndpoint.Connect"/>), false for an accepted one.</summary>
    public bool IsClient => _isClient;

    /// <summary>Where the connection is in its life cycle, as the application sees it.</summary>
    public TouConnectionState State => _phase switch
    {
        Phase.SynSent or Phase.SynReceived => TouConnectionState.Connecting,
        Phase.Established when CloseReason == TouCloseReason.None => TouConnectionState.Established,
        _ => TouConnectionState.Closed,
    };

    /// <summary>Why the connection ended, or <see cref="TouCloseReason.None"/> while it lasts.</summary>
    public TouCloseReason CloseReason { get; private set; }

    /// <summary>Whether the peer agreed to the extensions (otherwise it is a plain, seed-compatible peer).</summary>
    public bool ExtensionsNegotiated => _agreed.Extended;

    /// <summary>Whether both sides agreed to selective acknowledgements (see <see cref="TouOptions.EnableSack"/>).</summary>
    public bool SackNegotiated => _agreed.Sack;

    /// <summary>Whether every packet carries the keyed integrity trailer (see <see cref="TouOptions.EnableIntegrity"/>).</summary>
    public bool IntegrityNegotiated => _agreed.Integrity;

    /// <summary>What the handshake agreed (meaningful once established).</summary>
    public TouNegotiation Negotiation => new(_agreed.Extended, _agreed.Sack, _agreed.Integrity, _agreed.WindowShift >= 0 ? _sendShift : -1, _agreed.WindowShift >= 0 ? _receiveWindow.Shift : -1, _sendMss)
    {
        PathMtuDiscovery = _pmtu.IsEnabled,
        PeerMaxDatagramSize = _peerMaxDatagram,
    };

    /// <summary>True once the application called <see cref="Close"/>.</summary>
    public bool IsClosedByApplication => _appClosed;

    /// <summary>Data bytes per segment this side sends now (path MTU discovery may raise it after the handshake).</summary>
    public int SendMss => _sendMss;

    /// <summary>This connection's counters; they stay readable after it has ended.</summary>
    public TouConnectionStats Stats { get; }

    /// <summary>Smoothed round-trip time (RFC 6298 SRTT) in µs; 0 before the first sample.</summary>
    public long SmoothedRttUs => _rtt.SmoothedRttUs;

    /// <summary>Bytes the congestion controller lets be in flight now; 0 before the handshake has set it up.</summary>
    public long CongestionWindow => _congestion?.CongestionWindow ?? 0;

    /// <summary>Bytes of data sent and neither acknowledged nor presumed lost.</summary>
    public long BytesInFlight => _loss.BytesInFlight;

    /// <summary>Bytes the application may write now without being refused.</summary>
    public int WritableBytes => CanWrite ? (int)Math.Max(0, _options.SendBufferSize - (_written - _sndUna)) : 0;

    /// <summary>Bytes written and not yet acknowledged by the peer.</summary>
    public long UnacknowledgedBytes => _written - _sndUna;

    /// <summary>Total bytes the application has written.</summary>
    public long BytesWritten => _written;

    /// <summary>Bytes that can be read now.</summary>
    public int ReadableBytes => (int)_receiveWindow.Readable;

    /// <summary>True once the peer closed its side and the application has read everything.</summary>
    public bool IsReadCompleted => _peerFinConsumed && _receiveWindow.Readable == 0;

    /// <summary>True once the application closed its side and the peer acknowledged all data and the FIN.</summary>
    public bool IsWriteCompleted => _finAcked;

    /// <summary>Deadline at which the owner must call the endpoint's timeout handling, or <see cref="TouTime.Never"/>.</summary>
    public long NextDeadline => _phase == Phase.Released ? TouTime.Never : _timers.Next;

    internal bool IsReleased => _phase == Phase.Released;

    /// <summary>The peer's initial sequence number (server side: from its SYN).</summary>
    internal uint PeerInitialSequence => _irs.Value;

    /// <summary>Time the peer was last heard from.</summary>
    internal long LastActivityUs => _lastReceiveUs;

    internal ClosedConnection ClosedRecord(long expiresUs) =>
        new(SendSeq(SendLimit).Value, AckField, _agreed.Extended, _agreed.Integrity ? _sendKey : default, _agreed.Integrity ? _receiveKey : default, expiresUs, LocalConnectionId, _peerId);

    /// <summary>Our initial sequence number (the server's SYN+ACK carries it).</summary>
    internal uint InitialSequence => _iss.Value;

    /// <summary>The peer acknowledged something new: the linger clock of a closed connection restarts.</summary>
    private void NoteProgress(long nowUs)
    {
        _lastProgressUs = nowUs;
        ArmLinger();
    }

    private void ArmLinger()
    {
        if (_appClosed && _phase == Phase.Established && CloseReason == TouCloseReason.None)
        {
            _timers[TimerKind.Linger] = _lastProgressUs + TouTime.FromTimeSpan(_options.LingerTimeout);
        }
    }

    /// <summary>Something was heard from the peer: the idle timer restarts (established connections only).</summary>
    private void ArmIdle()
    {
        if (_options.IdleTimeout > TimeSpan.Zero && _phase == Phase.Established && CloseReason == TouCloseReason.None)
        {
            _timers[TimerKind.Idle] = _lastReceiveUs + TouTime.FromTimeSpan(_options.IdleTimeout);
        }
    }

    /// <summary>Returns and clears what changed since the last call.</summary>
    public TouConnectionEvents TakeEvents()
    {
        var e = _events;
        _events = TouConnectionEvents.None;
        return e;
    }

    /// <summary>
    /// Queues bytes for sending. Returns how many were accepted: fewer than offered when the send buffer is
    /// full (backpressure; wait for <see cref="TouConnectionEvents.Writable"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The sending side was closed or the connection ended.</exception>
    public int Write(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finQueued)
        {
            throw new InvalidOperationException("Cannot write after the sending side was closed with CloseSend().");
        }

        if (CloseReason != TouCloseReason.None)
        {
            throw new InvalidOperationException($"Cannot write to a connection that ended ({CloseReason}).");
        }

        int n = Math.Min(data.Length, WritableBytes);
        if (n > 0)
        {
            _sendBuffer ??= new StreamBuffer(_options.SendBufferSize, _chunkPool);
            _sendBuffer.Write(_written, data[..n]);
            _written += n;
            Notify();
        }

        return n;
    }

    /// <summary>Copies up to <paramref name="destination"/>.Length received bytes, in order. Returns 0 when none are available.</summary>
    public int Read(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = (int)Math.Min(destination.Length, _receiveWindow.Readable);
        if (n == 0)
        {
            return 0;
        }

        _receiveBuffer!.CopyTo(_receiveWindow.Consumed, destination[..n]);
        Consume(n);
        return n;
    }

    /// <summary>The next contiguous run of readable bytes without copying; call <see cref="Consume"/> after using them.</summary>
    public ReadOnlySpan<byte> PeekReadable(int maxLength = int.MaxValue)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = (int)Math.Min(maxLength, _receiveWindow.Readable);
        return n == 0 ? default : _receiveBuffer!.GetSpan(_receiveWindow.Consumed, n);
    }

    /// <summary>Marks <paramref name="count"/> readable bytes as consumed, which opens the receive window.</summary>
    public void Consume(int count)
    {
        if (count < 0 || count > _receiveWindow.Readable)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Can consume between 0 and {_receiveWindow.Readable} bytes, not {count}.");
        }

        _receiveWindow.Consume(count);
        _receiveBuffer!.DiscardTo(_receiveWindow.Consumed);
        // The update threshold counts the peer's segments: the largest it sent so far (RFC 1122's estimate of its MSS,
        // which path MTU discovery may raise), at least the size this side started with.
        int segment = Math.Max(_largestSegmentReceived, Math.Min(_sendMss, AgreedOptions.MssForDatagram(_options.InitialDatagramSize)));
        if (_phase == Phase.Established && CloseReason == TouCloseReason.None && !_peerFinConsumed && _receiveWindow.WindowUpdateOwed(segment))
        {
            _acks.RequestImmediate();
            Notify();
        }

        if (IsReadCompleted)
        {
            MaybeFinishClose();
        }
    }

    /// <summary>Closes the sending side gracefully: a FIN follows all written data. Reading goes on.</summary>
    public void CloseSend()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finQueued || CloseReason != TouCloseReason.None)
        {
            return;
        }

        _finQueued = true;
        Notify();
    }

    /// <summary>
    /// The application is done with the connection, as with a TCP socket's close: what it wrote is still
    /// delivered and followed by a FIN, and the connection lingers until the peer has acknowledged both, giving up
    /// (RST) after <see cref="TouOptions.LingerTimeout"/> without progress. It reads no more: received data it left
    /// unread, or data that arrives from now on, resets the connection so the peer's application learns at once
    /// that nobody is reading. The host may still hand over, with <see cref="Write"/>, bytes the application wrote
    /// before closing, and then calls <see cref="CloseSend"/>; until then no FIN is sent.
    /// </summary>
    public void Close(long nowUs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_appClosed || CloseReason != TouCloseReason.None)
        {
            return;
        }

        _appClosed = true;
        NoteProgress(nowUs);
        if (ReadableBytes > 0)
        {
            ResetUnreadData();
            return;
        }

        Notify();
    }

    /// <summary>Ends the connection at once: sends RST and discards everything buffered.</summary>
    public void Abort()
    {
        if (_phase == Phase.Released || CloseReason != TouCloseReason.None)
        {
            return;
        }

        _rstPending = true;
        EndConnection(TouCloseReason.Aborted, linger: false);
        Notify();
    }

    /// <summary>Aborts the connection if it is still open and returns its buffers to the pool.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        Abort();
        _disposed = true;
        ReleaseBuffers();
        EndTrace();
    }

    private static uint RandomIsn(TouOptions options)
    {
        Span<byte> bytes = stackalloc byte[4];
        options.FillRandom(bytes);
        return BitConverter.ToUInt32(bytes);
    }

    /// <summary>Nobody will read what the peer sends: reset, as TCP does for a close with unread data.</summary>
    private void ResetUnreadData()
    {
        Stats.ResetsForUnreadData++;
        Log.ResetUnreadData(_logger, Id, ReadableBytes);
        Abort();
    }

    private void Notify() => _host?.OnTransmitReady();

    private void Raise(TouConnectionEvents e)
    {
        _events |= e;
        _host?.OnEventsRaised();
    }

    private bool CanWrite => !_finQueued && CloseReason == TouCloseReason.None && _phase is not Phase.Released;

    private SequenceNumber SendSeq(long offset) => _sendSeqBase + (uint)offset;

    private SequenceNumber ReceiveSeq(long offset) => _receiveSeqBase + (uint)offset;

    private long SendOffset(SequenceNumber seq) => _sndUna + (seq - SendSeq(_sndUna));

    private long ReceiveOffset(SequenceNumber seq) => _receiveWindow.Next + (seq - ReceiveSeq(_receiveWindow.Next));

    /// <summary>Highest offset a valid acknowledgement may reach (the FIN counts one).</summary>
    private long SendLimit => _sndNxt + (_finSent ? 1 : 0);

    private uint AckField => ReceiveSeq(_receiveWindow.Next).Value + (_peerFinConsumed && _agreed.Extended ? 1u : 0u);

    private void EndConnection(TouCloseReason reason, bool linger)
    {
        if (CloseReason != TouCloseReason.None)
        {
            return;
        }

        var previous = State;
        CloseReason = reason;
        _timers.ClearAll();
        if (reason != TouCloseReason.Graceful)
        {
            _loss.Clear();
            _sendBuffer?.Dispose();
            _sendBuffer = null;
        }

        Stats.CloseReason = reason;
        Log.ConnectionClosed(_logger, Id, reason, previous);
        _phase = linger ? Phase.TimeWait : _rstPending ? _phase : Phase.Released;
        _trace?.StateChanged();
        if (_phase == Phase.Released)
        {
            EndTrace();
        }

        if (linger)
        {
            // Stay to re-acknowledge a retransmitted FIN whose ACK was lost.
            _timers[TimerKind.TimeWait] = _lastReceiveUs + Math.Max(2 * _rtt.RtoUs, 1_000_000);
        }

        Raise(TouConnectionEvents.Closed | TouConnectionEvents.Writable | TouConnectionEvents.Readable);
    }

    private void Release()
    {
        _phase = Phase.Released;
        EndTrace();
        _timers.ClearAll();
        _sendBuffer?.Dispose();
        _sendBuffer = null;
        _loss.Clear(); // bytes in flight are zero already: all was acknowledged, or cleared when the connection ended
    }

    private void ReleaseBuffers()
    {
        _sendBuffer?.Dispose();
        _sendBuffer = null;
        _receiveBuffer?.Dispose();
        _receiveBuffer = null;
        _receiveWindow.DiscardUnread();
    }

    private void MaybeFinishClose()
    {
        if (_finAcked && _peerFinConsumed && CloseReason == TouCloseReason.None)
        {
            EndConnection(TouCloseReason.Graceful, linger: true);
        }
    }
}
