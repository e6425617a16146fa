namespace Tou.Protocol;

/// <summary>
/// What this side owes the peer in acknowledgements: an immediate ACK (a hole, reordering, a FIN, a window update,
/// a PING), a delayed one (in-order data: every second segment, else after <see cref="TouOptions.DelayedAckTimeout"/>),
/// the seed-style ACKs a plain peer gets one per data packet, a plain FIN's own ACK, and challenge ACKs (RFC 5961).
/// The connection decides what to send; this remembers what is owed.
/// </summary>
internal sealed class AckTracker(ConnectionTimers timers, TimeSpan delayedAckTimeout)
{
    private const int PlainQueueLength = 64;
    private readonly Queue<(uint Seq, uint Ack)> _plain = new(4);
    private readonly long _delayedAckUs = TouTime.FromTimeSpan(delayedAckTimeout);
    private int _unacknowledgedSegments;
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

    /// <summary>In-order data arrived: acknowledge at once when <paramref name="immediate"/> or on every second segment, else after the delay.</summary>
    public void OnInOrderSegment(long nowUs, bool immediate)
    {
        _unacknowledgedSegments++;
        if (immediate || _unacknowledgedSegments >= 2 || _delayedAckUs == 0)
        {
            _immediate = true;
        }
        else
        {
            timers.ArmIfIdle(TimerKind.DelayedAck, nowUs + _delayedAckUs);
        }
    }

    /// <summary>The delayed-ACK timer fired.</summary>
    public void OnDelayedAckDue()
    {
        timers.Clear(TimerKind.DelayedAck);
        _immediate = true;
    }

    /// <summary>A packet carrying our current acknowledgement is going out: nothing is owed any more.</summary>
    public void Sent()
    {
        _immediate = false;
        _unacknowledgedSegments = 0;
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
}
