namespace Tou.Protocol.Congestion;

/// <summary>
/// A congestion controller: it only decides how many bytes may be in flight. The connection decides
/// what is lost, when a recovery episode starts and ends, and paces sending; it calls
/// <see cref="OnCongestionEvent"/> at most once per recovery episode and <see cref="OnAcked"/> only
/// outside recovery. Times are microseconds.
/// </summary>
public interface ICongestionController
{
    /// <summary>Bytes that may be in flight now.</summary>
    long CongestionWindow { get; }

    /// <summary>True while the window grows exponentially.</summary>
    bool InSlowStart { get; }

    /// <summary>Newly acknowledged (cumulatively or selectively) bytes, outside recovery.</summary>
    /// <param name="nowUs">Current time.</param>
    /// <param name="ackedBytes">Bytes newly delivered by this acknowledgement.</param>
    /// <param name="windowLimited">Whether the sender was using most of the window, so growth is earned.</param>
    /// <param name="rtt">Round-trip times: latest sample (0 when this ACK gave none), smoothed, smallest.</param>
    void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in RttSnapshot rtt);

    /// <summary>Loss was detected (the start of a recovery episode).</summary>
    void OnCongestionEvent(long nowUs, long bytesInFlight);

    /// <summary>The retransmission timer expired: everything in flight is presumed lost.</summary>
    void OnRetransmissionTimeout(long nowUs);

    /// <summary>The last congestion event turned out to be reordering, not loss: restore the window it cut.</summary>
    void UndoCongestionEvent();
}

/// <summary>Round-trip times handed to a congestion controller, in microseconds.</summary>
/// <param name="LatestUs">The sample this acknowledgement produced, or 0.</param>
/// <param name="SmoothedUs">RFC 6298 SRTT.</param>
/// <param name="MinUs">Smallest sample seen.</param>
public readonly record struct RttSnapshot(long LatestUs, long SmoothedUs, long MinUs);

internal static class CongestionControllerFactory
{
    public static ICongestionController Create(CongestionControlAlgorithm algorithm, int mss) => algorithm switch
    {
        CongestionControlAlgorithm.NewReno => new NewRenoCongestionController(mss),
        CongestionControlAlgorithm.Cubic => new CubicCongestionController(mss),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown congestion control algorithm."),
    };
}
