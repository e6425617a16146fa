namespace Tou.Protocol.Congestion;

/// <summary>
/// Model-based congestion control after BBR v3 (draft-ietf-ccwg-bbr): pacing at the measured bottleneck bandwidth is the
/// main control, with in flight bounded by a BDP multiple and by bounds learned from loss. Per round trip it counts bytes
/// delivered and lost and the RTT range; a round whose loss rate passes the path's random loss by 2% while a queue
/// stands (or passes 15% at all: the threshold is bounded) is congestion. Random loss below that, or without a queue,
/// leaves the rate alone — the point of a transport over UDP on lossy paths — and the pacing rate is raised by the
/// random loss rate (measured in rounds without a queue), since lost bytes take their share of the sending rate.
/// Phases: Startup (pacing 2.77×, cwnd growing as slow start until an ACK shows a queue, then up to 2 BDP) until the
/// bandwidth stops growing by 25% for three rounds, a round is congested, or the RTT rises while the bandwidth no longer
/// doubles; Drain; ProbeBW cycling Down (0.9×), Cruise (1×, in flight under the learned bound less 15% headroom; two
/// rounds after a cycle that grew by a tenth), Refill (one round, short-term bounds lifted) and Up (1.25×, raising
/// the bound until congestion or 1.25 BDP in flight), re-entering Startup when a probe finds a tenth more bandwidth
/// without a queue; ProbeRTT (half a BDP for 200 ms and a round) when no RTT within one segment's serialisation at the
/// estimated bandwidth of the minimum has been seen for five seconds. The window also covers a queue that stood
/// through a cycle's Down and Cruise rounds: another flow's, which this one cannot drain.
/// </summary>
internal sealed class BbrCongestionController : ICongestionController
{
    private const double StartupPacingGain = 2.77;
    private const double DrainPacingGain = 0.35;
    private const double CwndGain = 2.0;
    private const double ProbeUpCwndGain = 2.25;
    private const double QueueCwndGain = 1.25;
    private const double QueueProbeUpCwndGain = 1.5;
    private const double StaleEstimateRatio = 0.5;
    private const double ProbeDownPacingGain = 0.9;
    private const double ProbeUpPacingGain = 1.25;
    private const double PacingMargin = 0.99;
    private const double LossThreshold = 0.02;
    private const double HeavyLossThreshold = 0.15;
    private const double Beta = 0.7;
    private const double Headroom = 0.15;
    private const double FullBandwidthGrowth = 1.25;
    private const int FullBandwidthRounds = 3;
    private const long MinRttWindowUs = 10_000_000;
    private const long ProbeRttIntervalUs = 5_000_000;
    private const long ProbeRttDurationUs = 200_000;
    private const double ProbeRttCwndGain = 0.5;
    private const double UpGrowth = 1.1;
    private const double StartupSlowedGrowth = 1.5;
    private const int ProbeWaitMinRounds = 6;
    private const int ProbeWaitSpreadRounds = 5;
    private const int ProbeAgainRounds = 2;
    private const double RandomLossWeight = 0.125;
    private const double MaxRandomLoss = 0.1;

    private int _mss;
    private BbrBandwidthFilter _maxBandwidth;
    private BbrRoundSignals _signals = BbrRoundSignals.Empty;
    private long _round;
    private long _nextRoundDelivered;
    private long _minRttUs = long.MaxValue;
    private long _minRttStampUs;
    private long _probeRttStampUs;
    private long _probeRttMinUs = long.MaxValue;
    private bool _probeRttExpired;
    private long _probeRttDoneUs;
    private bool _probeRttRoundDone;
    private long _priorCwnd;
    private double _fullBandwidth;
    private int _fullBandwidthCount;
    private bool _filledPipe;
    private long _phaseStartUs;
    private long _phaseStartRound;
    private int _probeWaitRounds = ProbeWaitMinRounds;
    private uint _random;
    private bool _upStillGrowing;
    private double _upStartBandwidth;
    private double _upLastRate;
    private double _randomLoss;
    private int _randomLossRounds;
    private bool _windowLedStartup = true;
    private bool _freeStartupWindow = true;
    private long _cycleMinRttUs = long.MaxValue;
    private double _cycleMaxRate;
    private long _foreignQueueRttUs;
    private double _lastCycleBandwidth;

