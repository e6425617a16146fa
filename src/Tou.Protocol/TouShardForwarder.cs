using System.Net;

namespace Tou.Protocol;

/// <summary>
/// Hands a datagram to the listener shard that owns its connection ID (see <see cref="TouEndpoint.ShardForwarder"/>).
/// </summary>
/// <param name="shard">The shard the ID names.</param>
/// <param name="remote">Where the datagram came from.</param>
/// <param name="datagram">The datagram; valid only during the call (copy it to hand it on).</param>
/// <returns>True when the datagram was handed on; false to treat it as a datagram of no known connection.</returns>
public delegate bool TouShardForwarder(byte shard, SocketAddress remote, ReadOnlySpan<byte> datagram);
