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
/// <remarks>
/// Disposing the endpoint returns at once. Connections the application still holds are aborted; those it has
/// disposed keep delivering their data and FIN (as a TCP kernel does after a process closed its sockets), and the
/// socket stays open, accepting nothing, until they have finished. <see cref="Completion"/> tells when.
/// </remarks>
public sealed partial class TouSocketEndpoint : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private Socket _socket;    // replaced by RebindAsync, under the gate
    private readonly TouEndpoint _engine;
    private readonly ILogger _logger;
    private readonly Channel<TouSocketConnection> _accepted = Channel.CreateUnbounded<TouSocketConnection>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private const int MaxDatagramsPerWakeup = 64;
    private UdpDatagramSender _sender;
    private UdpDatagramReceiver _receiver;
    private bool _draining;    // DisposeAsync was called: accept nothing, close the socket once no connection is open
    private bool _closeWhenDelivered; // DrainAsync was called: close as soon as nothing written is unacknowledged
    private bool _disposed;    // the socket is closed (or closing) and the engine gone
    private IPEndPoint? _connectedRemote; // the one peer of an endpoint that serves one client connection; its socket is connected to it

    private TouSocketEndpoint(Socket socket, TouTransportOptions options, ILoggerFactory loggerFactory, bool listen)
    {
        _socket = socket;
        Options = options;
        Metrics = TouInstruments.For(options.MeterFactory);

        // Datagrams never exceed the negotiated size (the peer learns ours from the mss field), so buffers
        // of that size plus slack suffice; a larger datagram arrives truncated and is dropped as malformed.
        DatagramBufferSize = Math.Min(Math.Max(options.Protocol.MaxDatagramSize, 1024) + 512, 65_536); // 64 KiB holds any UDP datagram
        // GSO and GRO batches come from pooled buffers during each flush and drain, so an idle endpoint holds none
        // and every socket, a client's too, can take coalesced receives.
        _receiver = new UdpDatagramReceiver(socket, options.UseSegmentationOffload, DatagramBufferSize);
        _sender = new UdpDatagramSender(socket, options.UseSegmentationOffload, DatagramBufferSize, OnSendFailed, Metrics);
        _logger = loggerFactory.CreateLogger("Tou.Transport");
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;

        // Path MTU discovery: the don't-fragment bit in probe mode, and the interface's MTU as the probes' ceiling. A socket
        // that cannot send with the bit (not Linux so far) keeps the initial size: a probe fragmented on its way proves nothing.
        int initial = options.Protocol.InitialDatagramSize;
        Func<SocketAddress, int> datagramLimit = options.Protocol.EnablePathMtuDiscovery && PathMtuSocketOptions.TryEnable(socket)
            ? remote => PathMtuSocketOptions.DatagramLimit(LocalEndPoint, remote)
            : _ => initial;
        _engine = new TouEndpoint(options.Protocol, loggerFactory.CreateLogger("Tou.Protocol"))
        {
            IsListening = listen,
            LocalPort = (ushort)LocalEndPoint.Port,
            RttSampled = Metrics.RttSampled,
            Retransmitted = Metrics.Retransmitted,
            LocalDatagramLimit = datagramLimit,
        };
        _loop = options.UsePortableIo ? null : IoLoopGroup.Shared?.Next();
        StartReceiving(socket, _receiver);
        Interlocked.Increment(ref s_openEndpoints);
        Metrics.EndpointOpened(this);
    }

    private static int s_openEndpoints;

    /// <summary>Socket endpoints bound and not yet disposed in this process (for leak checks).</summary>
    internal static int OpenEndpoints => Volatile.Read(ref s_openEndpoints);

    internal TouTransportOptions Options { get; }

    /// <summary>Set on the shards of a <see cref="TouSocketListener"/>: a drained shard keeps its socket until all are drained.</summary>
    internal ShardCloseBarrier? CloseBarrier { get; set; }

    /// <summary>Whether the endpoint has finished with its connections and is closing (or has closed) its socket.</summary>
    internal bool IsClosingSocket
    {
        get
        {
            lock (_gate)
            {
                return _disposed;
            }
        }
    }

    /// <summary>The instruments of the <c>Tou</c> meter this endpoint records to (its options' meter factory's).</summary>
    internal TouInstruments Metrics { get; }

    private int DatagramBufferSize { get; }

    /// <summary>The socket's receive side (for tests: buffers held, offload, system calls).</summary>
    internal UdpDatagramReceiver Receiver => _receiver;

    /// <summary>The socket's send side (for tests and figures: system calls, datagrams).</summary>
    internal UdpDatagramSender Sender => _sender;

    /// <summary>The address and port the socket is bound to (the port is the real one when 0 was asked).</summary>
    public IPEndPoint LocalEndPoint { get; private set; }

    /// <summary>
    /// Completes once the endpoint has closed its socket: after <see cref="DisposeAsync"/>, when the connections the
    /// application had closed have finished delivering (or given up). A host that exits after disposing its
    /// listeners awaits this so that their last bytes are not lost with the process.
    /// </summary>
    public Task Completion => _completion.Task;

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
    public static TouSocketEndpoint Bind(IPEndPoint localEndPoint, TouTransportOptions? options = null, ILoggerFactory? loggerFactory = null, bool listen = false) =>
        Bind(localEndPoint, options, loggerFactory, listen, reusePort: false);

    /// <param name="reusePort">Set SO_REUSEPORT before binding: this socket is one shard of a <see cref="TouSocketListener"/>.</param>
    internal static TouSocketEndpoint Bind(IPEndPoint localEndPoint, TouTransportOptions? options, ILoggerFactory? loggerFactory, bool listen, bool reusePort)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        options ??= new TouTransportOptions();
        options.Validate();
        var socket = OpenSocket(localEndPoint, options, reusePort);
        try
        {
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
    /// <exception cref="TouConnectionException">Refused, or no answer within the handshake timeout; its inner exception is a
    /// <see cref="SocketException"/> with <see cref="SocketError.ConnectionRefused"/> or <see cref="SocketError.TimedOut"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="remote"/> cannot be connected to (any, broadcast or multicast address, port 0).</exception>
    public Task<TouSocketConnection> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken = default) =>
        ConnectAsync(remote, ownsEndpoint: false, cancellationToken);

    /// <summary>Throws when <paramref name="remote"/> is no address a connection can go to, instead of letting the handshake time out.</summary>
    internal static void ValidateRemote(IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        string? problem =
            remote.Port == 0 ? "port 0 is not a port a peer can listen on" :
            address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? "an 'any' address names no host" :
            address.Equals(IPAddress.Broadcast) ? "a broadcast address names no single host" :
            address.IsIPv6Multicast || (address.AddressFamily == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xF0) == 0xE0) ? "a multicast address names no single host" :
            null;
        if (problem is not null)
        {
            throw new ArgumentException($"Cannot open a TOU connection to {remote}: {problem}.", nameof(remote));
        }
    }

    internal async Task<TouSocketConnection> ConnectAsync(IPEndPoint remote, bool ownsEndpoint, CancellationToken cancellationToken)
    {
        ValidateRemote(remote);
        ObjectDisposedException.ThrowIf(_draining, this);
        if (_socket.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork)
        {
            remote = new IPEndPoint(remote.Address.MapToIPv6(), remote.Port);
        }
        else if (_socket.AddressFamily == AddressFamily.InterNetwork && remote.AddressFamily == AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"Cannot reach the IPv6 address {remote} from a socket bound to IPv4 {LocalEndPoint}.", nameof(remote));
        }

        TouConnectionCore core;
        lock (_gate)
        {
            if (_connectedRemote is not null)
            {
                throw new InvalidOperationException($"This endpoint's socket belongs to the connection to {_connectedRemote} (TouSocketConnection.ConnectAsync opened it); bind an endpoint with TouSocketEndpoint.Bind to open more connections from one socket.");
            }

            if (ownsEndpoint)
            {
                ConnectSocket(_socket, remote);
            }

            long now = Now();
            var engineConnection = _engine.Connect(now, remote.Serialize());
            core = new TouConnectionCore(this, engineConnection, LocalEndPoint, remote, ownsEndpoint);
            AfterEngineWork(now);
        }

        using (cancellationToken.UnsafeRegister(static s => ((TouConnectionCore)s!).Abort(null), core))
        {
            try
            {
                await core.ConnectedTask.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                core.Abort(null);
                throw;
            }
        }

        return new TouSocketConnection(core);
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

    /// <summary>Runs <paramref name="action"/> under the gate, and nothing else (no engine work follows).</summary>
    internal void RunLocked<TState>(TState state, Action<TState> action)
    {
        lock (_gate)
        {
            action(state);
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

    /// <summary>Test hook: the socket vanishes without sending anything, as if its host lost power.</summary>
    internal void SimulateCrashForTests()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _shutdown.Cancel();
        _timer?.Dispose();
        lock (_gate)
        {
            StopReceiving();
        }

        _socket.Dispose();
        lock (_gate)
        {
            Metrics.EndpointClosed(this, _engine.Stats);
        }

        Interlocked.Decrement(ref s_openEndpoints);
        _completion.TrySetResult(); // the socket is gone: a later DisposeAsync has nothing to wait for
    }

    internal static long Now() => TouTime.FromStopwatchTimestamp(Stopwatch.GetTimestamp());

    /// <summary>Hands out accepted connections and events, sends what the engine produced, re-arms the timer. Caller holds the gate.</summary>
    private void AfterEngineWork(long now)
    {
        // Events first: a handshake's completion or bytes for the application start the application's thread before
        // this one spends time in the kernel sending (an ACK, and after a handshake a path MTU probe of up to 64 KB).
        while (_engine.Accept() is { } accepted)
        {
            var remote = (IPEndPoint)LocalEndPoint.Create(accepted.RemoteAddress);
            var connection = new TouSocketConnection(new TouConnectionCore(this, accepted, LocalEndPoint, remote, ownsEndpoint: false));
            if (!_accepted.Writer.TryWrite(connection))
            {
                accepted.Abort(); // not listening any more
                GC.SuppressFinalize(connection);
            }
        }

        DispatchEvents();
        Flush(now); // also what event handlers produced: data consumed inline opens the window
        RescheduleTimer(now);
        if (_draining && !_disposed && (_closeWhenDelivered ? _engine.IsDelivered : _engine.IsDrained))
        {
            _disposed = true; // the last lingering connection finished: close the socket (off this thread, which may be the receive loop)
            _ = Task.Run(CloseSocketAsync);
        }
    }

    private void DispatchEvents()
    {
        while (_engine.PollEvents() is { } changed)
        {
            var events = changed.TakeEvents();
            if (changed.Context is TouConnectionCore connection)
            {
                connection.OnEvents(events);
            }
        }
    }

    private void Flush(long now) => _sender.Flush(new EngineSource(_engine, now));

    /// <summary>The engine's transmit queue as the sender's source.</summary>
    private readonly struct EngineSource(TouEndpoint engine, long now) : IDatagramSource
    {
        public int Next(Span<byte> buffer, out SocketAddress? destination) => engine.PollTransmit(now, buffer, out destination);
    }

    /// <summary>
    /// Connects the socket of an endpoint that serves one client connection to its peer, as a connected TCP socket is:
    /// the kernel then reports an ICMP port unreachable as ECONNREFUSED, so a connect to a closed port fails at once
    /// (<see cref="OnPortUnreachable"/>), and sends skip a route lookup each. Caller holds the gate or owns the socket.
    /// </summary>
    private void ConnectSocket(Socket socket, IPEndPoint remote)
    {
        socket.Connect(remote);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!; // a wildcard-bound socket now has the address it sends from
        _connectedRemote = remote;
        _sender.ConnectedTo = remote.Serialize();
    }

    /// <summary>The kernel reported the connected peer's port closed (ECONNREFUSED on a send or a receive); caller holds the gate.</summary>
    private void OnPortUnreachable()
    {
        if (_connectedRemote is { } remote && _engine.FindConnection(_sender.ConnectedTo!) is { } connection && connection.HandlePortUnreachable())
        {
            Log.PortUnreachable(_logger, remote);
        }
    }

    private void OnSendFailed(SocketAddress destination, SocketException error, int length)
    {
        Log.SendFailed(_logger, error.SocketErrorCode);
        if (error.SocketErrorCode == SocketError.MessageSize)
        {
            // Larger than the interface carries (EMSGSIZE with the don't-fragment bit): a path MTU probe lost at once, or
            // a datagram size that no longer fits; the engine adapts, the connection goes on.
            _engine.ReportDatagramTooLarge(Now(), destination, length);
            return;
        }

        if (error.SocketErrorCode == SocketError.ConnectionRefused)
        {
            OnPortUnreachable();
            return;
        }

        FailConnectOnSendError(destination, error);
    }

    /// <summary>
    /// A handshake whose SYN cannot even leave (unreachable network, a broadcast address, ...) fails at once
    /// with the socket's error rather than after the handshake timeout. Other send errors are transient to a
    /// datagram transport: the loss is repaired like any other.
    /// </summary>
    private void FailConnectOnSendError(SocketAddress destination, SocketException error)
    {
        if (error.SocketErrorCode is SocketError.WouldBlock or SocketError.NoBufferSpaceAvailable or SocketError.Interrupted
            || _engine.FindConnection(destination) is not { IsClient: true, State: TouConnectionState.Connecting } connection
            || connection.Context is not TouConnectionCore core)
        {
            return;
        }

        core.AbortLocked(error);
    }

    /// <summary>
    /// Stops accepting, aborts the connections the application still holds, and returns at once. Connections the
    /// application has disposed go on until they are done, then the socket closes (<see cref="Completion"/>).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        bool drained;
        lock (_gate)
        {
            if (_draining)
            {
                return ValueTask.CompletedTask;
            }

            _draining = true;
            _engine.Shutdown();
            AfterEngineWork(Now()); // the RSTs of the aborted ones, their Closed events; closes the socket if nothing lingers
            drained = _disposed;
        }

        _accepted.Writer.TryComplete();
        return drained ? new ValueTask(_completion.Task) : ValueTask.CompletedTask;
    }

    /// <summary>
    /// For a host about to exit: disposes the endpoint, waits until the connections the application closed have had
    /// all their data and FIN acknowledged (or gave up), then closes the socket at once, resetting connections that
    /// only wait for their peer's FIN (TCP would keep those in FIN-WAIT-2 after the process left; TOU's state dies
    /// with the process, so the peer is told). Cancelling stops the wait, not the lingering.
    /// </summary>
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _closeWhenDelivered = true;
            if (_draining && !_disposed)
            {
                AfterEngineWork(Now()); // disposed already: close now if everything is delivered
            }
        }

        await DisposeAsync().ConfigureAwait(false);
        await _completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the socket, the loop and the timer. Runs once, after the gate has set <see cref="_disposed"/>.</summary>
    private async Task CloseSocketAsync()
    {
        if (CloseBarrier is { } barrier)
        {
            await barrier.ArriveAsync().ConfigureAwait(false);
        }

        lock (_gate)
        {
            // Anything still open (handshakes, or connections given up) ends now, with its Closed event.
            _engine.AbortAll();
            Flush(Now());
            DispatchEvents();
            Metrics.EndpointClosed(this, _engine.Stats);
            _engine.Dispose();
        }

        _accepted.Writer.TryComplete();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        Task receiveLoop;
        lock (_gate)
        {
            receiveLoop = StopReceiving();
        }

        _socket.Dispose();
        try
        {
            await receiveLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }

        _shutdown.Dispose();
        Interlocked.Decrement(ref s_openEndpoints);
        _completion.TrySetResult();
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Debug, "TOU socket receive failed: {Error}")]
        public static partial void ReceiveFailed(ILogger logger, SocketError error);

        [LoggerMessage(101, LogLevel.Debug, "TOU socket send failed: {Error}")]
        public static partial void SendFailed(ILogger logger, SocketError error);

        [LoggerMessage(103, LogLevel.Debug, "TOU connect to {Remote} refused: the network reported its port closed")]
        public static partial void PortUnreachable(ILogger logger, IPEndPoint remote);

        [LoggerMessage(102, LogLevel.Error, "TOU endpoint failed handling its socket on the I/O loop")]
        public static partial void LoopFault(ILogger logger, Exception exception);
    }
}
