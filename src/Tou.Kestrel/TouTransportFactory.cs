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
/// Kestrel's transport for TOU endpoints: it binds <see cref="TouEndPoint"/>s only, so the socket transport
/// keeps the TCP endpoints of the same server.
/// </summary>
public sealed class TouTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly TouTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SocketCloseTracker _sockets = new();

    /// <summary>Created by dependency injection (<see cref="TouHostingExtensions.AddTouTransport"/>) with the configured options.</summary>
    /// <param name="options">Transport and engine settings; its <see cref="TouTransportOptions.ExceptionFactory"/> is set to
    /// produce the exceptions Kestrel expects (<c>ConnectionResetException</c>, <c>ConnectionAbortedException</c>).</param>
    /// <param name="loggerFactory">Where the transport and the engine log; null logs nothing.</param>
    public TouTransportFactory(IOptions<TouTransportOptions> options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.WithKestrelExceptions();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>True for <see cref="TouEndPoint"/>s only, so Kestrel gives every other endpoint to its other transports.</summary>
    public bool CanBind(EndPoint endpoint) => endpoint is TouEndPoint;

    /// <summary>
    /// For a host about to exit: closes every listener this factory bound once the connections the application
    /// closed have had all their data and FIN acknowledged (or gave up after <c>TouOptions.LingerTimeout</c>
    /// without progress); see <see cref="TouSocketEndpoint.DrainAsync"/>. <c>UseTou</c> makes a stopping host do
    /// this after Kestrel has stopped, within the host's shutdown timeout.
    /// </summary>
    public Task DrainAsync(CancellationToken cancellationToken = default) => _sockets.DrainAsync(cancellationToken);

    /// <summary>Listener sockets bound by this factory and not closed yet.</summary>
    public int OpenSockets => _sockets.OpenCount;

    /// <summary>Binds a listening UDP port at <paramref name="endpoint"/> (one socket per shard, <see cref="TouTransportOptions.ListenerShards"/>), which must be a <see cref="TouEndPoint"/>;
    /// Kestrel calls this for each <c>ListenTou</c>.</summary>
    /// <exception cref="NotSupportedException"><paramref name="endpoint"/> is not a <see cref="TouEndPoint"/>.</exception>
    /// <exception cref="AddressInUseException">The UDP port is already in use.</exception>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not TouEndPoint tou)
        {
            throw new NotSupportedException($"The TOU transport binds TouEndPoint only, not {endpoint?.GetType().Name ?? "null"}; use ListenTou(...) for TOU endpoints.");
        }

        try
        {
            var listener = TouSocketListener.Bind(tou.IPEndPoint, _options, _loggerFactory);
            foreach (var shard in listener.Shards)
            {
                _sockets.Track(shard);
            }

            return ValueTask.FromResult<IConnectionListener>(new TouConnectionListener(listener, _options.MemoryPool ?? MemoryPool<byte>.Shared));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException($"UDP port {tou.IPEndPoint} is already in use, so TOU cannot listen on it.", ex);
        }
    }
}
