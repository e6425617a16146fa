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
/// Kestrel's transport for TOU endpoints: Kestrel gives it <see cref="TouEndPoint"/>s only (<see cref="CanBind"/>), so
/// the socket transport keeps the TCP endpoints of the same server. Used directly — Bedrock's <c>ServerBuilder</c>,
/// or any <see cref="IConnectionListenerFactory"/> user — it is created with <c>new TouTransportFactory()</c> and binds
/// plain <see cref="IPEndPoint"/>s too.
/// </summary>
public sealed class TouTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly IOptions<TouTransportOptions> _optionsSource;
    private readonly ILoggerFactory _loggerFactory;
    private TouTransportOptions? _options;
    private readonly SocketCloseTracker _sockets = new();

    /// <summary>A factory with the default <see cref="TouTransportOptions"/> and no logging, for use without dependency injection.</summary>
    public TouTransportFactory()
        : this(Microsoft.Extensions.Options.Options.Create(new TouTransportOptions()))
    {
    }

    /// <summary>Created by dependency injection (<see cref="TouHostingExtensions.AddTouTransport"/>) with the configured options.</summary>
    /// <param name="options">Transport and engine settings; its <see cref="TouTransportOptions.ExceptionFactory"/> is set to
    /// produce the exceptions Kestrel expects (<c>ConnectionResetException</c>, <c>ConnectionAbortedException</c>).</param>
    /// <param name="loggerFactory">Where the transport and the engine log; null logs nothing.</param>
    public TouTransportFactory(IOptions<TouTransportOptions> options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _optionsSource = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>The options, read at the first bind rather than when Kestrel creates the factory (while the app is built), so
    /// that a bad setting fails the host's start, with the other options validated there.</summary>
    private TouTransportOptions Options => _options ??= _optionsSource.Value.WithKestrelExceptions();

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

    /// <summary>Binds a listening UDP port (one socket per shard, <see cref="TouTransportOptions.ListenerShards"/>) at <paramref name="endpoint"/>: a <see cref="TouEndPoint"/> (what Kestrel passes for
    /// each <c>ListenTou</c>) or, when called directly, a plain <see cref="IPEndPoint"/>. The listener's
    /// <see cref="IConnectionListener.EndPoint"/> is of the same kind, with the port the system picked for port 0.</summary>
    /// <exception cref="NotSupportedException"><paramref name="endpoint"/> is neither a <see cref="TouEndPoint"/> nor an <see cref="IPEndPoint"/>.</exception>
    /// <exception cref="AddressInUseException">The UDP port is already in use.</exception>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var (address, asTou) = endpoint switch
        {
            TouEndPoint tou => (tou.IPEndPoint, true),
            IPEndPoint ip => (ip, false),
            _ => throw new NotSupportedException($"The TOU transport binds TouEndPoint or IPEndPoint, not {endpoint?.GetType().Name ?? "null"}; use ListenTou(...) for TOU endpoints in Kestrel."),
        };

        try
        {
            var options = Options;
            var listener = TouSocketListener.Bind(address, options, _loggerFactory);
            foreach (var shard in listener.Shards)
            {
                _sockets.Track(shard);
            }

            return ValueTask.FromResult<IConnectionListener>(new TouConnectionListener(listener, options.MemoryPool ?? MemoryPool<byte>.Shared, asTou));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException($"UDP port {address} is already in use, so TOU cannot listen on it.", ex);
        }
    }
}
