using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// Opens client connections over TOU: what Bedrock's <c>ClientBuilder.UseConnectionFactory(...)</c>, SignalR's
/// <c>HubConnectionBuilder</c> and the HttpClient helper need. Accepts <see cref="IPEndPoint"/>,
/// <see cref="DnsEndPoint"/> and <see cref="TouEndPoint"/>. Each connection gets its own UDP socket, released
/// once the connection is disposed (or, if the application forgot it, finalized) and its close has finished;
/// <see cref="DrainAsync"/> waits for that before a process exits.
/// </summary>
public sealed class TouConnectionFactory : IConnectionFactory
{
    private readonly TouTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SocketCloseTracker _sockets = new();

    /// <summary>A factory with the default <see cref="TouTransportOptions"/> and no logging.</summary>
    public TouConnectionFactory()
        : this(Options.Create(new TouTransportOptions()))
    {
    }

    /// <summary>A factory whose connections use <paramref name="options"/> (validated here) and log to <paramref name="loggerFactory"/>.</summary>
    /// <param name="options">Transport and engine settings; its <see cref="TouTransportOptions.ExceptionFactory"/> is set to
    /// produce the exceptions ASP.NET Core expects (<c>ConnectionResetException</c>, <c>ConnectionAbortedException</c>).</param>
    /// <param name="loggerFactory">Where the transport and the engine log; null logs nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public TouConnectionFactory(IOptions<TouTransportOptions> options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.WithKestrelExceptions();
        _options.Validate();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>
    /// Opens a TOU connection to <paramref name="endpoint"/> from a new UDP socket and completes once the handshake
    /// has. A <see cref="DnsEndPoint"/> is resolved and its addresses are tried in turn, as <c>Socket.ConnectAsync</c> does.
    /// The context's features include <see cref="ITouConnectionFeature"/>; disposing it closes the connection.
    /// </summary>
    /// <exception cref="TouConnectionException">Refused, or the handshake did not complete within its timeout; its inner exception is
    /// a <see cref="SocketException"/> with <see cref="SocketError.ConnectionRefused"/> or <see cref="SocketError.TimedOut"/>, as a
    /// TCP connect would throw, so socket-minded retry code recognises it (<c>GetBaseException() is SocketException</c>).</exception>
    /// <exception cref="NotSupportedException"><paramref name="endpoint"/> is not an <see cref="IPEndPoint"/>, <see cref="DnsEndPoint"/> or <see cref="TouEndPoint"/>.</exception>
    /// <exception cref="SocketException">The host name did not resolve.</exception>
    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        IPAddress[] addresses;
        int port;
        switch (endpoint)
        {
            case TouEndPoint tou:
                addresses = [tou.IPEndPoint.Address];
                port = tou.IPEndPoint.Port;
                break;
            case IPEndPoint ip:
                addresses = [ip.Address];
                port = ip.Port;
                break;
            case DnsEndPoint dns:
                addresses = await Dns.GetHostAddressesAsync(dns.Host, dns.AddressFamily, cancellationToken).ConfigureAwait(false);
                port = dns.Port;
                if (addresses.Length == 0)
                {
                    throw new SocketException((int)SocketError.HostNotFound);
                }

                break;
            default:
                throw new NotSupportedException($"TOU connects to IPEndPoint, DnsEndPoint or TouEndPoint, not {endpoint.GetType().Name}.");
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            try
            {
                return await ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
            }
            catch (TouConnectionException ex)
            {
                last = ex; // try the next address, as Socket.ConnectAsync does
            }
        }

        throw last!;
    }

    /// <summary>
    /// For a process about to exit: waits until the connections this factory opened and the application disposed
    /// have had all their data and FIN acknowledged (or gave up), then closes their sockets; connections still held
    /// are aborted (see <see cref="TouSocketEndpoint.DrainAsync"/>). Without it, data written just before a dispose
    /// may be lost with the process. A host that registered the factory with <c>AddTouConnectionFactory</c> does
    /// this when it stops.
    /// </summary>
    public Task DrainAsync(CancellationToken cancellationToken = default) => _sockets.DrainAsync(cancellationToken);

    /// <summary>Sockets of connections this factory opened that are not closed yet.</summary>
    public int OpenSockets => _sockets.OpenCount;

    private async ValueTask<ConnectionContext> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken)
    {
        var connection = await TouSocketConnection.ConnectAsync(remote, _options, _loggerFactory, cancellationToken).ConfigureAwait(false);
        _sockets.Track(connection.Endpoint);
        return new TouConnectionContext(connection, _options.MemoryPool ?? MemoryPool<byte>.Shared);
    }
}
