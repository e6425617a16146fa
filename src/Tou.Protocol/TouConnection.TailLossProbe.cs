namespace Tou.Protocol;

// Tail loss probes (RFC 8985 §7): when data is outstanding and two round trips bring no acknowledgement, one segment
// goes out again (new data if the peer's window has room for it, else the newest segment not SACKed), so that a loss
// at the end of a burst (a response's last segment, a game's last message) is found by the probe's acknowledgement and
// RACK within a few round trips, instead of waiting for the retransmission timer (at least MinRto, 200 ms). SACK peers
// only, as RACK itself, and only once an RTT has been measured.
public sealed partial class TouConnection
{
    private const long HostDelayAllowanceUs = 2_000;

    private bool _tailProbeDue;      // the probe timer fired: the next segment built is the probe
    private bool _probeOutstanding;  // a probe went out and no acknowledgement advanced since: at most one per tail

    /// <summary>
    /// Starts (or restarts) the probe timer after data left or an acknowledgement advanced: two smoothed RTTs ahead, plus
    /// 2 ms for the hosts' timers and scheduling (as Linux adds), plus twice the delayed-ACK time while fewer segments
    /// are in flight than the peer may cover with one held-back ACK (a response's last pieces: the ACK may wait for the
    /// peer's timer, itself served late at times); and only while the probe would come before the retransmission timer.
    /// </summary>
    private void ArmTailLossProbe(long nowUs)
    {
        if (!_agreed.Sack || !_rtt.HasSample || _probeOutstanding || _loss.InRecovery || _loss.HasLostSegments || !HasOutstanding)
        {
            _timers.Clear(TimerKind.TailLossProbe);
            return;
        }

        long timeout = (2 * _rtt.SmoothedRttUs) + HostDelayAllowanceUs;
        if (_loss.BytesInFlight < (long)_options.SegmentsPerAck * _sendMss)
        {
            timeout += 2 * TouTime.FromTimeSpan(_options.DelayedAckTimeout);
        }

        long due = nowUs + timeout;
        long rto = _timers[TimerKind.Retransmission];
        _timers[TimerKind.TailLossProbe] = rto != TouTime.Never && due >= rto ? TouTime.Never : due;
    }

    /// <summary>The probe timer fired: probe if the tail is still unacknowledged and no recovery has begun since.</summary>
    private void OnTailLossProbeTimer()
    {
        _timers.Clear(TimerKind.TailLossProbe);
        _tailProbeDue = _agreed.Sack && !_probeOutstanding && !_loss.InRecovery && !_loss.HasLostSegments && HasOutstanding;
    }

    /// <summary>The probe itself, regardless of the congestion window and the pacer (one segment); 0 when nothing is left
    /// to probe with (everything was acknowledged meanwhile).</summary>
    private int BuildTailLossProbe(long nowUs, Span<byte> buffer)
    {
        _tailProbeDue = false;
        _trace?.ProbeTimeoutExpired(nowUs);
        int length = NextNewDataLength(_written - _sndNxt);
        int built;
        if (length > 0)
        {
            built = BuildData(buffer, TakeNewData(nowUs, length), length, ping: _agreed.Extended);
        }
        else
        {
            int index = TailSegmentToProbe();
            if (index < 0)
            {
                return 0;
            }

            _loss.OnProbeResent(index, nowUs);
            var seg = _loss.SegmentAt(index);
            Stats.Retransmissions++;
            _host?.OnRetransmission();
            built = seg.Is(SegmentState.Fin) ? BuildFin(buffer, seg.Offset) : BuildData(buffer, seg.Offset, seg.Length, ping: _agreed.Extended);
        }

        _probeOutstanding = true;
        Stats.TailLossProbes++;
        Log.TailLossProbe(_logger, Id, _rtt.SmoothedRttUs);
        ArmRto(nowUs);
        return built;
    }

    /// <summary>
    /// The segment a probe sends again: the newest not SACKed, but the data before a FIN rather than the FIN itself (a
    /// FIN is never SACKed, so its acknowledgement could not show which data is missing); -1 when there is none or it
    /// already waits for retransmission as lost.
    /// </summary>
    private int TailSegmentToProbe()
    {
        int index = _loss.SegmentCount - 1;
        while (index >= 0 && _loss.SegmentAt(index).Is(SegmentState.Sacked))
        {
            index--;
        }

        if (index > 0 && _loss.SegmentAt(index).Is(SegmentState.Fin) && !_loss.SegmentAt(index - 1).Is(SegmentState.Sacked))
        {
            index--;
        }

        return index >= 0 && !_loss.SegmentAt(index).Is(SegmentState.Lost) ? index : -1;
    }
}
