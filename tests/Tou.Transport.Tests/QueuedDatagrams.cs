using System.Net;

namespace Tou.Transport.Tests;

/// <summary>Planned datagrams to one destination as a sender's source, handed out one by one as the engine's
/// transmit queue does.</summary>
internal readonly struct QueuedDatagrams(Queue<byte[]> datagrams, SocketAddress to) : IDatagramSource
{
    public int Next(Span<byte> buffer, out SocketAddress? destination)
    {
        destination = to;
        if (!datagrams.TryDequeue(out var next))
        {
            return 0;
        }

        next.CopyTo(buffer);
        return next.Length;
    }
}
