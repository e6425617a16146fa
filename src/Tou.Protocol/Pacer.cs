namespace Tou.Protocol;

/// <summary>
/// Spreads a connection's transmissions over time: a token bucket refilled at the pacing rate, so a large window
/// leaves as a stream rather than a burst that overflows queues. The rate is the controller's own (BBR) or else a gain
/// times cwnd/SRTT (2 in slow start, 1.25 after). The bucket holds ten segments, or at high rates a millisecond's
/// worth up to 64 KB: a host's timer wakes it about once a millisecond, and one segmentation-offload batch carries
/// 64 KB, so at gigabit rates the rate is met with batches that cost one system call each (as Linux sizes TSO bursts).
/// </summary>
internal sealed class Pacer
{
    /// <summary>The interval whose worth of data the bucket may hold at high rates: a host timer's resolution.</summary>
    public const long BurstIntervalUs = 1_000;

    /// <summary>The most a high rate's burst may reach: one segmentation-offload batch.</summary>
    public const int MaxBurstBytes = 64 * 1024;

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
        double burst = Burst(bytesPerUs, segmentSize);
        _tokens = Math.Min(burst, _tokens + ((nowUs - _lastUs) * bytesPerUs));
        _lastUs = nowUs;
        if (_tokens >= length || nothingInFlight)
        {
            _tokens -= length;
            return 0;
        }

        return nowUs + Math.Max(1, (long)Math.Ceiling((length - _tokens) / bytesPerUs));
    }

    /// <summary>The bucket's size: ten segments, or a millisecond at the rate when that is more (at most 64 KB).</summary>
    public static double Burst(double bytesPerUs, int segmentSize) =>
        Math.Max(10.0 * segmentSize, Math.Min(bytesPerUs * BurstIntervalUs, MaxBurstBytes));

    /// <summary>After a retransmission timeout: one segment may go at once, the rest at the new rate.</summary>
    public void Restart(int segmentSize) => _tokens = segmentSize;
}
