using System.Net;

namespace Tou.Transport;

/// <summary>Where a <see cref="UdpDatagramReceiver"/> hands the datagrams it receives (the engine, or a test's list).</summary>
internal interface IDatagramSink
{
    /// <summary>
    /// Takes one received datagram. <paramref name="datagram"/> and <paramref name="source"/> are the receiver's and
    /// valid only during the call. <paramref name="segmentSize"/> is the kernel's GRO segment size when the datagram
    /// arrived coalesced with others (0 when it arrived alone), or <see cref="UdpDatagramReceiver.UnknownSegmentSize"/>
    /// when GRO may have coalesced several and the kernel did not say how: <paramref name="datagram"/> is then the
    /// whole buffer.
    /// </summary>
    void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize);
}
