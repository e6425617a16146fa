using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tou.Transport;

/// <summary>
/// A listening UDP port served by one or more <see cref="TouSocketEndpoint"/> shards (<see cref="TouTransportOptions.ListenerShards"/>):
/// on Linux several sockets share the port through SO_REUSEPORT, each with its own engine, receive loop, timer and
/// lock, and the kernel keeps every peer on one of them. The shards share one secret, so a SYN cookie issued by one
/// validates on any. <see cref="AcceptAsync"/> hands out the connections of all of them.
/// </summary>
public sealed partial class TouSocketListener : IAsyncDisposable
{
    private const int PortZeroAttempts = 3;
    private readonly TouSocketEndpoint[] _shards;
    private readonly Channel<TouSocketConnection>? _accepted; // null with one shard: its own queue serves AcceptAsync

    private TouSocketListener(TouSocketEndpoint[] shards)
    {
        _shards = shards;
        Shards = Array.AsReadOnly(shards);
        LocalEndPoint = shards[0].LocalEndPoint;
        Completion = Task.WhenAll(shards.Select(s => s.Completion));
        if (shards.Length > 1)
        {
            _accepted = Channel.CreateUnbounded<TouSocketConnection>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
            _ = MergeAcceptedAsync(_accepted.Writer);
        }
    }

    /// <summary>The sockets serving the port, each a listening <see cref="TouSocketEndpoint"/> (for their counters;
    /// accept through the listener).</summary>
    public IReadOnlyList<TouSocketEndpoint> Shards { get; }

    /// <summary>The address and port every shard is bound to (the real port when 0 was asked).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Completes once every shard has closed its socket (see <see cref="TouSocketEndpoint.Completion"/>).</summary>
    public Task Completion { get; }

    /// <summary>Whether incoming connections are accepted.</summary>
    public bool IsListening => _shards.Any(s => s.IsListening);

    /// <summary>Connections the shards hold now, together.</summary>
    public int ConnectionCount => _shards.Sum(s => s.ConnectionCount);

    /// <summary>
    /// Binds a listening port: <see cref="TouTransportOptions.ListenerShards"/> UDP sockets sharing it (one where
    /// SO_REUSEPORT does not spread load). An IPv6 "any" address also accepts IPv4 (dual mode).
    /// </summary>
    /// <exception cref="SocketException">The address is in use (<see cref="SocketError.AddressAlreadyInUse"/>) or cannot be bound.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (see <see cref="TouTransportOptions.Validate"/>).</exception>
    public static TouSocketListener Bind(IPEndPoint localEndPoint, TouTransportOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        options ??= new TouTransportOptions();
        options.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;
        int count = options.ResolveListenerShards();
        var listener = count == 1
            ? new TouSocketListener([TouSocketEndpoint.Bind(localEndPoint, options, loggerFactory, listen: true)])
            : BindShards(localEndPoint, options, loggerFactory, count);
        Log.Listening(loggerFactory.CreateLogger("Tou.Transport"), listener.LocalEndPoint, listener._shards.Length);
        return listener;
    }

    private static TouSocketListener BindShards(IPEndPoint localEndPoint, TouTransportOptions options, ILoggerFactory loggerFactory, int count)
    {
        // One secret for all shards, from the engine's own source of randomness (a seeded RandomSource stays reproducible).
        var secret = options.Protocol.EndpointSecret;
        if (secret is null)
        {
            secret = new byte[32]; // TouOptions.EndpointSecret's size
            (options.Protocol.RandomSource ?? RandomNumberGenerator.Fill)(secret);
        }

        var shardOptions = options.WithEndpointSecret(secret);
        for (int attempt = 1; ; attempt++)
        {
            // With port 0 the probed port may be taken before the shards bind; another free one is then tried.
            int port = ReusePort.ProbeFreePort(localEndPoint);
            try
            {
                return new TouSocketListener(BindGroup(new IPEndPoint(localEndPoint.Address, port), shardOptions, loggerFactory, count));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && localEndPoint.Port == 0 && attempt < PortZeroAttempts)
            {
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ProtocolOption or SocketError.OperationNotSupported)
            {
                // A kernel without SO_REUSEPORT (before 3.9): one socket, as on other systems.
                return new TouSocketListener([TouSocketEndpoint.Bind(localEndPoint, options, loggerFactory, listen: true)]);
            }
        }
    }

    /// <summary>Binds <paramref name="count"/> sockets to one port; if one fails, those already bound are closed.</summary>
    private static TouSocketEndpoint[] BindGroup(IPEndPoint at, TouTransportOptions options, ILoggerFactory loggerFactory, int count)
    {
        var shards = new List<TouSocketEndpoint>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                shards.Add(TouSocketEndpoint.Bind(at, options, loggerFactory, listen: true, reusePort: true));
            }

            var barrier = new ShardCloseBarrier(count);
            TouSocketEndpoint[] group = [.. shards];
            for (int i = 0; i < group.Length; i++)
            {
                group[i].CloseBarrier = barrier; // before anything can drain: the group closes its sockets together
                group[i].JoinShards(group, (byte)i); // connection IDs name their shard; a migrated client's datagrams find it
            }

            return group;
        }
        catch
        {
            foreach (var shard in shards)
            {
                _ = shard.DisposeAsync(); // nothing connected yet: each closes its socket at once
            }

            throw;
        }
    }

    /// <summary>Waits for the next incoming connection on any shard; null once the listener is stopped or disposed
    /// and every connection accepted before that has been handed out.</summary>
    public async ValueTask<TouSocketConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (_accepted is null)
        {
            return await _shards[0].AcceptAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>Moves every shard's accepted connections into the one queue; completes it when all shards stop accepting.</summary>
    private async Task MergeAcceptedAsync(ChannelWriter<TouSocketConnection> writer)
    {
        await Task.WhenAll(_shards.Select(shard => ForwardAsync(shard, writer))).ConfigureAwait(false);
        writer.TryComplete();
    }

    private static async Task ForwardAsync(TouSocketEndpoint shard, ChannelWriter<TouSocketConnection> writer)
    {
        while (await shard.AcceptAsync().ConfigureAwait(false) is { } connection)
        {
            writer.TryWrite(connection); // unbounded, and completed only after this loop: never refuses
        }
    }

    /// <summary>Stops accepting new connections on every shard (established ones go on).</summary>
    public void StopListening()
    {
        foreach (var shard in _shards)
        {
            shard.StopListening();
        }
    }

    /// <summary>Disposes every shard (see <see cref="TouSocketEndpoint.DisposeAsync"/>): returns at once while connections
    /// the application closed still deliver, otherwise once the sockets are closed. The shards' sockets close together,
    /// when the last shard is done (<see cref="Completion"/>): closing one early would move other shards' peers onto
    /// sockets that do not know them.</summary>
    public async ValueTask DisposeAsync()
    {
        var closing = _shards.Select(s => s.DisposeAsync().AsTask()).ToArray();
        if (_shards.All(s => s.IsClosingSocket))
        {
            // Nothing lingers anywhere: the sockets close now (a shard that drained alone waits for the others,
            // so its task is not awaited while another still delivers).
            await Task.WhenAll(closing).ConfigureAwait(false);
        }
    }

    /// <summary>Drains every shard (see <see cref="TouSocketEndpoint.DrainAsync"/>).</summary>
    public Task DrainAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(_shards.Select(s => s.DrainAsync(cancellationToken)));

    private static partial class Log
    {
        [LoggerMessage(120, LogLevel.Debug, "TOU listening on {EndPoint} with {Shards} socket(s)")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint, int shards);
    }
}