    // Long-term bound from loss while probing; short-term bounds from congestion while cruising (cut by Beta per round).
    private long _inflightHigh = long.MaxValue;
    private double _bandwidthLow = double.MaxValue;
    private long _inflightLow = long.MaxValue;

    public BbrCongestionController(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
        CongestionWindow = (long)NewRenoCongestionController.InitialWindowSegments * mss;
    }

    public long CongestionWindow { get; private set; }

    public bool InSlowStart => Phase == BbrPhase.Startup;

    public bool WantsAcksInRecovery => true;

    /// <summary>The state machine's phase.</summary>
    public BbrPhase Phase { get; private set; } = BbrPhase.Startup;

    /// <summary>Pacing rate in bytes per second (0 until the first bandwidth sample: the pacer then uses the window).</summary>
    /// <remarks>The bandwidth counts delivered bytes, but lost ones were sent too: once the pipe is full the rate is raised
    /// by the random loss rate, or pacing at the delivery rate would leave that share of the bottleneck idle. In Startup the window, doubling each round, is the control: a delivery-rate sample spans a paced flight's
    /// sending time as well as its round trip, so it lags the window, and pacing at a multiple of it alone would grow
    /// the flight by less than twice a round. Pacing there is at least the window over half the minimum RTT, until a round
/// shows a queue (from then on the window may exceed what the path holds, and bursting it would overflow the buffer).</remarks>
    public double PacingRate
    {
        get
        {
            if (Bandwidth <= 0)
            {
                return 0;
            }

            // No margin in Cruise: there it would idle the bottleneck 1% of the time; Down drains what a high estimate queues.
            double rate = PacingGain * Bandwidth * (Phase == BbrPhase.ProbeCruise ? 1 : PacingMargin) / (_filledPipe ? 1 - _randomLoss : 1);
            return _windowLedStartup && _minRttUs != long.MaxValue ? Math.Max(rate, 2e6 * CongestionWindow / _minRttUs) : rate;
        }
    }

    /// <summary>The smoothed loss rate of rounds without a queue (loss that says nothing about congestion).</summary>
    public double RandomLossRate => _randomLoss;

    /// <summary>The bottleneck bandwidth estimate (the maximum filter), bytes per second.</summary>
    public double BottleneckBandwidth => _maxBandwidth.Max;

    /// <summary>The long-term in-flight bound learned from loss (long.MaxValue while none).</summary>
    public long InflightHigh => _inflightHigh;

    /// <summary>The short-term bandwidth bound (double.MaxValue while none).</summary>
    public double BandwidthLow => _bandwidthLow;

    /// <summary>The minimum RTT, µs.</summary>
    public long MinRttUs => _minRttUs;

    /// <summary>The bandwidth paced at: the estimate capped by the short-term bound.</summary>
    private double Bandwidth => Math.Min(_maxBandwidth.Max, _bandwidthLow);

    private double PacingGain => Phase switch
    {
        BbrPhase.Startup => StartupPacingGain,
        BbrPhase.Drain => DrainPacingGain,
        BbrPhase.ProbeDown => ProbeDownPacingGain,
        BbrPhase.ProbeUp => ProbeUpPacingGain,
        _ => 1,
    };

    private long MinimumWindow => 4L * _mss;

