using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>A packet the endpoint sends without a connection: an RST, a SYN cookie's SYN+ACK, a TIME-WAIT record's ACK.</summary>
internal readonly record struct ControlPacket(SocketAddress To, TouHeader Header, ControlTrailer Trailer, DirectionKey Key, ExtensionSet? Offer, ulong PeerId = 0)
{
    /// <summary>
    /// The RST answering <paramref name="incoming"/> from a host that has no connection for it, numbered RFC 793
    /// style: its sequence number is the incoming acknowledgement number, so the peer accepts it.
    /// </summary>
    public static TouHeader ResetFor(in TouHeader incoming, ushort localPort, int localMaxPayload)
    {
        bool isSyn = (incoming.Flags & TouFlags.Syn) != 0;
        return new TouHeader
        {
            SourcePort = localPort,
            DestinationPort = incoming.SourcePort,
            SequenceNumber = isSyn ? 0 : incoming.AcknowledgementNumber,
            // A SYN's payload is its extension offer, not data: the SYN itself counts one.
            AcknowledgementNumber = isSyn ? incoming.SequenceNumber + 1 : incoming.SequenceNumber + incoming.PayloadLength + ((incoming.Flags & TouFlags.Fin) != 0 ? 1u : 0u),
            Flags = TouFlags.Rst | TouFlags.Ack,
            Window = 0,
            PayloadLength = 0,
            Mss = (uint)localMaxPayload,
        };
    }
}
