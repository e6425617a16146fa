namespace Tou.Protocol;

/// <summary>
/// One acknowledgement as the <see cref="LossDetector"/> takes it, in stream offsets: the connection has already
/// checked it against what was sent and moved its own oldest unacknowledged offset. A ref struct so the SACK
/// blocks can live on the caller's stack.
/// </summary>
internal readonly ref struct ReceivedAck
{
    public long NowUs { get; init; }

    /// <summary>How long the peer held this ACK back after the newest data it acknowledges arrived (µs), or 0.</summary>
    public long AckDelayUs { get; init; }

    /// <summary>The cumulative acknowledgement (one past the data when it covers the FIN).</summary>
    public long AckOffset { get; init; }

    /// <summary>It acknowledged something not acknowledged before.</summary>
    public bool Advanced { get; init; }

    /// <summary>
    /// A pure ACK repeating the cumulative acknowledgement with nothing else new (no data, window change, options,
    /// FIN or PING): RFC 5681's duplicate ACK, which counts only while something is outstanding.
    /// </summary>
    public bool Duplicate { get; init; }

    /// <summary>The SACK blocks (empty without SACK), as [start, end) stream offsets.</summary>
    public ReadOnlySpan<(long Start, long End)> SackBlocks { get; init; }

    /// <summary>The oldest unacknowledged offset, after this acknowledgement.</summary>
    public long SndUna { get; init; }

    /// <summary>The next new data offset to send.</summary>
    public long SndNxt { get; init; }
}
