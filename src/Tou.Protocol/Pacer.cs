namespace Tou.Protocol;

/// <summary>
/// Spreads a connection's transmissions over time: a token bucket refilled at the pacing rate, so a large window
/// leaves as a stream rather than a burst that overflows queues. The rate is the controller's own (BBR) or else a gain
/// times cwnd/SRTT (2 in slow start, 1.25 after). The bucket holds ten segments, or four milliseconds at the rate up
/// to 64 KB when that is more. A host wakes a paced connection on a timer of about a millisecond's resolution that
/// runs late when the machine is busy; time a late wake-up missed is made up from the bucket instead of being lost
/// (with a bucket of one millisecond, wake-ups every two would halve the rate). 64 KB is what one
/// segmentation-offload send carries, so at gigabit rates the rate is met in batches of one system call each.
/// In simulation the timer is exact and the bucket only matters after the sender paused.
/// </summary>
internal sealed class Pacer
{
    /// <summary>The time whose worth of data the bucket may hold: how late a host's timer may wake the connection
    /// without costing it rate.</summary>
    public const long BurstIntervalUs = 4_000;

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

    /// <summary>The bucket's size: ten segments, or four milliseconds at the rate when that is more (at most 64 KB).</summary>
    public static double Burst(double bytesPerUs, int segmentSize) =>
        Math.Max(10.0 * segmentSize, Math.Min(bytesPerUs * BurstIntervalUs, MaxBurstBytes));

    /// <summary>After a retransmission timeout: one segment may go at once, the rest at the new rate.</summary>
    public void Restart(int segmentSize) => _tokens = segmentSize;
}
