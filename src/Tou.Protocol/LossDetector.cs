namespace Tou.Protocol;

/// <summary>
/// Loss detection and recovery for the send direction: the segments sent and not yet cumulatively acknowledged with
/// their state (in flight, SACKed, lost, retransmitted) and the bytes in flight; RACK (RFC 8985: the newest delivered
/// transmission and an adaptive reordering window) for SACK peers; duplicate ACKs for peers without SACK (RFC 5681
/// fast retransmit and window inflation, NewReno partial ACKs); recovery episodes; spurious retransmissions and their
/// undo; and delivery-rate samples (draft-cheng-iccrg-delivery-rate-estimation). An ACK goes in, an
/// <see cref="AckOutcome"/> comes out; the connection passes it on to the congestion controller.
/// </summary>
/// <remarks>
/// It feeds <paramref name="rtt"/> the ACK's sample itself, because its own rules read the updated estimate in
/// the same ACK; it arms the <see cref="TimerKind.LossDetection"/> timer in <paramref name="timers"/>.
/// </remarks>
internal sealed class LossDetector(ConnectionTimers timers, RttEstimator rtt)
{
    private const int ReorderWindowPersistence = 16;

    private readonly SentSegmentQueue _segments = new();
    private bool _sack;
    private int _mss;

    // Recovery episode.
    private long _recoveryEnd;       // recovery ends when everything sent before it began is acknowledged
    private long _recoveryAckMark;   // highest ACK seen in recovery: an ACK above it is a NewReno partial ACK
    private bool _recoveryUndone;
    private bool _recoveryByTimeout; // an RTO's reduction is never undone

    // Duplicate ACKs (peers without SACK).
    private int _duplicateAcks;
    private long _duplicateAckBytes; // RFC 5681 inflation: each duplicate says one segment left the network

    // RACK: the newest delivered transmission, by (send time, end offset).
    private long _rackSentUs = long.MinValue;
    private long _rackEnd = long.MinValue;
    private long _rackRttUs;
    private bool _reorderingSeen;
    private int _reorderWindowMultiplier = 1;
    private int _recoveriesSinceSpurious;   // RFC 8985 §6.2 step 4: the widened window lasts 16 recoveries

    // Delivery rate: totals now, and those of the newest delivered segment when it was sent.
    private long _delivered;
    private long _deliveredTimeUs;
    private long _firstSentTimeUs;
    private bool _rateSampleValid;
    private long _sampleDeliveredAtSend;
    private long _sampleDeliveredTimeAtSend;
    private long _sampleFirstSentTimeAtSend;
    private long _sampleSentUs;
    private bool _sampleAppLimited;
    private long _lostInflightAtSend = long.MaxValue; // smallest in-flight-at-send among the segments this pass declared lost

    /// <summary>Bytes sent and neither acknowledged, SACKed nor declared lost.</summary>
    public long BytesInFlight { get; private set; }

    /// <summary>Some segment waits for retransmission (set by every loss, recounted as segments are delivered or sent again).</summary>
    public bool HasLostSegments { get; private set; }

    public bool InRecovery { get; private set; }

    /// <summary>Three duplicate ACKs (or a partial ACK) declared a loss: RFC 5681 retransmits it whatever the window says.</summary>
    public bool FastRetransmitPending { get; private set; }

    /// <summary>Bytes the network holds by RFC 5681's estimate: in flight less what duplicate ACKs said has left.</summary>
    public long Pipe => BytesInFlight - _duplicateAckBytes;

    /// <summary>Segments sent and not yet cumulatively acknowledged (the FIN counts as one).</summary>
    public int SegmentCount => _segments.Count;

    public int DuplicateAcks => _duplicateAcks;

    /// <summary>A retransmission turned out unnecessary once: the three-SACK rule is no longer trusted.</summary>
    public bool ReorderingSeen => _reorderingSeen;

    /// <summary>Bytes delivered in total (the delivery-rate estimator's count).</summary>
    public long Delivered => _delivered;

    public SentSegment SegmentAt(int index) => _segments[index];

    /// <summary>What the handshake agreed: whether the peer SACKs, and the segment size (for window inflation).</summary>
    public void Start(bool sack, int mss)
    {
        _sack = sack;
        _mss = mss;
    }

    /// <summary>New data went out.</summary>
    /// <param name="appLimited">The application had nothing more to send and the window had room.</param>
    public void OnSent(long offset, int length, long nowUs, bool appLimited)
    {
        _segments.Add(new SentSegment { Offset = offset, Length = length, SentUs = nowUs, State = SegmentState.InFlight });
        StampDeliveryState(ref _segments.Last, nowUs, appLimited);
        BytesInFlight += length;
    }

