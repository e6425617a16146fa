using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

// Connection IDs (docs/protocol.md §5.7): the IDs this endpoint hands out, routing by the ID a datagram carries before
// routing by its address, and following a connection to its peer's new address.
public sealed partial class TouEndpoint
{
    private readonly Dictionary<ulong, ConnectionEntry> _byId = new();
    private readonly Dictionary<ulong, (SocketAddress Record, long ExpiresUs)> _closedIds = new(); // ID -> its recently-closed record
    private readonly Queue<(ulong Id, long ExpiresUs)> _closedIdOrder = new();
    private ConnectionIdGenerator? _idGenerator;

    /// <summary>
    /// This endpoint's listener shard (one socket of a port shared with SO_REUSEPORT), encoded in the connection IDs it
    /// chooses next to <see cref="TouOptions.ConnectionIdServerId"/>, so that the packets of a connection whose client
    /// moved can be handed to the shard that owns it. 0 by default.
    /// </summary>
    public byte ListenerShard { get; set; }

    /// <summary>
    /// Where a datagram goes whose connection ID this endpoint's settings decode to another listener shard of this
    /// server (the kernel steers a client's new address to any shard of the port): the host hands it to that shard and
    /// returns true, or returns false (e.g. no such shard) and the endpoint treats it as unknown. Called on the engine's
    /// owner; the datagram is only valid during the call. Null (the default): no forwarding.
    /// </summary>
    public TouShardForwarder? ShardForwarder { get; set; }

