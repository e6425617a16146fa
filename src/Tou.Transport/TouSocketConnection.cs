using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// A TOU connection over a <see cref="TouSocketEndpoint"/>, exposed as a duplex pipe with backpressure
/// both ways: the application reads <see cref="Transport"/>.Input (a slow reader leaves data in the engine,
/// whose window then closes) and writes <see cref="Transport"/>.Output (a slow peer leaves data in the pipe,
/// so the application's FlushAsync waits). Two small async pumps move bytes; no thread or timer per connection.
/// </summary>
/// <remarks>
/// This is the application's handle. Disposing it closes the connection the way closing a TCP socket does (see
/// <see cref="DisposeAsync"/>); a handle that is dropped without being disposed is closed the same way once the
/// garbage collector finalizes it, so a forgotten connection does not hold its socket, loop and timer forever.
/// </remarks>
public sealed class TouSocketConnection : IAsyncDisposable
{
    private readonly TouConnectionCore _core;

    internal TouSocketConnection(TouConnectionCore core) => _core = core;

    /// <summary>Runs only when the application dropped the handle without disposing it.</summary>
    ~TouSocketConnection() => _core.ReleaseForgotten();

    /// <summary>The application's side: read what the peer sent, write what to send.</summary>
    public IDuplexPipe Transport => _core.Transport;

    /// <summary>The local address and port of the UDP socket the connection uses (for a connection opened with
    /// <see cref="ConnectAsync(IPEndPoint, TouTransportOptions?, ILoggerFactory?, CancellationToken)"/>, the address the
    /// system routes to the peer from, as for a TCP connection).</summary>
    public IPEndPoint LocalEndPoint => _core.LocalEndPoint;

    /// <summary>The peer's address and port; with connection IDs, the new one once the connection has followed the
    /// peer to a validated new address (a NAT rebinding, a network change).</summary>
    public IPEndPoint RemoteEndPoint => _core.RemoteEndPoint;

    /// <summary>Process-unique connection number.</summary>
    public long Id => _core.Engine.Id;

    /// <summary>Fires (on the thread pool) once the connection has ended, gracefully or not.</summary>
    public CancellationToken Closed => _core.Closed;

    /// <summary>Why the connection ended, or <see cref="TouCloseReason.None"/> while it lasts.</summary>
    public TouCloseReason CloseReason => _core.Endpoint.Run(_core.Engine, static e => e.CloseReason);

    /// <summary>What the handshake agreed: extensions, SACK, integrity, window scaling, segment size.</summary>
    public TouNegotiation Negotiation => _core.Endpoint.Run(_core.Engine, static e => e.Negotiation);

    internal Task ConnectedTask => _core.ConnectedTask;

    /// <summary>The endpoint (UDP socket) this connection uses; its own for a connection opened with <see cref="ConnectAsync(IPEndPoint, TouTransportOptions?, ILoggerFactory?, CancellationToken)"/>.</summary>
    public TouSocketEndpoint Endpoint => _core.Endpoint;

