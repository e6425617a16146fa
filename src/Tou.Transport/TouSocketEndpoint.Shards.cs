using System.Net;

namespace Tou.Transport;

// Listener shards and connection IDs: each shard's engine encodes its index in the IDs it chooses, and hands a datagram
// whose ID names another shard (a client whose new address the kernel steered elsewhere) to that shard.
public sealed partial class TouSocketEndpoint
{
    /// <summary>Makes this endpoint shard <paramref name="index"/> of <paramref name="shards"/> (all bound to one port).</summary>
    internal void JoinShards(TouSocketEndpoint[] shards, byte index)
    {
        lock (_gate)
        {
            _engine.ListenerShard = index;
            _engine.ShardForwarder = (shard, remote, datagram) =>
            {
                if (shard >= shards.Length || ReferenceEquals(shards[shard], this))
                {
                    return false;
                }

                shards[shard].PostForwarded(remote, datagram.ToArray());
                return true;
            };
        }
    }

    /// <summary>
    /// A datagram another shard received for one of this shard's connections. It is handled on the thread pool under this
    /// shard's own gate, never inline: the sender holds its gate, and two shards forwarding to each other must not wait on
    /// each other's.
    /// </summary>
    private void PostForwarded(SocketAddress remote, byte[] datagram)
    {
        var from = new SocketAddress(remote.Family, remote.Size);
        remote.Buffer.Span.CopyTo(from.Buffer.Span);
        ThreadPool.UnsafeQueueUserWorkItem(
            static work => work.Shard.Run(work, static w => w.Shard._engine.HandleDatagram(Now(), w.From, w.Datagram)),
            (Shard: this, From: from, Datagram: datagram),
            preferLocal: false);
    }
}
