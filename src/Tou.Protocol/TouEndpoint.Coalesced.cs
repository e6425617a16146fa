using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

// Receive offload: a buffer of several packets from one sender, split into datagrams.
public sealed partial class TouEndpoint
{
    /// <summary>
    /// Handles a buffer that may hold several back-to-back packets from one sender, as UDP receive offload
    /// (GRO) delivers them: all as long as the first except perhaps the last. Only packets of a known
    /// connection are split (its checksum setting tells the packet length); anything else is one datagram.
    /// </summary>
    public void HandleCoalesced(long nowUs, SocketAddress remote, ReadOnlySpan<byte> buffer)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (!TouHeader.TryRead(buffer, out var first) || (FindById(buffer, first) ?? _connections.GetValueOrDefault(remote)) is not { } entry)
        {
            HandleDatagram(nowUs, remote, buffer);
            return;
        }

        int segment = TouHeader.Size + first.PayloadLength + entry.Connection.TrailerLength;
        if (segment >= buffer.Length)
        {
            HandleDatagram(nowUs, remote, buffer);
            return;
        }

        for (int offset = 0; offset < buffer.Length; offset += segment)
        {
            HandleDatagram(nowUs, remote, buffer.Slice(offset, Math.Min(segment, buffer.Length - offset)));
        }
    }
}
