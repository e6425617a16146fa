namespace Tou.Protocol;

/// <summary>Counters of one connection. Plain fields: read them from the thread that drives the engine.</summary>
public sealed class TouConnectionStats
{
    public long PacketsSent { get; internal set; }
    public long PacketsReceived { get; internal set; }
    public long BytesSent { get; internal set; }
    public long BytesReceived { get; internal set; }
    public long DataPacketsSent { get; internal set; }

    /// <summary>Application bytes the peer acknowledged.</summary>
    public long BytesAcknowledged { get; internal set; }

    /// <summary>Application bytes that became readable in order.</summary>
    public long BytesDelivered { get; internal set; }

    public long Retransmissions { get; internal set; }
    public long RetransmissionTimeouts { get; internal set; }
    public long SegmentsLost { get; internal set; }

    /// <summary>Retransmissions found unnecessary (the original arrived; the path reordered).</summary>
    public long SpuriousRetransmissions { get; internal set; }
    public long CongestionEvents { get; internal set; }
    public long RttSamples { get; internal set; }
    public long ZeroWindowProbes { get; internal set; }
    public long ProbesSent { get; internal set; }
    public long ChallengeAcks { get; internal set; }
    public long ResetsSent { get; internal set; }

    /// <summary>SYN+ACK retransmissions withheld because the unproven address would get more than 3× what it sent.</summary>
    public long AmplificationLimited { get; internal set; }

    /// <summary>Datagrams dropped as malformed, out of window, failing the checksum or unexpected.</summary>
    public long PacketsDropped { get; internal set; }

    /// <summary>Packets dropped because their integrity trailer was missing or did not verify (damage or forgery).</summary>
    public long IntegrityFailures { get; internal set; }

    /// <summary>RSTs sent because data was unread when the application closed, or arrived after it had.</summary>
    public long ResetsForUnreadData { get; internal set; }
    public long DuplicateBytesReceived { get; internal set; }
    public long BytesBeyondWindow { get; internal set; }
    public long InvalidSackBlocks { get; internal set; }
    public TouCloseReason CloseReason { get; internal set; }
}
