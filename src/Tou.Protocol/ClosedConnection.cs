using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>
/// What an endpoint remembers of a gracefully closed connection to acknowledge a late FIN or retransmission
/// (TCP's TIME-WAIT as a small record). With integrity it keeps the keys, so its answers verify and forged
/// packets draw none.
/// </summary>
internal readonly record struct ClosedConnection(uint Seq, uint Ack, bool Extended, DirectionKey SendKey, DirectionKey ReceiveKey, long ExpiresUs, ulong LocalId = 0, ulong PeerId = 0)
{
    /// <summary>Whether a late packet's trailer is right: the keyed tag, after our connection ID when IDs were agreed.</summary>
    public bool Verifies(ReadOnlySpan<byte> datagram, int payloadLength) => PeerId != 0
        ? ConnectionIdOptions.VerifyIdAndTag(datagram, payloadLength, LocalId, ReceiveKey)
        : Extensions.VerifyTag(datagram, payloadLength, ReceiveKey);

    public TouHeader AckFor(in TouHeader late, ushort localPort) => new()
    {
        SourcePort = localPort,
        DestinationPort = late.SourcePort,
        // Plain peers get the seed's acknowledgements: seq = the packet's acknum, and for a FIN ack = its seqnum + 1.
        SequenceNumber = Extended ? Seq : late.AcknowledgementNumber,
        AcknowledgementNumber = Extended || (late.Flags & TouFlags.Fin) == 0 ? Ack : late.SequenceNumber + 1,
        Flags = TouFlags.Ack,
        Window = 0,
        Mss = 0,
    };
}