    /// <summary>
    /// The server ID and listener shard encoded in <paramref name="connectionId"/> under <paramref name="options"/>' settings
    /// (<see cref="TouOptions.ConnectionIdServerIdLength"/>, <see cref="TouOptions.ConnectionIdKey"/>), as a load balancer
    /// or a sibling shard reads them; false when the ID carries no routing information.
    /// </summary>
    public static bool TryDecodeConnectionId(TouOptions options, ulong connectionId, out int serverId, out byte shard)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var generator = new ConnectionIdGenerator(options);
        bool routable = generator.TryDecode(connectionId, out uint id, out shard);
        serverId = (int)id;
        return routable;
    }

    /// <summary>A new, unique ID for <paramref name="entry"/>'s connection, routed to it from now on.</summary>
    private ulong AssignConnectionId(ConnectionEntry entry)
    {
        _idGenerator ??= new ConnectionIdGenerator(_options);
        ulong id;
        do
        {
            id = _idGenerator.Create(ListenerShard);
        }
        while (_byId.ContainsKey(id));

        _byId.Add(id, entry);
        entry.Connection.LocalConnectionId = id;
        return id;
    }

    /// <summary>
    /// A datagram that ends with an ID of ours goes to that connection, from whatever address: from the connection's own
    /// address it is handled as usual, from another one the connection decides (tag first, then path validation).
    /// </summary>
    private bool TryRouteById(long nowUs, SocketAddress remote, ReadOnlySpan<byte> datagram)
    {
        if (!TouHeader.TryRead(datagram, out var header) || (header.Flags & TouFlags.Syn) != 0
            || !ConnectionIdOptions.TryReadId(datagram, header.PayloadLength, out ulong id))
        {
            return false;
        }

        if (!_byId.TryGetValue(id, out var entry))
        {
            return TryAnswerLateById(nowUs, remote, header, datagram, id);
        }

        var connection = entry.Connection;
        if (connection.RemoteAddress.Equals(remote))
        {
            connection.HandleDatagram(nowUs, datagram);
        }
        else
        {
            Stats.DatagramsFromNewPath++;
            connection.HandleDatagramFromPath(nowUs, remote, datagram);
        }

        AfterActivity(entry);
        return true;
    }

    /// <summary>A datagram with an ID that is not ours but names another shard of this server goes to that shard.</summary>
    private bool TryForwardToShard(SocketAddress remote, in TouHeader header, ReadOnlySpan<byte> datagram)
    {
        if (ShardForwarder is not { } forward || !_options.EnableConnectionIds || (header.Flags & TouFlags.Syn) != 0
            || !ConnectionIdOptions.TryReadId(datagram, header.PayloadLength, out ulong id))
        {
            return false;
        }

        _idGenerator ??= new ConnectionIdGenerator(_options);
        if (!_idGenerator.TryDecode(id, out uint serverId, out byte shard) || serverId != (uint)_options.ConnectionIdServerId
            || shard == ListenerShard || !forward(shard, remote, datagram))
        {
            return false;
        }

        Stats.DatagramsForwarded++;
        return true;
    }

    /// <summary>The connection a receive-offload buffer from an address we do not know belongs to, by its first packet's ID.</summary>
    private ConnectionEntry? FindById(ReadOnlySpan<byte> buffer, in TouHeader first)
    {
        if (_byId.Count == 0 || (first.Flags & TouFlags.Syn) != 0 || buffer.Length < TouHeader.Size + first.PayloadLength + ConnectionIdOptions.TrailerSize)
        {
            return null;
        }

        var packet = buffer[..(TouHeader.Size + first.PayloadLength + ConnectionIdOptions.TrailerSize)];
        return ConnectionIdOptions.TryReadId(packet, first.PayloadLength, out ulong id) && _byId.TryGetValue(id, out var entry) ? entry : null;
    }

    /// <summary>Forgets <paramref name="entry"/>'s ID; true when it was routed by one.</summary>
    private bool RemoveId(ConnectionEntry entry)
    {
        ulong id = entry.Connection.LocalConnectionId;
        if (id != 0 && _byId.TryGetValue(id, out var held) && ReferenceEquals(held, entry))
        {
            _byId.Remove(id);
            return true;
        }

        return false;
    }

    /// <summary>
    /// A connection moved to its peer's validated new address: it is found there from now on. A connection still keyed by
    /// that address is stale (the peer that now receives there proved it holds our connection's keys), so it loses the
    /// address; it stays reachable by its own ID if it has one.
    /// </summary>
    internal void OnPathChanged(ConnectionEntry entry, SocketAddress oldAddress)
    {
        if (_connections.TryGetValue(oldAddress, out var held) && ReferenceEquals(held, entry))
        {
            _connections.Remove(oldAddress);
        }

        _connections[SocketAddresses.Copy(entry.Connection.RemoteAddress)] = entry;
        Stats.PathMigrations++;
    }

    /// <summary>The RST for a datagram of no connection; one that carried a connection ID gets it back (docs/protocol.md §5.7).</summary>
    private void QueueReset(SocketAddress remote, in TouHeader incoming, ReadOnlySpan<byte> datagram)
    {
        if ((incoming.Flags & TouFlags.Syn) == 0 && ConnectionIdOptions.TryReadId(datagram, incoming.PayloadLength, out ulong id))
        {
            QueueControl(remote, ControlPacket.ResetFor(incoming, LocalPort, AgreedOptions.LocalMaxPayload(_options)), ControlTrailer.Id, peerId: id);
            return;
        }

        QueueReset(remote, incoming);
    }

    /// <summary>A closed connection's ID keeps finding its recently-closed record, wherever its peer moved meanwhile.</summary>
    private void RememberClosedId(TouConnection connection, long nowUs, long expiresUs)
    {
        while (_closedIdOrder.TryPeek(out var oldest) && (oldest.ExpiresUs <= nowUs || _closedIds.Count >= MaxRecentlyClosed))
        {
            _closedIdOrder.Dequeue();
            if (_closedIds.TryGetValue(oldest.Id, out var held) && held.ExpiresUs == oldest.ExpiresUs)
            {
                _closedIds.Remove(oldest.Id);
            }
        }

        _closedIds[connection.LocalConnectionId] = (SocketAddresses.Copy(connection.RemoteAddress), expiresUs);
        _closedIdOrder.Enqueue((connection.LocalConnectionId, expiresUs));
    }

    /// <summary>A late packet of a connection closed here, from an address its record is not kept under: answered as from there.</summary>
    private bool TryAnswerLateById(long nowUs, SocketAddress remote, in TouHeader header, ReadOnlySpan<byte> datagram, ulong id)
    {
        if (!_closedIds.TryGetValue(id, out var known) || !_recentlyClosed.TryGet(known.Record, nowUs, out var closed))
        {
            return false;
        }

        AnswerLatePacket(remote, header, datagram, closed);
        return true;
    }
}
