namespace Tou.Protocol.Congestion;

/// <summary>
/// Model-based congestion control after BBR v1: estimate the bottleneck bandwidth (windowed maximum of
/// delivery-rate samples over ten round trips) and the path's minimum RTT (windowed over ten seconds),
/// pace at a gain times that bandwidth and keep about two bandwidth-delay products in flight. Random loss
/// does not shrink the window — on lossy paths that is the point (anchors.md: Reno and CUBIC collapse on
/// random loss). Phases: Startup (gain 2.89) until the bandwidth stops growing by 25% for three rounds,
/// Drain, then ProbeBW cycling pacing gains 1.25, 0.75, 1×6 one min RTT each, and ProbeRTT (four segments
/// for 200 ms) when the minimum RTT is ten seconds old.
/// </summary>
internal sealed class BbrCongestionController : ICongestionController
{
    private const double HighGain = 2.885;
    private const double CwndGain = 2.0;
    private const int BandwidthWindowRounds = 10;
    private const long MinRttWindowUs = 10_000_000;
    private const long ProbeRttDurationUs = 200_000;
    private static readonly double[] CycleGains = [1.25, 0.75, 1, 1, 1, 1, 1, 1];

    private int _mss;
    private readonly double[] _bandwidthByRound = new double[BandwidthWindowRounds];
    private readonly long[] _roundOfSlot = new long[BandwidthWindowRounds];
    private Mode _mode = Mode.Startup;
    private long _round;
    private long _nextRoundDelivered;
    private double _bandwidth;          // bytes per second
    private long _minRttUs = long.MaxValue;
    private long _minRttStampUs;
    private double _fullBandwidth;
    private int _fullBandwidthRounds;
    private bool _filledPipe;
    private int _cycleIndex;
    private long _cycleStampUs;
    private long _probeRttDoneUs;
    private double _pacingGain = HighGain;

    public BbrCongestionController(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
        CongestionWindow = (long)NewRenoCongestionController.InitialWindowSegments * mss;
        Array.Fill(_roundOfSlot, -1);
    }

    private enum Mode
    {
        Startup,
        Drain,
        ProbeBandwidth,
        ProbeRtt,
    }

    public long CongestionWindow { get; private set; }

    public bool InSlowStart => _mode == Mode.Startup;

    public bool WantsAcksInRecovery => true;

    /// <summary>Pacing rate in bytes per second (0 until the first bandwidth sample).</summary>
    public double PacingRate => _bandwidth > 0 ? _pacingGain * _bandwidth : 0;

    /// <summary>The current bottleneck bandwidth estimate, bytes per second.</summary>
    public double BottleneckBandwidth => _bandwidth;

    private long MinimumWindow => 4L * _mss;

    public void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in AckSample sample)
    {
        bool roundStart = false;
        if (sample.PriorDelivered >= _nextRoundDelivered)
        {
            _nextRoundDelivered = sample.Delivered;
            _round++;
            roundStart = true;
        }

        // Bandwidth: windowed maximum per round; an app-limited sample counts only if it raises the estimate.
        if (sample.DeliveryRate > 0 && (!sample.AppLimited || sample.DeliveryRate >= _bandwidth))
        {
            int slot = (int)(_round % BandwidthWindowRounds);
            if (_roundOfSlot[slot] != _round)
            {
                _roundOfSlot[slot] = _round;
                _bandwidthByRound[slot] = 0;
            }

            _bandwidthByRound[slot] = Math.Max(_bandwidthByRound[slot], sample.DeliveryRate);
        }

        _bandwidth = 0;
        for (int i = 0; i < BandwidthWindowRounds; i++)
        {
            if (_roundOfSlot[i] > _round - BandwidthWindowRounds)
            {
                _bandwidth = Math.Max(_bandwidth, _bandwidthByRound[i]);
            }
        }

        // Minimum RTT over ten seconds; its expiry triggers ProbeRTT.
        bool minRttExpired = _minRttUs != long.MaxValue && nowUs > _minRttStampUs + MinRttWindowUs;
        if (sample.LatestUs > 0 && (sample.LatestUs <= _minRttUs || minRttExpired))
        {
            _minRttUs = sample.LatestUs;
            _minRttStampUs = nowUs;
        }

        if (roundStart && !_filledPipe && sample.DeliveryRate > 0 && !sample.AppLimited)
        {
            if (_bandwidth >= _fullBandwidth * 1.25)
            {
                _fullBandwidth = _bandwidth;
                _fullBandwidthRounds = 0;
            }
            else if (++_fullBandwidthRounds >= 3)
            {
                _filledPipe = true;
            }
        }

        UpdateMode(nowUs, sample.BytesInFlight, minRttExpired);
        UpdateWindow(ackedBytes);
    }

    private void UpdateMode(long nowUs, long bytesInFlight, bool minRttExpired)
    {
        switch (_mode)
        {
            case Mode.Startup when _filledPipe:
                _mode = Mode.Drain;
                _pacingGain = 1 / HighGain;
                break;
            case Mode.Drain when bytesInFlight <= Bdp():
                EnterProbeBandwidth(nowUs);
                break;
            case Mode.ProbeBandwidth when _minRttUs != long.MaxValue && nowUs - _cycleStampUs > _minRttUs:
                _cycleIndex = (_cycleIndex + 1) % CycleGains.Length;
                _cycleStampUs = nowUs;
                _pacingGain = CycleGains[_cycleIndex];
                break;
            case Mode.ProbeRtt when nowUs >= _probeRttDoneUs:
                _minRttStampUs = nowUs;
                if (_filledPipe)
                {
                    EnterProbeBandwidth(nowUs);
                }
                else
                {
                    _mode = Mode.Startup;
                    _pacingGain = HighGain;
                }

                break;
        }

        if (minRttExpired && _mode != Mode.ProbeRtt)
        {
            _mode = Mode.ProbeRtt;
            _pacingGain = 1;
            _probeRttDoneUs = nowUs + ProbeRttDurationUs;
        }
    }

    private void EnterProbeBandwidth(long nowUs)
    {
        _mode = Mode.ProbeBandwidth;
        _cycleIndex = 2; // start cruising; the probe-up phase comes round within a cycle
        _cycleStampUs = nowUs;
        _pacingGain = CycleGains[_cycleIndex];
    }

    /// <summary>Bandwidth-delay product in bytes (0 before both are known).</summary>
    private long Bdp() => _bandwidth <= 0 || _minRttUs == long.MaxValue ? 0 : (long)(_bandwidth * _minRttUs / 1e6);

    private void UpdateWindow(long ackedBytes)
    {
        if (_mode == Mode.ProbeRtt)
        {
            CongestionWindow = MinimumWindow;
            return;
        }

        long bdp = Bdp();
        if (bdp == 0)
        {
            CongestionWindow += ackedBytes; // no model yet: grow like slow start
            return;
        }

        double gain = _mode == Mode.Startup ? HighGain : CwndGain;
        long target = (long)(gain * bdp) + (3L * _mss);
        CongestionWindow = _filledPipe
            ? Math.Min(CongestionWindow + ackedBytes, target)
            : CongestionWindow + ackedBytes;
        CongestionWindow = Math.Max(CongestionWindow, MinimumWindow);
    }

    /// <summary>Random loss is not congestion to BBR; its model already bounds what is in flight.</summary>
    public void OnCongestionEvent(long nowUs, long bytesInFlight)
    {
    }

    public void OnRetransmissionTimeout(long nowUs) => CongestionWindow = MinimumWindow;

    public void UndoCongestionEvent()
    {
    }

    public void OnSegmentSizeChanged(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
    }
}
