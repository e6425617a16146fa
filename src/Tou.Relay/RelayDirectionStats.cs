using Tou.Simulation;

namespace Tou.Relay;

/// <summary>
/// Counters of one direction of an <see cref="ImpairmentRelay"/>, and its own accounting of when datagrams left:
/// how late each left against the time the impairment model gave it, and the rate its departures add up to.
/// </summary>
public sealed class RelayDirectionStats : ImpairmentStats
{
    // Release error histogram: 1 µs buckets below 1 ms, 1 ms buckets up to 1 s (the last also counts anything later).
    private const int FineBuckets = 1_000;
    private const int CoarseBuckets = 1_000;
    private readonly long[] _errorBuckets = new long[FineBuckets + CoarseBuckets];
    private long _firstScheduledUs = -1;
    private long _lastScheduledUs;
    private long _firstReleasedUs;
    private long _lastReleasedUs;
    private long _bytesAfterFirst;

    /// <summary>Datagrams the relay received in this direction, before any impairment.</summary>
    public long Received { get; internal set; }

    /// <summary>Datagrams sent on after the impairments (duplicates count twice; lost and dropped ones not at all).</summary>
    public long Forwarded { get; internal set; }

    /// <summary>Bytes (UDP payload) of the datagrams in <see cref="Forwarded"/>.</summary>
    public long ForwardedBytes { get; private set; }

    /// <summary>
    /// The rate of the delivery schedule the impairment model set: bytes forwarded after the first datagram over the time
    /// from the first scheduled delivery to the last, in bits per second (0 until two datagrams left). With the link's
    /// queue kept busy, this is the configured rate as the relay applies it; idle gaps lower it.
    /// </summary>
    public double ScheduledBitsPerSecond => Rate(_lastScheduledUs - _firstScheduledUs);

    /// <summary>The same bytes over the time from the first actual release to the last: the rate the relay delivered.</summary>
    public double ReleasedBitsPerSecond => Rate(_lastReleasedUs - _firstReleasedUs);

    /// <summary>
    /// How late datagrams left against their scheduled time, at quantile <paramref name="quantile"/> (0.5 for the
    /// median, 0.99 for the 99th percentile), to the microsecond below a millisecond and to the millisecond above.
    /// </summary>
    /// <returns>The error, or <see cref="TimeSpan.Zero"/> before any datagram left.</returns>
    public TimeSpan ReleaseError(double quantile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantile, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quantile, 1.0);
        long total = 0;
        foreach (long count in _errorBuckets)
        {
            total += count;
        }

        long rank = (long)Math.Ceiling(quantile * total);
        long seen = 0;
        for (int i = 0; i < _errorBuckets.Length; i++)
        {
            seen += _errorBuckets[i];
            if (seen >= rank && seen > 0)
            {
                long us = i < FineBuckets ? i : (long)(i - FineBuckets + 1) * 1_000;
                return TimeSpan.FromMicroseconds(us);
            }
        }

        return TimeSpan.Zero;
    }

    /// <summary>Counts one datagram leaving at <paramref name="releasedUs"/> that was due at <paramref name="scheduledUs"/> (the relay's clock).</summary>
    internal void RecordRelease(long scheduledUs, long releasedUs, int bytes)
    {
        Forwarded++;
        ForwardedBytes += bytes;
        long error = Math.Max(0, releasedUs - scheduledUs);
        int bucket = error < FineBuckets ? (int)error : FineBuckets + (int)Math.Min(CoarseBuckets - 1, (error / 1_000) - 1);
        _errorBuckets[bucket]++;
        if (_firstScheduledUs < 0)
        {
            _firstScheduledUs = scheduledUs;
            _firstReleasedUs = releasedUs;
        }
        else
        {
            _bytesAfterFirst += bytes;
        }

        _lastScheduledUs = Math.Max(_lastScheduledUs, scheduledUs);
        _lastReleasedUs = releasedUs;
    }

    private double Rate(long spanUs) => spanUs > 0 ? _bytesAfterFirst * 8e6 / spanUs : 0;
}
