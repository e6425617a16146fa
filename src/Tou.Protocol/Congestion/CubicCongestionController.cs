namespace Tou.Protocol.Congestion;

/// <summary>Placeholder until CUBIC lands: NewReno arithmetic.</summary>
public sealed class CubicCongestionController : ICongestionController
{
    private readonly NewRenoCongestionController _inner;

    public CubicCongestionController(int mss) => _inner = new NewRenoCongestionController(mss);

    public long CongestionWindow => _inner.CongestionWindow;

    public bool InSlowStart => _inner.InSlowStart;

    public void OnAcked(long nowUs, long ackedBytes, bool windowLimited, long smoothedRttUs, long minRttUs) =>
        _inner.OnAcked(nowUs, ackedBytes, windowLimited, smoothedRttUs, minRttUs);

    public void OnCongestionEvent(long nowUs, long bytesInFlight) => _inner.OnCongestionEvent(nowUs, bytesInFlight);

    public void OnRetransmissionTimeout(long nowUs) => _inner.OnRetransmissionTimeout(nowUs);
}
