using System.Net;

namespace Tou.Transport;

/// <summary>Where a <see cref="UdpDatagramSender"/> takes the datagrams it sends (the engine's transmit queue, or a test's list).</summary>
internal interface IDatagramSource
{
    /// <summary>Writes the next datagram into <paramref name="buffer"/> and returns its length, or 0 when there is none.</summary>
    int Next(Span<byte> buffer, out SocketAddress? destination);
}
