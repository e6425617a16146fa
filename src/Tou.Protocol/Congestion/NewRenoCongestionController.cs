namespace Tou.Protocol.Congestion;

/// <summary>NewReno (RFC 5681, RFC 6582) window arithmetic: slow start, congestion avoidance, halving on loss.</summary>
internal sealed class NewRenoCongestionController : ICongestionController
{
    /// <summary>RFC 6928 initial window of ten segments.</summary>
    public const int InitialWindowSegments = 10;

    private int _mss;
    private long _ssthresh = long.MaxValue;
    private long _avoidanceCredit;
    private readonly HyStart _hyStart = new();
    private (long Window, long SlowStartThreshold)? _undo;

    public NewRenoCongestionController(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
        CongestionWindow = (long)InitialWindowSegments * mss;
    }

    public long CongestionWindow { get; private set; }

    public bool InSlowStart => CongestionWindow < _ssthresh;

    public long SlowStartThreshold => _ssthresh;

    public void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in AckSample rtt)
    {
        if (!windowLimited)
        {
            return;
        }

        if (InSlowStart)
        {
            CongestionWindow += ackedBytes;
            if (_hyStart.ShouldExitSlowStart(nowUs, rtt.LatestUs, rtt.SmoothedUs))
            {
                _ssthresh = CongestionWindow; // a queue is building: continue in congestion avoidance
            }

            return;
        }

        // One MSS per window's worth of acknowledged bytes.
        _avoidanceCredit += ackedBytes;
        if (_avoidanceCredit >= CongestionWindow)
        {
            _avoidanceCredit -= CongestionWindow;
            CongestionWindow += _mss;
        }
    }

    public void OnCongestionEvent(long nowUs, long bytesInFlight)
    {
        _undo = (CongestionWindow, _ssthresh);
        _ssthresh = Math.Max(bytesInFlight / 2, 2L * _mss);
        CongestionWindow = _ssthresh;
        _avoidanceCredit = 0;
    }

    public void UndoCongestionEvent()
    {
        if (_undo is { } saved)
        {
            (CongestionWindow, _ssthresh) = (Math.Max(saved.Window, CongestionWindow), saved.SlowStartThreshold);
            _undo = null;
        }
    }

    public void OnRetransmissionTimeout(long nowUs)
    {
        _undo = null;
        _ssthresh = Math.Max(CongestionWindow / 2, 2L * _mss);
        CongestionWindow = _mss;
        _avoidanceCredit = 0;
    }

    public void OnSegmentSizeChanged(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        _mss = mss;
    }
}
