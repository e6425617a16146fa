namespace Tou.Protocol;

/// <summary>
/// Spreads a connection's transmissions over time: a token bucket refilled at the pacing rate with a burst of ten
/// segments, so a large window leaves as a stream rather than a burst that overflows queues. The rate is the
/// controller's own (BBR) or else a gain times cwnd/SRTT (2 in slow start, 1.25 after).
/// </summary>
internal sealed class Pacer
{
    private double _tokens;
    private long _lastUs;

    /// <summary>The pacing rate in bytes per microsecond.</summary>
    /// <param name="controllerRate">The controller's pacing rate in bytes per second, or 0 when it sets none.</param>
    public static double BytesPerUs(double controllerRate, bool inSlowStart, long congestionWindow, long smoothedRttUs) =>
        controllerRate > 0
            ? controllerRate / 1e6
            : (inSlowStart ? 2.0 : 1.25) * congestionWindow / Math.Max(smoothedRttUs, 1);

    /// <summary>
    /// Takes <paramref name="length"/> bytes of tokens if the bucket holds them (or nothing is in flight, when a
    /// burst cannot overflow anything). Returns 0 when the bytes may leave now, otherwise the time they may.
    /// </summary>
    public long TryTake(long nowUs, int length, double bytesPerUs, int segmentSize, bool nothingInFlight)
    {
        double burst = 10.0 * segmentSize;
        _tokens = Math.Min(burst, _tokens + ((nowUs - _lastUs) * bytesPerUs));
        _lastUs = nowUs;
        if (_tokens >= length || nothingInFlight)
        {
            _tokens -= length;
            return 0;
        }

        return nowUs + Math.Max(1, (long)Math.Ceiling((length - _tokens) / bytesPerUs));
    }

    /// <summary>After a retransmission timeout: one segment may go at once, the rest at the new rate.</summary>
    public void Restart(int segmentSize) => _tokens = segmentSize;
}
