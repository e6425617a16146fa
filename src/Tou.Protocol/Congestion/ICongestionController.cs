namespace Tou.Protocol.Congestion;

/// <summary>
/// A congestion controller: it only decides how many bytes may be in flight. The connection decides
/// what is lost, when a recovery episode starts and ends, and paces sending; it calls
/// <see cref="OnCongestionEvent"/> at most once per recovery episode and <see cref="OnAcked"/> only
/// outside recovery. Times are microseconds.
/// </summary>
internal interface ICongestionController
{
    /// <summary>Bytes that may be in flight now.</summary>
    long CongestionWindow { get; }

    /// <summary>True while the window grows exponentially.</summary>
    bool InSlowStart { get; }

    /// <summary>Sending rate the controller wants (bytes per second), or 0 to pace at the window over SRTT.</summary>
    double PacingRate => 0;

    /// <summary>Whether to be told of acknowledgements during loss recovery too (model-based control).</summary>
    bool WantsAcksInRecovery => false;

    /// <summary>Newly acknowledged (cumulatively or selectively) bytes, outside recovery.</summary>
    /// <param name="nowUs">Current time.</param>
    /// <param name="ackedBytes">Bytes newly delivered by this acknowledgement.</param>
    /// <param name="windowLimited">Whether the sender was using most of the window, so growth is earned.</param>
    /// <param name="rtt">Round-trip times: latest sample (0 when this ACK gave none), smoothed, smallest.</param>
    void OnAcked(long nowUs, long ackedBytes, bool windowLimited, in AckSample rtt);

    /// <summary>Segments were declared lost (every time, in or out of recovery): model-based control counts loss per round.</summary>
    /// <param name="nowUs">Current time.</param>
    /// <param name="lostBytes">Data bytes newly declared lost.</param>
    /// <param name="inflightAtSend">Of the lost segments, the smallest number of bytes in flight just after one was sent:
    /// more than the path could hold.</param>
    void OnPacketsLost(long nowUs, long lostBytes, long inflightAtSend)
    {
    }

    /// <summary>Loss was detected (the start of a recovery episode).</summary>
    void OnCongestionEvent(long nowUs, long bytesInFlight);

    /// <summary>The retransmission timer expired: everything in flight is presumed lost.</summary>
    void OnRetransmissionTimeout(long nowUs);

    /// <summary>The last congestion event turned out to be reordering, not loss: restore the window it cut.</summary>
    void UndoCongestionEvent();

    /// <summary>Path MTU discovery changed the segment size: the window stays what it is in bytes; what the controller
    /// counts in segments (growth, minimum windows, CUBIC's curve) uses <paramref name="mss"/> from now on.</summary>
    void OnSegmentSizeChanged(int mss);
}