    /// <summary>The FIN went out: one sequence number, no bytes in flight.</summary>
    public void OnFinSent(long offset, long nowUs) =>
        _segments.Add(new SentSegment { Offset = offset, Length = 0, SentUs = nowUs, State = SegmentState.InFlight | SegmentState.Fin });

    /// <summary>Index of the oldest segment declared lost, or -1.</summary>
    public int OldestLost()
    {
        if (!HasLostSegments)
        {
            return -1;
        }

        for (int i = 0; i < _segments.Count; i++)
        {
            if (_segments[i].Is(SegmentState.Lost))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Cuts the lost segment at <paramref name="index"/> after its first <paramref name="length"/> bytes, both parts lost,
    /// so that it can be retransmitted in smaller datagrams (the datagram size fell after it was sent).
    /// </summary>
    public void SplitLost(int index, int length)
    {
        var rest = _segments[index];
        if (!rest.Is(SegmentState.Lost) || rest.Is(SegmentState.Fin) || length <= 0 || length >= rest.Length)
        {
            return;
        }

        rest.Offset += length;
        rest.Length -= length;
        _segments[index].Length = length;
        _segments.Insert(index + 1, rest);
    }

    /// <summary>The lost segment at <paramref name="index"/> went out again.</summary>
    public void OnRetransmitted(int index, long nowUs, bool appLimited)
    {
        ref var seg = ref _segments[index];
        FastRetransmitPending = false;
        seg.State = (seg.State | SegmentState.InFlight | SegmentState.Retransmitted) & ~SegmentState.Lost;
        seg.SentUs = nowUs;
        StampDeliveryState(ref seg, nowUs, appLimited);
        BytesInFlight += seg.Length;
        RecountLost();
    }

    /// <summary>
    /// Takes one acknowledgement: cumulative, duplicate and selective parts, the RTT sample, RACK's newest delivered
    /// transmission, the end of recovery, loss detection and the delivery-rate sample, in that order.
    /// </summary>
    public AckOutcome OnAck(in ReceivedAck ack)
    {
        var progress = new AckProgress { NewestSentUs = long.MinValue, NewestEnd = long.MinValue, RttSampleUs = -1 };
        if (ack.Advanced)
        {
            AcknowledgeUpTo(ack.AckOffset, ack.NowUs, ref progress);
            _duplicateAcks = 0;
            _duplicateAckBytes = 0;
        }
        else if (ack.Duplicate && _segments.Count > 0)
        {
            _duplicateAcks++;
            _duplicateAckBytes = Math.Min(_duplicateAckBytes + _mss, BytesInFlight);
        }

        long sacked = ack.SackBlocks.IsEmpty ? 0 : ApplySack(ack.SackBlocks, ack.NowUs, ack.SndUna, ack.SndNxt, ref progress);
        if (progress.RttSampleUs >= 0)
        {
            // The peer's deliberate delay is not path (RFC 9002 §5.3), but a sample never goes below the smallest seen.
            if (ack.AckDelayUs > 0 && progress.RttSampleUs - ack.AckDelayUs >= rtt.MinRttUs)
            {
                progress.RttSampleUs -= ack.AckDelayUs;
            }

            rtt.AddSample(progress.RttSampleUs);
        }

        if (progress.NewestSentUs > _rackSentUs || (progress.NewestSentUs == _rackSentUs && progress.NewestEnd > _rackEnd))
        {
            _rackSentUs = progress.NewestSentUs;
            _rackEnd = progress.NewestEnd;
            _rackRttUs = ack.NowUs - progress.NewestSentUs;
        }

        bool recoveryEnded = InRecovery && ack.SndUna >= _recoveryEnd;
        if (recoveryEnded)
        {
            InRecovery = false;
            if (++_recoveriesSinceSpurious >= ReorderWindowPersistence)
            {
                // Sixteen recoveries without a spurious retransmission: whatever reordered has stopped, and a wide
                // window delays every loss's repair by up to a round trip.
                _reorderWindowMultiplier = 1;
            }
        }

        var losses = DetectLosses(ack.NowUs, ack.AckOffset, ack.SndNxt);
        long delivered = progress.Delivered + sacked;
        return losses with
        {
            DeliveredBytes = delivered,
            SackedBytes = sacked,
            RttSampleUs = progress.RttSampleUs,
            InvalidSackBlocks = progress.InvalidSackBlocks,
            SpuriousRetransmissions = progress.Spurious,
            UndoRecovery = progress.UndoRecovery,
            RecoveryEnded = recoveryEnded,
            DeliveryRate = delivered > 0 ? TakeRateSample() : 0,
            AppLimited = _sampleAppLimited,
            PriorDelivered = _sampleDeliveredAtSend,
            Delivered = _delivered,
        };
    }

    /// <summary>
    /// Marks segments lost: with SACK by RACK (sent before something delivered and older than RTT plus a
    /// reordering window) or by three segments SACKed above them; without SACK after three duplicate ACKs and,
    /// in recovery, at each partial ACK (NewReno). The first loss outside recovery starts an episode. Runs for
    /// every ACK and when the loss timer it arms expires.
    /// </summary>
    public AckOutcome DetectLosses(long nowUs, long ackOffset, long sndNxt)
    {
        timers.Clear(TimerKind.LossDetection);
        if (_segments.Count == 0)
        {
            return new AckOutcome { RttSampleUs = -1 };
        }

        long inFlightBefore = BytesInFlight;
        _lostInflightAtSend = long.MaxValue;
        var lost = (Segments: 0, Bytes: 0L);
        if (_sack)
        {
            DetectByRack(nowUs, ref lost);
        }
        else
        {
            DetectByDuplicateAcks(ackOffset, ref lost);
        }

        bool recoveryStarted = false;
        if (lost.Segments > 0)
        {
            HasLostSegments = true;
            if (!InRecovery)
            {
                InRecovery = true;
                _recoveryUndone = false;
                _recoveryByTimeout = false;
                _recoveryEnd = sndNxt;
                _recoveryAckMark = ackOffset;
                recoveryStarted = true;
            }
        }

        return new AckOutcome
        {
            RttSampleUs = -1,
            LostSegments = lost.Segments,
            LostBytes = lost.Bytes,
            RecoveryStarted = recoveryStarted,
            BytesInFlightBeforeLoss = inFlightBefore,
            LostInflightAtSend = lost.Segments > 0 ? _lostInflightAtSend : 0,
        };
    }

    /// <summary>A tail loss probe sent the segment at <paramref name="index"/> again (RFC 8985 §7.3), declaring nothing lost.</summary>
    public void OnProbeResent(int index, long nowUs)
    {
        _segments[index].State |= SegmentState.Retransmitted | SegmentState.Probed; // Karn: no RTT sample from its ACK
        _segments[index].SentUs = nowUs;
    }

    /// <summary>
    /// The retransmission timer expired: everything neither SACKed nor already lost is lost, and a recovery
    /// episode that is never undone begins. Returns the segments newly declared lost.
    /// </summary>
    public int OnRetransmissionTimeout(long sndUna, long sndNxt)
    {
        var lost = (Segments: 0, Bytes: 0L);
        for (int i = 0; i < _segments.Count; i++)
        {
            ref var seg = ref _segments[i];
            if (!seg.Is(SegmentState.Sacked) && !seg.Is(SegmentState.Lost))
            {
                MarkLost(ref seg, ref lost);
            }
        }

        HasLostSegments = true;
        InRecovery = true;
        _recoveryByTimeout = true;
        _recoveryEnd = sndNxt;
        _recoveryAckMark = sndUna;
        _duplicateAcks = 0;
        _duplicateAckBytes = 0;
        return lost.Segments;
    }

    /// <summary>
    /// The peer moved to another address: everything neither SACKed nor already lost went to the one it left and is
    /// lost, but that says nothing about congestion on the new path, so no recovery episode begins (the segments are
    /// resent at once, within the window). Returns the segments newly declared lost.
    /// </summary>
    public int OnPathChanged()
    {
        var lost = (Segments: 0, Bytes: 0L);
        for (int i = 0; i < _segments.Count; i++)
        {
            ref var seg = ref _segments[i];
            if (!seg.Is(SegmentState.Sacked) && !seg.Is(SegmentState.Lost))
            {
                MarkLost(ref seg, ref lost);
            }
        }

        HasLostSegments |= lost.Segments > 0;
        return lost.Segments;
    }

    /// <summary>The connection ended: nothing sent is outstanding any more.</summary>
    public void Clear()
    {
        _segments.Clear();
        BytesInFlight = 0;
    }

    /// <summary>
    /// Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation): each transmission remembers how
    /// much had been delivered, and when, so its acknowledgement yields the rate over its flight.
    /// </summary>
    private void StampDeliveryState(ref SentSegment seg, long nowUs, bool appLimited)
    {
        if (BytesInFlight == 0)
        {
            _firstSentTimeUs = _deliveredTimeUs = nowUs; // nothing else in flight: a new flight starts here
        }

        seg.DeliveredAtSend = _delivered;
        seg.DeliveredTimeAtSend = _deliveredTimeUs;
        seg.FirstSentTimeAtSend = _firstSentTimeUs;
        seg.InflightAtSend = BytesInFlight + seg.Length;
        seg.State = appLimited ? seg.State | SegmentState.AppLimited : seg.State & ~SegmentState.AppLimited;
    }

    private void AcknowledgeUpTo(long ackOffset, long nowUs, ref AckProgress progress)
    {
        while (_segments.Count > 0)
        {
            ref var seg = ref _segments.First;
            if (seg.End > ackOffset)
            {
                if (seg.Offset < ackOffset && !seg.Is(SegmentState.Fin))
                {
                    // Partly acknowledged: keep the rest.
                    int done = (int)(ackOffset - seg.Offset);
                    if (seg.Is(SegmentState.InFlight))
                    {
                        BytesInFlight -= done;
                        progress.Delivered += done;
                    }

                    seg.Offset += done;
                    seg.Length -= done;
                }

                break;
            }

            if (!seg.Is(SegmentState.Sacked))
            {
                progress.Delivered += seg.Length;
                OnDelivered(seg, nowUs, ref progress);
            }

            if (seg.Is(SegmentState.InFlight))
            {
                BytesInFlight -= seg.Length;
            }

            _segments.RemoveFirst();
        }

        RecountLost();
    }

    private long ApplySack(ReadOnlySpan<(long Start, long End)> blocks, long nowUs, long sndUna, long sndNxt, ref AckProgress progress)
    {
        long delivered = 0;
        foreach (var (left, right) in blocks)
        {
            if (left >= right || left < sndUna || right > sndNxt)
            {
                progress.InvalidSackBlocks++;
                continue;
            }

            for (int i = 0; i < _segments.Count; i++)
            {
                ref var seg = ref _segments[i];
                if (seg.Offset >= right)
                {
                    break;
                }

                if (seg.Offset >= left && seg.Offset + seg.Length <= right && !seg.Is(SegmentState.Sacked) && !seg.Is(SegmentState.Fin))
                {
                    if (seg.Is(SegmentState.InFlight))
                    {
                        BytesInFlight -= seg.Length;
                    }

                    seg.State = (seg.State | SegmentState.Sacked) & ~(SegmentState.InFlight | SegmentState.Lost);
                    delivered += seg.Length;
                    OnDelivered(seg, nowUs, ref progress);
                }
            }
        }

        if (delivered > 0)
        {
            RecountLost();
        }

        return delivered;
    }

    /// <summary>A segment reached the peer (cumulatively or selectively acknowledged for the first time).</summary>
    private void OnDelivered(in SentSegment seg, long nowUs, ref AckProgress progress)
    {
        CheckSpurious(seg, nowUs, ref progress);
        CountDelivered(seg, nowUs);

        // RACK orders transmissions by (send time, end offset): a flight leaves within one microsecond. A retransmission
        // acknowledged sooner than any round trip was not what arrived — the original was (its ACK lost or not yet
        // read): taking it as the newest delivery would give RACK an RTT of microseconds and declare everything sent
        // before it lost (RFC 8985 §6.2 step 2).
        bool ambiguous = seg.Is(SegmentState.Retransmitted) && rtt.MinRttUs != long.MaxValue && nowUs - seg.SentUs < rtt.MinRttUs;
        if (!ambiguous && (seg.SentUs > progress.NewestSentUs || (seg.SentUs == progress.NewestSentUs && seg.End > progress.NewestEnd)))
        {
            progress.NewestSentUs = seg.SentUs;
            progress.NewestEnd = seg.End;
            if (!seg.Is(SegmentState.Retransmitted))
            {
                progress.RttSampleUs = nowUs - seg.SentUs; // Karn: only segments sent once give samples
            }
        }
    }

    /// <summary>
    /// A retransmission acknowledged sooner than any real round trip means the original arrived: the loss
    /// was reordering. Widen the reordering window (RFC 8985), stop trusting the three-SACK rule, and undo
    /// the window reduction of this recovery episode.
    /// </summary>
    private void CheckSpurious(in SentSegment seg, long nowUs, ref AckProgress progress)
    {
        if (!seg.Is(SegmentState.Retransmitted) || seg.Is(SegmentState.Probed) || rtt.MinRttUs == long.MaxValue || nowUs - seg.SentUs >= rtt.MinRttUs * 3 / 4)
        {
            return;
        }

        progress.Spurious++;
        _reorderingSeen = true;
        _reorderWindowMultiplier = Math.Min(_reorderWindowMultiplier + 1, 16);
        _recoveriesSinceSpurious = 0;
        if (InRecovery && !_recoveryUndone && !_recoveryByTimeout)
        {
            _recoveryUndone = true;
            progress.UndoRecovery = true;
        }
    }

    /// <summary>Counts a delivered segment and keeps the newest-sent one as this ACK's rate sample.</summary>
    private void CountDelivered(in SentSegment seg, long nowUs)
    {
        _delivered += seg.Length;
        _deliveredTimeUs = nowUs;
        if (!_rateSampleValid || seg.DeliveredAtSend > _sampleDeliveredAtSend)
        {
            _rateSampleValid = true;
            _sampleDeliveredAtSend = seg.DeliveredAtSend;
            _sampleDeliveredTimeAtSend = seg.DeliveredTimeAtSend;
            _sampleFirstSentTimeAtSend = seg.FirstSentTimeAtSend;
            _sampleSentUs = seg.SentUs;
            _sampleAppLimited = seg.Is(SegmentState.AppLimited);
        }
    }

    /// <summary>The delivery rate (bytes/s) over the sampled segment's flight; 0 when there is no usable sample.</summary>
    private double TakeRateSample()
    {
        if (!_rateSampleValid)
        {
            return 0;
        }

        _rateSampleValid = false;
        _firstSentTimeUs = _sampleSentUs;
        long sendElapsed = _sampleSentUs - _sampleFirstSentTimeAtSend;
        long ackElapsed = _deliveredTimeUs - _sampleDeliveredTimeAtSend;
        long interval = Math.Max(sendElapsed, ackElapsed);
        long delivered = _delivered - _sampleDeliveredAtSend;
        if (interval <= 0 || delivered <= 0 || (rtt.MinRttUs != long.MaxValue && interval < rtt.MinRttUs))
        {
            return 0; // too short to mean anything (ACK compression)
        }

        return delivered * 1e6 / interval;
    }

    /// <summary>RACK: a segment sent before the newest delivered one is lost once older than its RTT plus the reordering window.</summary>
    private void DetectByRack(long nowUs, ref (int Segments, long Bytes) lost)
    {
        long reorderWindow = rtt.MinRttUs == long.MaxValue ? 1_000
            : Math.Clamp(rtt.MinRttUs / 4 * _reorderWindowMultiplier, 1_000, Math.Max(rtt.SmoothedRttUs, 1_000));
        int sackedAbove = 0;
        for (int i = _segments.Count - 1; i >= 0; i--)
        {
            ref var seg = ref _segments[i];
            if (seg.Is(SegmentState.Sacked))
            {
                sackedAbove++;
                continue;
            }

            if (!seg.Is(SegmentState.InFlight) || seg.SentUs > _rackSentUs || (seg.SentUs == _rackSentUs && seg.End > _rackEnd))
            {
                continue;
            }

            long lossAt = seg.SentUs + _rackRttUs + reorderWindow;
            if ((sackedAbove >= 3 && !_reorderingSeen) || nowUs >= lossAt)
            {
                MarkLost(ref seg, ref lost);
            }
            else
            {
                timers[TimerKind.LossDetection] = Math.Min(timers[TimerKind.LossDetection], lossAt);
            }
        }
    }

    /// <summary>Without SACK: the oldest segment is lost after three duplicate ACKs, and in recovery at each partial ACK (NewReno).</summary>
    private void DetectByDuplicateAcks(long ackOffset, ref (int Segments, long Bytes) lost)
    {
        ref var first = ref _segments.First;
        bool partialAck = InRecovery && ackOffset > _recoveryAckMark && ackOffset < _recoveryEnd;
        if ((_duplicateAcks >= 3 && !InRecovery) || partialAck)
        {
            if (first.Is(SegmentState.InFlight))
            {
                MarkLost(ref first, ref lost);
                FastRetransmitPending = true;
            }

            _duplicateAcks = 0;
        }

        _recoveryAckMark = Math.Max(_recoveryAckMark, ackOffset);
    }

    private void MarkLost(ref SentSegment seg, ref (int Segments, long Bytes) lost)
    {
        if (seg.Is(SegmentState.InFlight))
        {
            BytesInFlight -= seg.Length;
        }

        seg.State = (seg.State | SegmentState.Lost) & ~SegmentState.InFlight;
        _lostInflightAtSend = Math.Min(_lostInflightAtSend, seg.InflightAtSend);
        lost.Segments++;
        lost.Bytes += seg.Length;
    }

    private void RecountLost()
    {
        bool any = false;
        for (int i = 0; i < _segments.Count && !any; i++)
        {
            any = _segments[i].Is(SegmentState.Lost);
        }

        HasLostSegments = any;
    }
}