    /// <summary>
    /// Opens a connection to <paramref name="remote"/> from a UDP socket of its own (an ephemeral port), which is
    /// closed once the connection has been disposed and its close has finished.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="remote"/> cannot be connected to (any, broadcast or multicast address, port 0).</exception>
    /// <exception cref="TouConnectionException">Refused, or no answer within the handshake timeout; its inner exception is a
    /// <see cref="SocketException"/> with <see cref="SocketError.ConnectionRefused"/> or <see cref="SocketError.TimedOut"/>.</exception>
    /// <exception cref="SocketException">The system has no route to <paramref name="remote"/> (e.g. <see cref="SocketError.NetworkUnreachable"/>).</exception>
    public static async Task<TouSocketConnection> ConnectAsync(IPEndPoint remote, TouTransportOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        TouSocketEndpoint.ValidateRemote(remote);
        // Bound to "any": connecting the socket to the peer (ConnectAsync does) picks the local address the system routes
        // from, as a TCP connect does, so LocalEndPoint becomes the real address without a probe socket of its own.
        var any = remote.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        var endpoint = TouSocketEndpoint.Bind(new IPEndPoint(any, 0), options, loggerFactory);
        try
        {
            return await endpoint.ConnectAsync(remote, ownsEndpoint: true, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Moves this connection to a new local UDP socket, as after a network change (Wi-Fi to cellular, a new VPN): the
    /// socket is bound to <paramref name="localEndPoint"/> (null: an ephemeral port on the address the system now routes
    /// to the peer from), the old one is closed, and the connection speaks from the new one at once; the peer processes
    /// its packets and sends there once the new address has answered its challenge (docs/protocol.md §5.7). Data in
    /// flight on the old socket is retransmitted; nothing the application wrote or reads is affected.
    /// </summary>
    /// <param name="localEndPoint">Where to bind the new socket; null picks as <see cref="ConnectAsync"/> does.</param>
    /// <exception cref="InvalidOperationException">The connection was accepted (it shares its listener's socket), or it
    /// did not agree connection IDs (<see cref="TouOptions.EnableConnectionIds"/> on both sides).</exception>
    /// <exception cref="ObjectDisposedException">The connection's endpoint is closing.</exception>
    /// <exception cref="SocketException">The new socket could not be bound.</exception>
    public Task RebindAsync(IPEndPoint? localEndPoint = null) =>
        _core.RebindAsync(localEndPoint ?? new IPEndPoint(LocalAddressFor(RemoteEndPoint), 0));

    /// <summary>
    /// The local address the system routes <paramref name="remote"/> from, as a connected TCP socket would report it
    /// (a UDP socket bound to "any" reports 0.0.0.0 forever). Asking costs nothing on the wire: connecting a UDP
    /// socket only looks up the route. Where there is no route, "any", so that the SYN's send fails as before.
    /// </summary>
    private static IPAddress LocalAddressFor(IPEndPoint remote)
    {
        var any = remote.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        try
        {
            using var probe = new Socket(remote.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(remote);
            return probe.LocalEndPoint is IPEndPoint { Address: var local } && !local.Equals(any) ? local : any;
        }
        catch (SocketException)
        {
            return any;
        }
    }

    /// <summary>Runs <paramref name="read"/> on the engine connection's counters under the endpoint's lock.</summary>
    public T ReadStats<T>(Func<TouConnectionStats, long, long, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return _core.Endpoint.Run((_core.Engine, read), static s => s.read(s.Engine.Stats, s.Engine.SmoothedRttUs, s.Engine.CongestionWindow));
    }

    /// <summary>
    /// Runs <paramref name="read"/> with the engine's connection under the endpoint's lock, for what the counters do not
    /// hold (bytes in flight, the congestion window, RTT). Read only, and keep no reference to the connection after it returns.
    /// </summary>
    public T Inspect<T>(Func<TouConnection, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return _core.Endpoint.Run((_core.Engine, read), static s => s.read(s.Engine));
    }

    /// <summary>Ends the connection at once with RST; pending reads and writes fail with <paramref name="reason"/> or a connection-aborted error.</summary>
    public void Abort(Exception? reason) => _core.Abort(reason);

    /// <summary>
    /// Closes the connection as closing a TCP socket does, and returns at once: what was written is still
    /// delivered and a FIN follows, in the background, until the peer has acknowledged it all (giving up after
    /// <see cref="TouOptions.LingerTimeout"/> without progress); reading stops, and data the application left
    /// unread, or that arrives from now on, resets the connection so the peer learns that nobody reads.
    /// A host waits for lingering connections with <see cref="TouSocketEndpoint.DrainAsync"/> or <see cref="TouSocketEndpoint.Completion"/>.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _core.CloseByApplicationAsync();
    }
}
