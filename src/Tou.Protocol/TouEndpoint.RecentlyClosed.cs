using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

// Recently closed connections (TCP's TIME-WAIT as a small record): what is remembered, and the answer to a late packet.
public sealed partial class TouEndpoint
{
    /// <summary>
    /// A connection that closed gracefully here: the peer missed our last ACK and repeats its FIN or data. Acknowledge
    /// everything again (TCP's TIME-WAIT, kept as a small record, not the connection).
    /// </summary>
    private void AnswerLatePacket(SocketAddress remote, in TouHeader header, ReadOnlySpan<byte> datagram, in ClosedConnection closed)
    {
        bool pureAck = header.Flags == TouFlags.Ack && header.PayloadLength == 0;
        if (!closed.ReceiveKey.IsEmpty && !closed.Verifies(datagram, header.PayloadLength))
        {
            Stats.DroppedIntegrity++; // damaged or forged: never answered
        }
        else if ((header.Flags & TouFlags.Rst) == 0 && !pureAck)
        {
            Stats.LatePacketsAcknowledged++;
            var trailer = closed.SendKey.IsEmpty ? ControlTrailer.None : closed.PeerId != 0 ? ControlTrailer.IdAndTag : ControlTrailer.Tag;
            QueueControl(remote, closed.AckFor(header, LocalPort), trailer, closed.SendKey, peerId: closed.PeerId);
        }
    }

    private void RememberClosed(TouConnection connection)
    {
        long now = connection.LastActivityUs;
        _recentlyClosed.Add(connection.RemoteAddress, connection.ClosedRecord(now + RecentlyClosedLifetimeUs), now);
        if (connection.ConnectionIdsNegotiated)
        {
            RememberClosedId(connection, now, now + RecentlyClosedLifetimeUs);
        }

        if (connection.LateAddress is { } moved)
        {
            _recentlyClosed.Add(moved, connection.ClosedRecord(now + RecentlyClosedLifetimeUs), now); // the peer moved during the close
        }
    }
}
