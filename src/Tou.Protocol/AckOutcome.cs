namespace Tou.Protocol;

/// <summary>
/// What one acknowledgement (or one pass of the loss timer) did to the send direction, as the
/// <see cref="LossDetector"/> reports it: the connection turns it into congestion-controller calls, counters and
/// timers. A value, so an ACK allocates nothing; losses are counts, the segments themselves stay marked in the queue.
/// </summary>
internal readonly struct AckOutcome
{
    /// <summary>
    /// Bytes newly delivered: segments the cumulative acknowledgement newly covers (unless SACKed before; of a segment
    /// it covers only in part, the part, if in flight) and segments newly SACKed.
    /// </summary>
    public long DeliveredBytes { get; init; }

    /// <summary>Of <see cref="DeliveredBytes"/>, those newly SACKed (they reached the peer, though not in order).</summary>
    public long SackedBytes { get; init; }

    /// <summary>The RTT sample (µs) this acknowledgement gave, or -1 (Karn: retransmitted segments give none).</summary>
    public long RttSampleUs { get; init; }

    /// <summary>SACK blocks ignored because they were empty or outside what is outstanding.</summary>
    public int InvalidSackBlocks { get; init; }

    /// <summary>Retransmissions acknowledged too soon to have been needed (the original arrived: reordering).</summary>
    public int SpuriousRetransmissions { get; init; }

    /// <summary>This recovery episode's loss was reordering: the controller should restore the window it cut.</summary>
    public bool UndoRecovery { get; init; }

    /// <summary>Everything outstanding when the recovery episode began is now acknowledged.</summary>
    public bool RecoveryEnded { get; init; }

    /// <summary>Segments newly declared lost (they wait in the queue for retransmission).</summary>
    public int LostSegments { get; init; }

    /// <summary>Data bytes in the segments newly declared lost.</summary>
    public long LostBytes { get; init; }

    /// <summary>A recovery episode began: the controller gets its one congestion event.</summary>
    public bool RecoveryStarted { get; init; }

    /// <summary>Bytes in flight before this pass declared anything lost (what the congestion event is told).</summary>
    public long BytesInFlightBeforeLoss { get; init; }

    /// <summary>Of the segments newly declared lost, the smallest number of bytes in flight right after one was sent (0 if none).</summary>
    public long LostInflightAtSend { get; init; }

    /// <summary>Delivery rate (bytes per second) over the newest delivered segment's flight, or 0.</summary>
    public double DeliveryRate { get; init; }

    /// <summary>The rate sample's segment was sent while the application, not the network, limited sending.</summary>
    public bool AppLimited { get; init; }

    /// <summary>Bytes delivered in total when the rate sample's segment was sent.</summary>
    public long PriorDelivered { get; init; }

    /// <summary>Bytes delivered in total now.</summary>
    public long Delivered { get; init; }
}
