namespace Tou.Protocol;

/// <summary>
/// Counters of one connection, kept by the engine as it runs. Not synchronized: read them on the thread that
/// drives the engine (the UDP host offers <c>TouSocketConnection.ReadStats</c> for that). Bytes are whole
/// datagrams (header, options and trailer included) unless the name says application bytes.
/// </summary>
public sealed class TouConnectionStats
{
    /// <summary>Datagrams this connection sent: data, ACKs, probes, handshake packets and RSTs, retransmissions included.</summary>
    public long PacketsSent { get; internal set; }

    /// <summary>Datagrams from the peer that were well formed and passed the integrity check (later window
    /// checks may still have dropped them).</summary>
    public long PacketsReceived { get; internal set; }

    /// <summary>Bytes of the datagrams counted by <see cref="PacketsSent"/>.</summary>
    public long BytesSent { get; internal set; }

    /// <summary>Bytes of the datagrams counted by <see cref="PacketsReceived"/>.</summary>
    public long BytesReceived { get; internal set; }

    /// <summary>Segments of new data sent for the first time (retransmissions are in <see cref="Retransmissions"/>).</summary>
    public long DataPacketsSent { get; internal set; }

    /// <summary>Datagrams from the peer that carried new or repeated data.</summary>
    public long DataPacketsReceived { get; internal set; }

    /// <summary>Acknowledgements sent in packets of their own (pure ACKs, SACK reports included); ACKs that ride on
    /// data are not counted. Over <see cref="DataPacketsReceived"/> it says how many ACKs each data segment cost.</summary>
    public long AcksSent { get; internal set; }

    /// <summary>Application bytes the peer acknowledged.</summary>
    public long BytesAcknowledged { get; internal set; }

    /// <summary>Application bytes that became readable in order.</summary>
    public long BytesDelivered { get; internal set; }

    /// <summary>Segments sent again: data and FINs found lost or timed out, and repeated SYNs and SYN+ACKs.</summary>
    public long Retransmissions { get; internal set; }

    /// <summary>Times the retransmission timer expired with data outstanding (each doubles the timeout).</summary>
    public long RetransmissionTimeouts { get; internal set; }

    /// <summary>Tail loss probes sent: the newest segment (or new data) sent again when two round trips brought no
    /// acknowledgement, so that a loss at the end of a burst is found by RACK instead of the retransmission timer.</summary>
    public long TailLossProbes { get; internal set; }

    /// <summary>Segments marked lost (by RACK, duplicate ACKs or a retransmission timeout).</summary>
    public long SegmentsLost { get; internal set; }

    /// <summary>Retransmissions found unnecessary (the original arrived; the path reordered).</summary>
    public long SpuriousRetransmissions { get; internal set; }

    /// <summary>Loss recovery episodes entered; each reduces the congestion window at most once.</summary>
    public long CongestionEvents { get; internal set; }

    /// <summary>Round-trip time measurements taken (only from segments sent once, per Karn's rule).</summary>
    public long RttSamples { get; internal set; }

    /// <summary>Probes sent because the peer's window was closed while data waited (persist timer).</summary>
    public long ZeroWindowProbes { get; internal set; }

    /// <summary>Probe packets sent that ask the peer for an immediate ACK: zero-window probes and keepalives
    /// (a PING with extensions, an empty data packet to a plain peer).</summary>
    public long ProbesSent { get; internal set; }

    /// <summary>ACKs sent in answer to a suspicious packet (an RST, SYN or acknowledgement outside the acceptable
    /// range), as RFC 5961 prescribes, instead of acting on it.</summary>
    public long ChallengeAcks { get; internal set; }

    /// <summary>RSTs this connection sent (abort, unread data, giving up, or refusing a half-open peer).</summary>
    public long ResetsSent { get; internal set; }

    /// <summary>SYN+ACK retransmissions, and path challenges or responses to an unvalidated address, withheld because the
    /// unproven address would get more than 3× what it sent.</summary>
    public long AmplificationLimited { get; internal set; }

    /// <summary>Datagrams dropped as malformed, out of window, failing the checksum or unexpected.</summary>
    public long PacketsDropped { get; internal set; }

    /// <summary>Packets dropped because their integrity trailer was missing or did not verify (damage or forgery).</summary>
    public long IntegrityFailures { get; internal set; }

    /// <summary>RSTs sent because data was unread when the application closed, or arrived after it had.</summary>
    public long ResetsForUnreadData { get; internal set; }

    /// <summary>Application bytes received that had already arrived (the peer retransmitted them), discarded.</summary>
    public long DuplicateBytesReceived { get; internal set; }

    /// <summary>Application bytes received beyond the advertised receive window (or after the peer's FIN), discarded.</summary>
    public long BytesBeyondWindow { get; internal set; }

    /// <summary>SACK blocks ignored because they were empty or named data that was never sent or is already acknowledged.</summary>
    public long InvalidSackBlocks { get; internal set; }

    /// <summary>The largest datagram this connection sends now (UDP payload: header, data and trailer room): the initial
    /// size, or what path MTU discovery confirmed; 1,024 to a plain peer. 0 before the handshake.</summary>
    public int DatagramSize { get; internal set; }

    /// <summary>Path MTU probes sent (padding of a trial size, answered by the peer; never data, never retransmitted).</summary>
    public long PathMtuProbesSent { get; internal set; }

    /// <summary>Path MTU probes the peer answered: each confirms its size.</summary>
    public long PathMtuProbesAcknowledged { get; internal set; }

    /// <summary>Path MTU probes given up (unanswered, or refused by the local stack as too large); not congestion.</summary>
    public long PathMtuProbesLost { get; internal set; }

    /// <summary>Times full-size datagrams stopped getting through (repeated timeouts above the initial size) and the size
    /// fell back to <see cref="TouOptions.InitialDatagramSize"/>.</summary>
    public long PathMtuBlackHoles { get; internal set; }

    /// <summary>Addresses other than the connection's that sent tagged packets and were challenged (connection IDs, docs/protocol.md §5.7).</summary>
    public long PathValidationsStarted { get; internal set; }

    /// <summary>Path challenges (PATH_CHALLENGE) sent to an address being validated, repetitions included.</summary>
    public long PathChallengesSent { get; internal set; }

    /// <summary>Addresses that echoed their challenge; each moved the connection there.</summary>
    public long PathValidationsSucceeded { get; internal set; }

    /// <summary>Addresses given up after their challenges went unanswered.</summary>
    public long PathValidationsFailed { get; internal set; }

    /// <summary>Bytes sent to addresses not yet validated (challenges and responses; never more than 3× <see cref="UnvalidatedPathBytesReceived"/>).</summary>
    public long UnvalidatedPathBytesSent { get; internal set; }

    /// <summary>Bytes of tagged packets received from addresses while they were not yet validated.</summary>
    public long UnvalidatedPathBytesReceived { get; internal set; }

    /// <summary>Times the connection moved to a validated new address of the peer.</summary>
    public long PathMigrations { get; internal set; }

    /// <summary>Moves to a new IP address (not just a new port), the peer's or, by <see cref="TouConnection.Migrate"/>, this
    /// side's, which reset the congestion controller and RTT estimate.</summary>
    public long PathResets { get; internal set; }

    /// <summary>Times the host moved the connection to a new local socket (<see cref="TouConnection.Migrate"/>).</summary>
    public long LocalMigrations { get; internal set; }

    /// <summary>Why the connection ended; <see cref="TouCloseReason.None"/> while it lasts.</summary>
    public TouCloseReason CloseReason { get; internal set; }
}
