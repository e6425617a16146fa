namespace Tou.Protocol;

/// <summary>
/// What this side owes the peer in acknowledgements: an immediate ACK (a hole, reordering, a FIN, a window update,
/// a PING), a delayed one (in-order data: every <see cref="TouOptions.SegmentsPerAck"/> full-size segments' worth of
/// bytes — fewer segments when a round trip brings fewer than four times that — or a quarter of the receive buffer,
/// else after <see cref="TouOptions.DelayedAckTimeout"/>, and then with the time it waited), the seed-style ACKs a
/// plain peer gets one per data packet, a plain FIN's own ACK, and challenge ACKs (RFC 5961). The connection decides
/// what to send; this remembers what is owed. All ACKs owed while the host handles one receive batch leave as one,
/// since the host polls for packets only after the batch.
/// </summary>
/// <param name="segmentsPerAck">Full-size in-order segments one ACK may cover.</param>
/// <param name="bytesPerAck">Unacknowledged in-order bytes that call for an ACK whatever the segment count.</param>
internal sealed class AckTracker(ConnectionTimers timers, TimeSpan delayedAckTimeout, int segmentsPerAck, long bytesPerAck)
{
    private const int PlainQueueLength = 64;
    private const int MinSegmentsPerAck = 2;
    private const int AcksPerRound = 4;
    private readonly Queue<(uint Seq, uint Ack)> _plain = new(4);
    private readonly long _delayedAckUs = TouTime.FromTimeSpan(delayedAckTimeout);
    private int _unacknowledgedSegments;
    private int _roundSegments;
    private int _lastRoundSegments;
    private int _roundLargest;
    private int _lastRoundLargest;
    private long _roundStartUs;
    private long _unacknowledgedBytes;
    private long _lastArrivalUs;
    private long _ackDelayUs;
    private bool _immediate;
    private bool _challenge;
    private bool _plainFinAck;
    private uint _plainFinAckSeq;
    private uint _plainFinAckAck;

    /// <summary>An ACK is owed now (or a queued seed-style one).</summary>
    public bool Pending => _immediate || _plain.Count > 0;

    /// <summary>Where the most recently changed out-of-order block starts (it goes first in SACK reports, RFC 2018).</summary>
    public long LastSackUpdateStart { get; set; } = -1;

    public void RequestImmediate() => _immediate = true;

    /// <summary>
    /// How long the ACK owed now was held back by the delayed-ACK timer after the newest data it acknowledges
    /// arrived (µs), or 0: the sender takes it off its RTT sample.
    /// </summary>
    public long AckDelayUs => _ackDelayUs;

    /// <summary>
    /// In-order data arrived: acknowledge at once when <paramref name="immediate"/>, once <see cref="SegmentsPerAck"/>
    /// full-size segments' worth or <c>bytesPerAck</c> bytes are unacknowledged, else after the delay.
    /// </summary>
    /// <remarks>Bytes, not segments, as TCP counts (more than one receive MSS unacknowledged): a response written in two
    /// pieces (Kestrel's headers and body, then a chunked body's end) is two small segments, and counting them as two
    /// sent a pure ACK per request where the next request would have carried it. A full-size segment is the largest
    /// this round trip or the last brought, so it follows the peer's datagram size down as well as up.</remarks>
    /// <param name="nowUs">Current time.</param>
    /// <param name="length">The segment's bytes.</param>
    /// <param name="immediate">Acknowledge at once (a filled hole, a plain peer).</param>
    /// <param name="rttUs">The connection's smoothed RTT (0 before a sample): arrivals are counted per round trip.</param>
    public void OnInOrderSegment(long nowUs, int length, bool immediate, long rttUs = 0)
    {
        CountArrival(nowUs, rttUs);
        _roundLargest = Math.Max(_roundLargest, length);
        _unacknowledgedSegments++;
        _unacknowledgedBytes += length;
        _lastArrivalUs = nowUs;
        _ackDelayUs = 0;
        long fullSize = Math.Max(_roundLargest, _lastRoundLargest);
        if (immediate || _unacknowledgedBytes >= SegmentsPerAck * fullSize || _unacknowledgedBytes >= bytesPerAck || _delayedAckUs == 0)
        {
            _immediate = true;
        }
        else
        {
            timers.ArmIfIdle(TimerKind.DelayedAck, nowUs + _delayedAckUs);
        }
    }

    /// <summary>
    /// In-order segments one ACK covers now: <c>segmentsPerAck</c>, but no more than a quarter of what arrives in a round
    /// trip (at least two). On a path whose window is a few segments (10 Mbit/s × 10 ms holds nine), one ACK per ten
    /// would release the whole window at once and overflow a buffer of a BDP; four ACKs a round keep the ACK clock.
    /// </summary>
    public int SegmentsPerAck
    {
        get
        {
            int perRound = Math.Max(_lastRoundSegments, _roundSegments);
            return perRound == 0 ? segmentsPerAck : Math.Min(segmentsPerAck, Math.Max(MinSegmentsPerAck, perRound / AcksPerRound));
        }
    }

    /// <summary>The delayed-ACK timer fired.</summary>
    public void OnDelayedAckDue(long nowUs)
    {
        timers.Clear(TimerKind.DelayedAck);
        _immediate = true;
        _ackDelayUs = _unacknowledgedSegments > 0 ? Math.Max(0, nowUs - _lastArrivalUs) : 0;
    }

    /// <summary>A packet carrying our current acknowledgement is going out: nothing is owed any more.</summary>
    public void Sent()
    {
        _immediate = false;
        _unacknowledgedSegments = 0;
        _unacknowledgedBytes = 0;
        _ackDelayUs = 0;
        timers.Clear(TimerKind.DelayedAck);
    }

    /// <summary>A plain peer's data packet gets its own ACK with the state right after it (identical ACKs would read as duplicates).</summary>
    public void QueuePlain(uint seq, uint ack)
    {
        if (_plain.Count == PlainQueueLength)
        {
            _plain.Dequeue(); // superseded by the newer cumulative ACKs behind it
        }

        _plain.Enqueue((seq, ack));
    }

    public bool TryTakePlain(out uint seq, out uint ack)
    {
        bool any = _plain.TryDequeue(out var next);
        (seq, ack) = next;
        return any;
    }

    /// <summary>A plain FIN is acknowledged the seed's way: seq = its acknum, ack = its seqnum + 1.</summary>
    public void QueuePlainFinAck(uint seq, uint ack)
    {
        _plainFinAck = true;
        _plainFinAckSeq = seq;
        _plainFinAckAck = ack;
    }

    public bool TryTakePlainFinAck(out uint seq, out uint ack)
    {
        (seq, ack) = (_plainFinAckSeq, _plainFinAckAck);
        bool owed = _plainFinAck;
        _plainFinAck = false;
        return owed;
    }

    public void RequestChallenge() => _challenge = true;

    public bool TakeChallenge()
    {
        bool owed = _challenge;
        _challenge = false;
        return owed;
    }

    /// <summary>Counts in-order arrivals per round trip (the last full round's count and the current one's).</summary>
    private void CountArrival(long nowUs, long rttUs)
    {
        if (rttUs <= 0)
        {
            return; // no round trip to count over yet: segmentsPerAck as configured
        }

        if (nowUs - _roundStartUs >= rttUs)
        {
            _lastRoundSegments = _roundSegments;
            _roundSegments = 0;
            _lastRoundLargest = _roundLargest;
            _roundLargest = 0;
            _roundStartUs = nowUs;
        }

        _roundSegments++;
    }
}
