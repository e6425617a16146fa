using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// One UDP socket and the TOU endpoint engine behind it: a receive loop feeds datagrams in, one timer per
/// endpoint (not per connection) runs the engine's deadlines, and every engine call ends by sending what
/// the engine produced. The engine is single-owner; here the owner is whoever holds the endpoint's gate,
/// held only for the engine call and the sends it produces.
/// </summary>
public sealed partial class TouSocketEndpoint : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Socket _socket;
    private readonly TouEndpoint _engine;
    private readonly ILogger _logger;
    private readonly byte[] _transmitBuffer;
    private readonly Timer _timer;
    private readonly Channel<TouSocketConnection> _accepted = Channel.CreateUnbounded<TouSocketConnection>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<(TouSocketConnection Connection, long DeadlineUs)> _orphans = new();
    private readonly Task _receiveLoop;
    private const int SolUdp = 17;          // IPPROTO_UDP
    private const int UdpSegment = 103;     // UDP_SEGMENT (Linux GSO)
    private const int MaxGsoSegments = 44;  // stays under 64 KiB with 1,452-byte datagrams
    private const int MaxGsoBytes = 64_000;
    private const int UdpGro = 104;         // UDP_GRO (Linux receive offload)
    private const int MaxDatagramsPerWakeup = 64;
    private bool _gsoEnabled;
    private readonly bool _groEnabled;
    private int _gsoSegment;
    private long _timerDueUs = TouTime.Never;
    private bool _disposed;

    private TouSocketEndpoint(Socket socket, TouTransportOptions options, ILoggerFactory loggerFactory, bool listen)
    {
        _socket = socket;
        Options = options;

        // Datagrams never exceed the negotiated size (the peer learns ours from the mss field), so buffers
        // of that size plus slack suffice; a larger datagram arrives truncated and is dropped as malformed.
        DatagramBufferSize = Math.Max(options.Protocol.MaxDatagramSize, 1024) + 512;
        // GSO batches come from a pooled buffer during each flush, so an idle endpoint holds none. GRO needs a
        // 64 KiB receive buffer per socket, worth it where one socket serves many connections (listeners);
        // a client connection's own socket keeps a datagram-sized one.
        _gsoEnabled = options.UseSegmentationOffload && OperatingSystem.IsLinux();
        _groEnabled = options.UseSegmentationOffload && listen && OperatingSystem.IsLinux() && TryEnableGro(socket);
        _transmitBuffer = GC.AllocateArray<byte>(DatagramBufferSize, pinned: true);
        _logger = loggerFactory.CreateLogger("Tou.Transport");
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _engine = new TouEndpoint(options.Protocol, loggerFactory.CreateLogger("Tou.Protocol"))
        {
            IsListening = listen,
            LocalPort = (ushort)LocalEndPoint.Port,
            RttSampled = TouMetrics.RttSampled,
            Retransmitted = TouMetrics.Retransmitted,
        };
        _timer = new Timer(static state => ((TouSocketEndpoint)state!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
        Interlocked.Increment(ref s_openEndpoints);
        TouMetrics.EndpointOpened();
        TouMetrics.Track(this);
    }

    private static int s_openEndpoints;

    /// <summary>Socket endpoints bound and not yet disposed in this process (for leak checks).</summary>
    public static int OpenEndpoints => Volatile.Read(ref s_openEndpoints);

    internal TouTransportOptions Options { get; }

    private int DatagramBufferSize { get; }

    /// <summary>The address and port the socket is bound to (the port is the real one when 0 was asked).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Whether incoming connections are accepted.</summary>
    public bool IsListening
    {
        get { lock (_gate) { return _engine.IsListening; } }
    }

    /// <summary>Connections this endpoint holds now.</summary>
    public int ConnectionCount
    {
        get { lock (_gate) { return _engine.ConnectionCount; } }
    }

    /// <summary>Runs <paramref name="read"/> on the engine's counters under the endpoint's lock.</summary>
    public T ReadStats<T>(Func<TouEndpointStats, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (_gate)
        {
            return read(_engine.Stats);
        }
    }

    /// <summary>
    /// Binds a UDP socket. An IPv6 "any" address also accepts IPv4 (dual mode).
    /// </summary>
    /// <exception cref="SocketException">The address is in use (<see cref="SocketError.AddressAlreadyInUse"/>) or cannot be bound.</exception>
    public static TouSocketEndpoint Bind(IPEndPoint localEndPoint, TouTransportOptions? options = null, ILoggerFactory? loggerFactory = null, bool listen = false)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        options ??= new TouTransportOptions();
        options.Validate();
        var socket = new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6 && localEndPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (options.SocketReceiveBufferSize > 0)
            {
                socket.ReceiveBufferSize = options.SocketReceiveBufferSize;
            }

            if (options.SocketSendBufferSize > 0)
            {
                socket.SendBufferSize = options.SocketSendBufferSize;
            }

            socket.Bind(localEndPoint);
            return new TouSocketEndpoint(socket, options, loggerFactory ?? NullLoggerFactory.Instance, listen);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the next incoming connection; null once the endpoint is disposed.</summary>
    public async ValueTask<TouSocketConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>Stops accepting new connections (established ones go on).</summary>
    public void StopListening()
    {
        lock (_gate)
        {
            _engine.IsListening = false;
        }

        _accepted.Writer.TryComplete();
    }

    /// <summary>
    /// Opens a connection to <paramref name="remote"/> and completes when the handshake has.
    /// </summary>
    /// <exception cref="TouConnectionException">Refused, or no answer within the handshake timeout.</exception>
    public async Task<TouSocketConnection> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_socket.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork)
        {
            remote = new IPEndPoint(remote.Address.MapToIPv6(), remote.Port);
        }
        else if (_socket.AddressFamily == AddressFamily.InterNetwork && remote.AddressFamily == AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"Cannot reach the IPv6 address {remote} from a socket bound to IPv4 {LocalEndPoint}.", nameof(remote));
        }

        TouSocketConnection connection;
        lock (_gate)
        {
            long now = Now();
            var engineConnection = _engine.Connect(now, remote.Serialize());
            connection = new TouSocketConnection(this, engineConnection, LocalEndPoint, remote);
            engineConnection.Context = connection;
            AfterEngineWork(now);
        }

        using (cancellationToken.UnsafeRegister(static s => ((TouSocketConnection)s!).Abort(null), connection))
        {
            try
            {
                await connection.ConnectedTask.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                connection.Abort(null);
                throw;
            }
        }

        return connection;
    }

    /// <summary>Runs <paramref name="action"/> on the engine under the gate, then sends and dispatches what it produced.</summary>
    internal void Run<TState>(TState state, Action<TState> action)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            action(state);
            AfterEngineWork(Now());
        }
    }

    internal T Run<TState, T>(TState state, Func<TState, T> action)
    {
        lock (_gate)
        {
            var result = action(state);
            if (!_disposed)
            {
                AfterEngineWork(Now());
            }

            return result;
        }
    }

    internal void AddOrphan(TouSocketConnection connection)
    {
        lock (_gate)
        {
            _orphans.Add((connection, Now() + TouTime.FromTimeSpan(Options.OrphanTimeout)));
            RescheduleTimer(Now());
        }
    }

    /// <summary>Test hook: the socket vanishes without sending anything, as if its host lost power.</summary>
    internal void SimulateCrashForTests()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _shutdown.Cancel();
        _timer.Dispose();
        _socket.Dispose();
    }

    internal static long Now() => TouTime.FromStopwatchTimestamp(Stopwatch.GetTimestamp());

    private async Task ReceiveLoopAsync()
    {
        var buffer = GC.AllocateArray<byte>(_groEnabled ? 65_536 : DatagramBufferSize, pinned: true);
        var address = new SocketAddress(_socket.AddressFamily);
        var token = _shutdown.Token;
        while (!token.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, address, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                // ICMP errors surface on some platforms as a failed receive; the socket itself is fine.
                Log.ReceiveFailed(_logger, ex.SocketErrorCode);
                continue;
            }

            lock (_gate)
            {
                if (_disposed)
                {
                    break;
                }

                // Handle this datagram and whatever else is already queued, then send and dispatch once.
                long now = Now();
                Handle(now, address, buffer.AsSpan(0, received));
                for (int more = 0; more < MaxDatagramsPerWakeup && _socket.Available > 0; more++)
                {
                    try
                    {
                        received = _socket.ReceiveFrom(buffer, SocketFlags.None, address);
                    }
                    catch (SocketException ex)
                    {
                        Log.ReceiveFailed(_logger, ex.SocketErrorCode);
                        break;
                    }

                    Handle(now, address, buffer.AsSpan(0, received));
                }

                AfterEngineWork(now);
            }
        }
    }

    private void Handle(long now, SocketAddress from, ReadOnlySpan<byte> data)
    {
        TouMetrics.DatagramReceived(data.Length);
        if (_groEnabled)
        {
            _engine.HandleCoalesced(now, from, data);
        }
        else
        {
            _engine.HandleDatagram(now, from, data);
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _timerDueUs = TouTime.Never;
            long now = Now();
            _engine.HandleTimeouts(now);
            for (int i = _orphans.Count - 1; i >= 0; i--)
            {
                var (connection, deadline) = _orphans[i];
                if (connection.IsClosed)
                {
                    _orphans.RemoveAt(i);
                }
                else if (now >= deadline)
                {
                    _orphans.RemoveAt(i);
                    connection.AbortLocked();
                }
            }

            AfterEngineWork(now);
        }
    }

    /// <summary>Sends what the engine produced, hands out accepted connections and events, re-arms the timer. Caller holds the gate.</summary>
    private void AfterEngineWork(long now)
    {
        Flush(now);
        while (_engine.Accept() is { } accepted)
        {
            var remote = (IPEndPoint)LocalEndPoint.Create(accepted.RemoteAddress);
            var connection = new TouSocketConnection(this, accepted, LocalEndPoint, remote);
            accepted.Context = connection;
            if (!_accepted.Writer.TryWrite(connection))
            {
                accepted.Abort(); // not listening any more
            }
        }

        while (_engine.PollEvents() is { } changed)
        {
            var events = changed.TakeEvents();
            if (changed.Context is TouSocketConnection connection)
            {
                connection.OnEvents(events);
            }
        }

        Flush(now); // event handlers may have consumed data and opened the window
        RescheduleTimer(now);
    }

    private void Flush(long now)
    {
        if (!_gsoEnabled)
        {
            int length;
            while ((length = _engine.PollTransmit(now, _transmitBuffer.AsSpan(0, DatagramBufferSize), out var destination)) > 0)
            {
                Send(_transmitBuffer.AsSpan(0, length), destination!, segmentSize: 0);
            }

            return;
        }

        // UDP GSO: consecutive datagrams to one destination with one size (the last may be shorter) leave in
        // one system call; the kernel cuts them apart. The engine writes each datagram right after the last.
        byte[] batch = ArrayPool<byte>.Shared.Rent(MaxGsoBytes + DatagramBufferSize);
        try
        {
            FlushBatched(now, batch);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

    private void FlushBatched(long now, byte[] buffer)
    {
        int batchBytes = 0, segment = 0, count = 0;
        SocketAddress? batchDestination = null;
        while (true)
        {
            var room = buffer.AsSpan(batchBytes);
            int n = _engine.PollTransmit(now, room, out var destination);
            if (n == 0)
            {
                break;
            }

            bool joins = count > 0 && n <= segment && count < MaxGsoSegments && destination!.Equals(batchDestination)
                && batchBytes + n <= MaxGsoBytes;
            if (joins)
            {
                batchBytes += n;
                count++;
                if (n < segment)
                {
                    SendBatch(buffer, batchDestination!, batchBytes, segment, count); // a shorter datagram ends a batch
                    batchBytes = count = 0;
                }
            }
            else
            {
                if (count > 0)
                {
                    SendBatch(buffer, batchDestination!, batchBytes, segment, count);
                    buffer.AsSpan(batchBytes, n).CopyTo(buffer);
                }

                batchBytes = n;
                segment = n;
                count = 1;
                batchDestination = destination;
            }

            if (buffer.Length - batchBytes < DatagramBufferSize)
            {
                SendBatch(buffer, batchDestination!, batchBytes, segment, count);
                batchBytes = count = 0;
            }
        }

        if (count > 0)
        {
            SendBatch(buffer, batchDestination!, batchBytes, segment, count);
        }
    }

    private void SendBatch(byte[] buffer, SocketAddress destination, int bytes, int segment, int count) =>
        Send(buffer.AsSpan(0, bytes), destination, count > 1 ? segment : 0);

    /// <summary>Sends one datagram, or with <paramref name="segmentSize"/> &gt; 0 a GSO batch of them.</summary>
    private void Send(ReadOnlySpan<byte> data, SocketAddress destination, int segmentSize)
    {
        try
        {
            // UDP_SEGMENT is a socket option here (.NET sends no control messages), so it must never be smaller
            // than a lone datagram about to go out, or the kernel would cut that datagram in two.
            int wanted = segmentSize > 0 ? segmentSize : 0;
            if (_gsoEnabled && wanted != _gsoSegment && (wanted > 0 || data.Length > _gsoSegment))
            {
                SetGsoSegment(wanted);
            }

            _socket.SendTo(data, SocketFlags.None, destination);
            int datagrams = segmentSize > 0 ? (data.Length + segmentSize - 1) / segmentSize : 1;
            TouMetrics.DatagramsSent(datagrams, data.Length);
        }
        catch (SocketException ex)
        {
            Log.SendFailed(_logger, ex.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static bool TryEnableGro(Socket socket)
    {
        try
        {
            Span<byte> on = stackalloc byte[4];
            BitConverter.TryWriteBytes(on, 1);
            socket.SetRawSocketOption(SolUdp, UdpGro, on);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void SetGsoSegment(int size)
    {
        try
        {
            Span<byte> value = stackalloc byte[4];
            BitConverter.TryWriteBytes(value, size);
            _socket.SetRawSocketOption(SolUdp, UdpSegment, value);
            _gsoSegment = size;
        }
        catch (SocketException)
        {
            _gsoEnabled = false; // the kernel has no UDP GSO: one datagram per call from now on
            _gsoSegment = 0;
        }
    }

    private void RescheduleTimer(long now)
    {
        long due = _engine.NextDeadline;
        foreach (var (_, deadline) in _orphans)
        {
            due = Math.Min(due, deadline);
        }

        // A later deadline leaves the earlier timer in place: it fires, finds nothing due and re-arms.
        if (due == TouTime.Never || due >= _timerDueUs)
        {
            return;
        }

        _timerDueUs = due;
        long delayMs = Math.Max(0, (due - now + 999) / 1000);
        _timer.Change(delayMs, Timeout.Infinite);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _engine.IsListening = false;
            _engine.AbortAll();
            Flush(Now()); // the RSTs of whatever was still open
            TouMetrics.Retire(this, _engine.Stats);
            _engine.Dispose();
        }

        _accepted.Writer.TryComplete();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _timer.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }

        _shutdown.Dispose();
        Interlocked.Decrement(ref s_openEndpoints);
        TouMetrics.EndpointClosed();
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Debug, "TOU socket receive failed: {Error}")]
        public static partial void ReceiveFailed(ILogger logger, SocketError error);

        [LoggerMessage(101, LogLevel.Debug, "TOU socket send failed: {Error}")]
        public static partial void SendFailed(ILogger logger, SocketError error);
    }
}
