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
/// once the connection is disposed and its close has finished.
/// </summary>
public sealed class TouConnectionFactory : IConnectionFactory
{
    private readonly TouTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;

    public TouConnectionFactory()
        : this(Options.Create(new TouTransportOptions()))
    {
    }

    public TouConnectionFactory(IOptions<TouTransportOptions> options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.WithKestrelExceptions();
        _options.Validate();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <exception cref="TouConnectionException">Refused, or the handshake did not complete within its timeout.</exception>
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

    private async ValueTask<ConnectionContext> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken)
    {
        var local = new IPEndPoint(remote.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var socketEndpoint = TouSocketEndpoint.Bind(local, _options, _loggerFactory);
        try
        {
            var connection = await socketEndpoint.ConnectAsync(remote, cancellationToken).ConfigureAwait(false);
            return new TouConnectionContext(connection, _options.MemoryPool ?? MemoryPool<byte>.Shared, () => ReleaseWhenClosedAsync(connection, socketEndpoint));
        }
        catch
        {
            await socketEndpoint.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The socket outlives the application's dispose until the FIN exchange ends (or the orphan timeout aborts it).</summary>
    private static ValueTask ReleaseWhenClosedAsync(TouSocketConnection connection, TouSocketEndpoint endpoint)
    {
        if (connection.Closed.IsCancellationRequested)
        {
            return endpoint.DisposeAsync();
        }

        connection.Closed.UnsafeRegister(static s => _ = ((TouSocketEndpoint)s!).DisposeAsync().AsTask(), endpoint);
        return ValueTask.CompletedTask;
    }
}