    public void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in AckSample sample)
    {
        if (_random == 0)
        {
            _random = (uint)(nowUs ^ (nowUs >> 32)) | 1; // flows that start apart probe apart
        }

        bool roundStart = false;
        if (sample.PriorDelivered >= _nextRoundDelivered)
        {
            _nextRoundDelivered = sample.Delivered;
            _round++;
            roundStart = true;
        }

        UpdateMinRtt(nowUs, sample.LatestUs);
        if (Phase is BbrPhase.ProbeDown or BbrPhase.ProbeCruise && sample.LatestUs > 0)
        {
            _cycleMinRttUs = Math.Min(_cycleMinRttUs, sample.LatestUs);
            _cycleMaxRate = Math.Max(_cycleMaxRate, sample.DeliveryRate);
        }
        if (sample.DeliveryRate > 0 && (!sample.AppLimited || sample.DeliveryRate >= _maxBandwidth.Max))
        {
            _maxBandwidth.Update(sample.DeliveryRate);
        }

        if (roundStart)
        {
            EndRound(nowUs, sample.AppLimited);
            _signals = BbrRoundSignals.Empty;
        }

        _signals.AddAck(ackedBytes, sample.LatestUs, sample.AppLimited ? 0 : sample.DeliveryRate);
        // The delivery rate lags a paced Startup flight by about a round, so 2 BDP of it held the window to ~1.4x a
        // round: the window grows as slow start until a sample shows the first queue (a tight threshold, as missing
        // it costs overshoot and a false alarm only returns to the cap).
        if (_freeStartupWindow && _minRttUs != long.MaxValue && sample.LatestUs > _minRttUs + Math.Max(_minRttUs / 16, 500))
        {
            _freeStartupWindow = false;
        }

        UpdatePhase(nowUs, sample.BytesInFlight, roundStart);
        UpdateWindow(ackedBytes, windowLimited);
    }

    public void OnPacketsLost(long nowUs, long lostBytes, long inflightAtSend) =>
        _signals.AddLoss(lostBytes, inflightAtSend);

    /// <summary>BBR reads loss per round (<see cref="OnPacketsLost"/>), not per recovery episode.</summary>
    public void OnCongestionEvent(long nowUs, long bytesInFlight)
    {
    }

    public void OnRetransmissionTimeout(long nowUs)
    {
        _priorCwnd = Math.Max(_priorCwnd, CongestionWindow);
        CongestionWindow = MinimumWindow;
    }

    public void UndoCongestionEvent()
    {
    }

    public void OnSegmentSizeChanged(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
    }

    /// <summary>Bandwidth-delay product in bytes at <paramref name="gain"/> (0 before both are known).</summary>
    private long Bdp(double gain = 1) =>
        _maxBandwidth.Max <= 0 || _minRttUs == long.MaxValue ? 0 : (long)(gain * _maxBandwidth.Max * _minRttUs / 1e6);

    /// <summary>
    /// In flight that keeps the estimated bandwidth flowing through another flow's standing queue, at
    /// <paramref name="gain"/> (0 while there is none): a loss-based flow keeps a deep buffer full, and a window of
    /// two BDPs at this flow's bare minimum RTT would leave it window-limited behind that queue, its delivery rate and
    /// then its estimate sliding down round after round.
    /// </summary>
    private long ForeignQueueBdp(double gain) =>
        _foreignQueueRttUs > _minRttUs + Math.Max(_minRttUs / 4, 2_000) ? (long)(gain * _maxBandwidth.Max * _foreignQueueRttUs / 1e6) : 0;

    /// <summary>
    /// Two minimum filters: the ProbeRTT one over five seconds (its expiry sends the flow to ProbeRTT) and the model's
    /// over ten, which takes the five-second one when that is lower or the ten seconds are up — so a queue that another
    /// flow never lets drain becomes part of the path instead of starving this flow of window.
    /// </summary>
    private void UpdateMinRtt(long nowUs, long rttUs)
    {
        if (rttUs <= 0)
        {
            return;
        }

        // The first sample starts the five seconds: a host's clock does not start at zero with the connection.
        _probeRttExpired = _probeRttMinUs != long.MaxValue && nowUs > _probeRttStampUs + ProbeRttIntervalUs;
        if (rttUs <= _probeRttMinUs || _probeRttExpired)
        {
            _probeRttMinUs = rttUs;
            _probeRttStampUs = nowUs;
        }
        else if (_maxBandwidth.Max > 0 && rttUs - _probeRttMinUs <= _mss * 1e6 / _maxBandwidth.Max)
        {
            // At most one segment's serialisation above the minimum: the queue was empty, the path just measured
            // (samples jitter by microseconds, so a strict minimum is rarely seen twice even on an idle path).
            _probeRttStampUs = nowUs;
        }

        if (_probeRttMinUs <= _minRttUs || nowUs > _minRttStampUs + MinRttWindowUs)
        {
            _minRttUs = _probeRttMinUs;
            _minRttStampUs = _probeRttStampUs;
        }
    }

    /// <summary>
    /// A round trip ended: read its signals. Congestion is a loss rate above the threshold with a queue standing (the
    /// round's largest RTT above the minimum by an eighth), or above the bounded heavy-loss threshold at all.
    /// </summary>
    private void EndRound(long nowUs, bool appLimited)
    {
        var r = _signals;
        if (_minRttUs == long.MaxValue || r.DeliveredBytes + r.LostBytes == 0)
        {
            return;
        }

        bool queue = r.MaxRttUs > _minRttUs + Math.Max(_minRttUs / 8, 1_000);
        // The threshold counts from the path's random loss: a lossy path's rounds scatter around its loss rate, and one
        // that happens to pass 2% while probing is not congestion.
        double threshold = LossThreshold + _randomLoss;
        bool congested = r.LossEvents >= 2 && r.LossRate > threshold && (queue || r.LossRate > HeavyLossThreshold);
        _windowLedStartup &= Phase == BbrPhase.Startup && !queue;
        if (!queue && !appLimited)
        {
            // A round with a queue may have lost to the queue's overflow: only queue-free loss is random loss. The
            // first rounds are averaged evenly, so that the estimate is the path's already when Startup's queue forms.
            _randomLossRounds++;
            double weight = Math.Max(RandomLossWeight, 1.0 / _randomLossRounds);
            _randomLoss += weight * (Math.Min(r.LossRate, MaxRandomLoss) - _randomLoss);
        }

        switch (Phase)
        {
            case BbrPhase.Startup:
                EndStartupRound(nowUs, r, congested, appLimited);
                break;
            case BbrPhase.ProbeUp or BbrPhase.ProbeRefill when congested:
                // The bound never drops below what cruising at the estimated bandwidth needs: random loss that
                // happens to fall in a probe ends the probe, it does not cut the rate (yielding is the lower bounds' job).
                _inflightHigh = Math.Max(r.InflightAtLoss, (long)(Bdp() / (1 - Headroom)) + (4L * _mss));
                EnterPhase(BbrPhase.ProbeDown, nowUs);
                break;
            case BbrPhase.ProbeUp:
                // More capacity answered the probe (the rate grew by a tenth in a round): keep probing up, so a link
                // that got faster is found in a few rounds rather than a few cycles.
                _upStillGrowing = r.MaxDeliveryRate >= UpGrowth * _upLastRate;
                _upLastRate = r.MaxDeliveryRate;
                if (r.MaxDeliveryRate >= UpGrowth * _upStartBandwidth && !StandingQueue(r))
                {
                    // The probe found a tenth more than the estimate (a maximum) without a queue: the link got faster
                    // (or a competitor left), maybe by far more than probing at 1.25x finds in a few rounds. Search it as
                    // Startup does, doubling until the bandwidth plateaus; the old loss bound described the old link.
                    _inflightHigh = long.MaxValue;
                    _fullBandwidth = r.MaxDeliveryRate;
                    _fullBandwidthCount = 0;
                    EnterPhase(BbrPhase.Startup, nowUs);
                }

                break;
            case BbrPhase.ProbeDown or BbrPhase.ProbeCruise when congested:
                double bandwidthLow = _bandwidthLow == double.MaxValue ? _maxBandwidth.Max : _bandwidthLow;
                _bandwidthLow = Math.Max(r.MaxDeliveryRate, Beta * bandwidthLow);
                long inflightLow = _inflightLow == long.MaxValue ? CongestionWindow : _inflightLow;
                _inflightLow = Math.Max(r.DeliveredBytes, (long)(Beta * inflightLow));
                break;
        }
    }

    /// <summary>Startup ends when the bandwidth plateaus, a round is congested, or the round's smallest RTT shows a queue.</summary>
    private void EndStartupRound(long nowUs, in BbrRoundSignals r, bool congested, bool appLimited)
    {
        bool grew = true, slowed = false;
        if (!appLimited)
        {
            grew = _maxBandwidth.Max >= _fullBandwidth * FullBandwidthGrowth;
            slowed = _maxBandwidth.Max < _fullBandwidth * StartupSlowedGrowth;
            if (grew)
            {
                _fullBandwidth = _maxBandwidth.Max;
                _fullBandwidthCount = 0;
            }
            else
            {
                _fullBandwidthCount++;
            }
        }

        // A queue that grows while the bandwidth does not is this flow overshooting: no need to wait three rounds. A
        // round whose RTT rose by a quarter while the bandwidth grew by less than half (Startup doubles it) means the
        // pipe is full and the next round would only queue. While the bandwidth still doubles, the queue is someone
        // else's and Startup goes on.
        bool queueGrowing = (!grew && StandingQueue(r)) || (slowed && r.MaxRttUs > _minRttUs + Math.Max(_minRttUs / 4, 2_000));
        if (congested)
        {
            _inflightHigh = Math.Max(Bdp(), r.DeliveredBytes);
        }

        if (congested || queueGrowing || _fullBandwidthCount >= FullBandwidthRounds)
        {
            _filledPipe = true;
            EnterPhase(BbrPhase.Drain, nowUs);
        }
    }

    /// <summary>Even the round's smallest RTT was a quarter (at least 2 ms) above the minimum: a queue stood all round.</summary>
    private bool StandingQueue(in BbrRoundSignals r) =>
        r.MinRttUs != long.MaxValue && r.MinRttUs > _minRttUs + Math.Max(_minRttUs / 4, 2_000);

    private void UpdatePhase(long nowUs, long bytesInFlight, bool roundStart)
    {
        if (Phase != BbrPhase.ProbeRtt && _probeRttExpired && _minRttUs != long.MaxValue)
        {
            _priorCwnd = Math.Max(_priorCwnd, CongestionWindow);
            _probeRttDoneUs = 0;
            EnterPhase(BbrPhase.ProbeRtt, nowUs);
        }

        switch (Phase)
        {
            case BbrPhase.Drain when bytesInFlight <= Bdp():
                EnterPhase(BbrPhase.ProbeDown, nowUs);
                break;
            case BbrPhase.ProbeDown when TimeToProbe():
            case BbrPhase.ProbeCruise when TimeToProbe():
                StartRefill(nowUs);
                break;
            case BbrPhase.ProbeDown when bytesInFlight <= Math.Min(Bdp(), HeadroomBound()):
                EnterPhase(BbrPhase.ProbeCruise, nowUs, keepCycle: true);
                break;
            case BbrPhase.ProbeRefill when roundStart && _round > _phaseStartRound:
                _upStillGrowing = false;
                _upLastRate = _upStartBandwidth = _maxBandwidth.Max;
                EnterPhase(BbrPhase.ProbeUp, nowUs);
                break;
            case BbrPhase.ProbeUp when bytesInFlight >= Bdp(ProbeUpPacingGain) && nowUs - _phaseStartUs >= _minRttUs && !_upStillGrowing:
                EnterPhase(BbrPhase.ProbeDown, nowUs);
                break;
            case BbrPhase.ProbeRtt:
                UpdateProbeRtt(nowUs, bytesInFlight, roundStart);
                break;
        }
    }

    private void UpdateProbeRtt(long nowUs, long bytesInFlight, bool roundStart)
    {
        if (_probeRttDoneUs == 0)
        {
            if (bytesInFlight <= ProbeRttWindow())
            {
                _probeRttDoneUs = nowUs + ProbeRttDurationUs;
                _probeRttRoundDone = false;
                _phaseStartRound = _round;
            }

            return;
        }

        _probeRttRoundDone |= roundStart && _round > _phaseStartRound;
        if (_probeRttRoundDone && nowUs >= _probeRttDoneUs)
        {
            _probeRttStampUs = nowUs;
            CongestionWindow = Math.Max(CongestionWindow, _priorCwnd);
            _priorCwnd = 0;
            ResetLowerBounds();
            EnterPhase(_filledPipe ? BbrPhase.ProbeDown : BbrPhase.Startup, nowUs);
        }
    }

    /// <summary>Cruising lasts a few rounds, a pseudo-random number of them so that flows sharing a link do not probe in step.</summary>
    private bool TimeToProbe() => _round - _phaseStartRound >= _probeWaitRounds;

    private void StartRefill(long nowUs)
    {
        ResetLowerBounds();
        // The lowest RTT of the cycle's Down and Cruise rounds, which paced at or below the estimate: a queue that
        // stood through them is not this flow's to drain — unless the flow delivered under half its estimate, when
        // the link slowed and the queue is its own, built on a stale estimate.
        bool stale = _cycleMaxRate < StaleEstimateRatio * _maxBandwidth.Max;
        _foreignQueueRttUs = _cycleMinRttUs == long.MaxValue || stale ? 0 : _cycleMinRttUs;
        _cycleMinRttUs = long.MaxValue;
        _cycleMaxRate = 0;
        double cycleBandwidth = _maxBandwidth.Max;
        _maxBandwidth.Advance();
        _random ^= _random << 13;
        _random ^= _random >> 17;
        _random ^= _random << 5;
        _probeWaitRounds = ProbeWaitMinRounds + (int)(_random % ProbeWaitSpreadRounds);
        if (_lastCycleBandwidth > 0 && cycleBandwidth >= UpGrowth * _lastCycleBandwidth)
        {
            // The last probe found a tenth more: the path has room (a competitor backed off, or yields to a full
            // queue's share), so probe again soon. A flow with a long RTT behind a short-RTT loss-based one otherwise
            // regains its share by a few percent per cycle of eight long rounds.
            _probeWaitRounds = ProbeAgainRounds;
        }

        _lastCycleBandwidth = cycleBandwidth;
        EnterPhase(BbrPhase.ProbeRefill, nowUs);
    }

    private void ResetLowerBounds()
    {
        _bandwidthLow = double.MaxValue;
        _inflightLow = long.MaxValue;
    }

    /// <summary>Enters <paramref name="phase"/>; a ProbeBW cycle (the cruise wait) counts from ProbeDown unless kept.</summary>
    private void EnterPhase(BbrPhase phase, long nowUs, bool keepCycle = false)
    {
        Phase = phase;
        _phaseStartUs = nowUs;
        if (!keepCycle)
        {
            _phaseStartRound = _round;
        }
    }

    private long HeadroomBound() => _inflightHigh == long.MaxValue ? long.MaxValue : (long)(_inflightHigh * (1 - Headroom));

    private long ProbeRttWindow() => Math.Max((long)(ProbeRttCwndGain * Bdp()), MinimumWindow);

    private void UpdateWindow(long ackedBytes, bool windowLimited)
    {
        long bdp = Bdp();
        if (bdp == 0)
        {
            CongestionWindow += ackedBytes; // no model yet: grow like slow start
            return;
        }

        bool up = Phase == BbrPhase.ProbeUp;
        long target = Math.Max((long)((up ? ProbeUpCwndGain : CwndGain) * bdp), ForeignQueueBdp(up ? QueueProbeUpCwndGain : QueueCwndGain)) + (4L * _mss);
        if (_filledPipe)
        {
            CongestionWindow = Math.Min(CongestionWindow + ackedBytes, target);
        }
        else if (CongestionWindow < target || (_freeStartupWindow && _windowLedStartup))
        {
            CongestionWindow += ackedBytes;
        }

        // ProbeUp raises the loss-learned bound by a quarter a round while the window is what limits sending.
        if (Phase == BbrPhase.ProbeUp && windowLimited && _inflightHigh != long.MaxValue && CongestionWindow >= _inflightHigh)
        {
            _inflightHigh += Math.Max(ackedBytes / 4, 1);
        }

        bool probing = Phase is BbrPhase.Startup or BbrPhase.ProbeRefill or BbrPhase.ProbeUp;
        long bound = Math.Min(probing ? _inflightHigh : HeadroomBound(), _inflightLow);
        CongestionWindow = Math.Max(Math.Min(CongestionWindow, bound), MinimumWindow);
        if (Phase == BbrPhase.ProbeRtt)
        {
            CongestionWindow = Math.Min(CongestionWindow, ProbeRttWindow());
        }
    }
}
