namespace Tou.Protocol.Congestion;

/// <summary>
/// CUBIC (RFC 9438): after a loss the window grows along a cubic curve that is concave up to the window
/// where the loss happened (W_max) and convex beyond it, independent of RTT; never slower than the
/// Reno-friendly estimate. Slow start below ssthresh. Windows are computed in segments, stored in bytes.
/// </summary>
internal sealed class CubicCongestionController : ICongestionController
{
    /// <summary>RFC 9438 constants: C (segments/s^3) and the multiplicative decrease factor.</summary>
    public const double C = 0.4;
    public const double Beta = 0.7;
    private const double AlphaReno = 3 * (1 - Beta) / (1 + Beta);

    private int _mss;
    private long _ssthresh = long.MaxValue;
    private double _wMax;           // segments, the window at the last congestion event
    private double _k;              // seconds from the epoch start to reach W_max
    private double _wEst;           // segments, the Reno-friendly estimate
    private double _cwndAtEpoch;    // segments
    private long _epochStartUs = -1;
    private readonly HyStart _hyStart = new();
    private (long Window, long SlowStartThreshold, double WMax)? _undo;

    public CubicCongestionController(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
        CongestionWindow = (long)NewRenoCongestionController.InitialWindowSegments * mss;
    }

    public long CongestionWindow { get; private set; }

    public bool InSlowStart => CongestionWindow < _ssthresh;

    public long SlowStartThreshold => _ssthresh;

    /// <summary>W_max in bytes (0 before the first congestion event).</summary>
    public long MaxWindowBeforeReduction => (long)(_wMax * _mss);

    public void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in AckSample rtt)
    {
        if (!windowLimited || ackedBytes <= 0)
        {
            return;
        }

        if (InSlowStart)
        {
            CongestionWindow = Math.Min(CongestionWindow + ackedBytes, Math.Max(_ssthresh, CongestionWindow));
            if (_hyStart.ShouldExitSlowStart(nowUs, rtt.LatestUs, rtt.SmoothedUs))
            {
                _ssthresh = CongestionWindow; // a queue is building: the cubic curve takes over from here
            }

            return;
        }

        double cwnd = (double)CongestionWindow / _mss;
        if (_epochStartUs < 0)
        {
            // A new congestion-avoidance epoch: the curve starts at the current window.
            _epochStartUs = nowUs;
            _cwndAtEpoch = cwnd;
            _wEst = cwnd;
            if (_wMax < cwnd)
            {
                _wMax = cwnd; // no loss yet (or the window already passed W_max): start on the convex side
            }

            _k = Math.Cbrt((_wMax - cwnd) / C);
        }

        double t = (nowUs - _epochStartUs) / 1e6;
        double rttSeconds = Math.Max(rtt.SmoothedUs, 1) / 1e6;
        double ackedSegments = (double)ackedBytes / _mss;

        // Reno-friendly estimate (RFC 9438 4.3): grows by alpha segments per window's worth of ACKs.
        _wEst += AlphaReno * ackedSegments / cwnd;

        double cubicNow = WCubic(t);
        double next;
        if (cubicNow < _wEst)
        {
            next = _wEst;
        }
        else
        {
            // Aim at where the curve will be one RTT from now, at most 1.5 times the window (RFC 9438 4.4).
            double target = Math.Clamp(WCubic(t + rttSeconds), cwnd, 1.5 * cwnd);
            next = cwnd + ((target - cwnd) / cwnd * ackedSegments);
        }

        CongestionWindow = Math.Max((long)(next * _mss), CongestionWindow);
    }

    public void OnCongestionEvent(long nowUs, long bytesInFlight)
    {
        double cwnd = (double)CongestionWindow / _mss;
        _undo = (CongestionWindow, _ssthresh, _wMax);

        // Fast convergence (RFC 9438 4.7): a loss below the previous W_max means a new flow needs room.
        _wMax = cwnd < _wMax ? cwnd * (1 + Beta) / 2 : cwnd;
        _ssthresh = Math.Max((long)(CongestionWindow * Beta), 2L * _mss);
        CongestionWindow = _ssthresh;
        _epochStartUs = -1;
    }

    public void UndoCongestionEvent()
    {
        if (_undo is { } saved)
        {
            CongestionWindow = Math.Max(saved.Window, CongestionWindow);
            _ssthresh = saved.SlowStartThreshold;
            _wMax = saved.WMax;
            _epochStartUs = -1;
            _undo = null;
        }
    }

    public void OnRetransmissionTimeout(long nowUs)
    {
        OnCongestionEvent(nowUs, CongestionWindow);
        _undo = null;
        CongestionWindow = _mss; // RFC 9438 4.8: restart from one segment in slow start up to ssthresh
    }

    public void OnSegmentSizeChanged(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);

        // The curve is in segments: the same bytes are more (or fewer) segments of the new size. K, in seconds, stays.
        double scale = (double)_mss / mss;
        _wMax *= scale;
        _wEst *= scale;
        _cwndAtEpoch *= scale;
        if (_undo is { } saved)
        {
            _undo = (saved.Window, saved.SlowStartThreshold, saved.WMax * scale);
        }

        _mss = mss;
    }

    private double WCubic(double t) => (C * Math.Pow(t - _k, 3)) + _wMax;
}
