using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Tou.Protocol;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// A TOU connection as ASP.NET Core sees it: a <see cref="ConnectionContext"/> whose transport is the
/// connection's duplex pipe, with the features Kestrel and middleware use.
/// </summary>
internal sealed class TouConnectionContext : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature, ITouConnectionFeature
{
    private readonly TouSocketConnection _connection;
    private EndPoint? _remoteEndPointOverride;
    private IDictionary<object, object?>? _items;
    private int _disposed;

    public TouConnectionContext(TouSocketConnection connection, MemoryPool<byte> memoryPool)
    {
        _connection = connection;
        MemoryPool = memoryPool;
        ConnectionId = "tou-" + connection.Id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        Transport = connection.Transport;
        LocalEndPoint = connection.LocalEndPoint;
        ConnectionClosed = connection.Closed;
        var features = new FeatureCollection();
        features.Set<IConnectionIdFeature>(this);
        features.Set<IConnectionTransportFeature>(this);
        features.Set<IConnectionItemsFeature>(this);
        features.Set<IConnectionLifetimeFeature>(this);
        features.Set<IConnectionEndPointFeature>(this);
        features.Set<IMemoryPoolFeature>(this);
        features.Set<ITouConnectionFeature>(this);
        features.Set(connection);
        Features = features;
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    /// <summary>The peer's address: the connection's current one (it follows a peer that moved, with connection IDs)
    /// unless middleware set another.</summary>
    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPointOverride ?? _connection.RemoteEndPoint;
        set => _remoteEndPointOverride = value;
    }

    public override CancellationToken ConnectionClosed { get; set; }

    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>The underlying TOU connection (also available as a feature).</summary>
    public TouSocketConnection Connection => _connection;

    public TouNegotiation Negotiation => _connection.Negotiation;

    public override void Abort(ConnectionAbortedException abortReason) => _connection.Abort(abortReason);

    public override void Abort() => _connection.Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    /// <summary>Closes like a TCP socket's close and returns at once (see <see cref="TouSocketConnection.DisposeAsync"/>).</summary>
    public override ValueTask DisposeAsync() =>
        Interlocked.Exchange(ref _disposed, 1) == 0 ? _connection.DisposeAsync() : ValueTask.CompletedTask;
}
