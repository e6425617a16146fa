using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Tou.Transport;

namespace Tou.Kestrel;

internal sealed class TouConnectionListener : IConnectionListener
{
    private readonly TouSocketListener _endpoint; // one socket per shard (TouTransportOptions.ListenerShards)
    private readonly MemoryPool<byte> _memoryPool;

    /// <param name="asTouEndPoint">Report <see cref="EndPoint"/> as a <see cref="TouEndPoint"/> (Kestrel's listeners) or as the
    /// plain <see cref="IPEndPoint"/> a direct caller bound.</param>
    public TouConnectionListener(TouSocketListener endpoint, MemoryPool<byte> memoryPool, bool asTouEndPoint = true)
    {
        _endpoint = endpoint;
        _memoryPool = memoryPool;
        EndPoint = asTouEndPoint ? new TouEndPoint(endpoint.LocalEndPoint) : endpoint.LocalEndPoint;
    }

    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var connection = await _endpoint.AcceptAsync(cancellationToken).ConfigureAwait(false);
        return connection is null ? null : new TouConnectionContext(connection, _memoryPool);
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _endpoint.StopListening();
        return ValueTask.CompletedTask;
    }

    /// <summary>Returns at once; connections Kestrel has closed finish delivering in the background (see <see cref="TouTransportFactory.DrainAsync"/>).</summary>
    public ValueTask DisposeAsync() => _endpoint.DisposeAsync();
}
