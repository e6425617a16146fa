namespace Tou.Transport;

/// <summary>
/// How late endpoints' deadlines were served, process-wide, in power-of-two buckets of microseconds: the measure of how
/// precisely pacing (and every other timer) runs on this host. Bucket 0 holds 0-1 µs, bucket k holds [2^(k-1), 2^k) µs.
/// Recording is one interlocked increment; figures read it (build/bench.sh).
/// </summary>
internal static class TimerLateness
{
    private static readonly long[] s_buckets = new long[40];

    /// <summary>A deadline due at <paramref name="dueUs"/> was served at <paramref name="nowUs"/>.</summary>
    public static void Record(long dueUs, long nowUs)
    {
        long late = Math.Max(0, nowUs - dueUs);
        int bucket = late == 0 ? 0 : Math.Min(s_buckets.Length - 1, 64 - (int)long.LeadingZeroCount(late));
        Interlocked.Increment(ref s_buckets[bucket]);
    }

    public static void Reset() => Array.Clear(s_buckets);

    /// <summary>Deadlines recorded since the last reset.</summary>
    public static long Count => Snapshot().Sum();

    /// <summary>The upper edge (µs) of the bucket holding the <paramref name="percentile"/> (0-100) of lateness; 0 with no records.</summary>
    public static long Percentile(double percentile)
    {
        var counts = Snapshot();
        long total = counts.Sum();
        if (total == 0)
        {
            return 0;
        }

        long wanted = (long)Math.Ceiling(total * percentile / 100);
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= wanted)
            {
                return i == 0 ? 1 : 1L << i;
            }
        }

        return 1L << (counts.Length - 1);
    }

    /// <summary>The buckets read atomically, one by one (recording goes on meanwhile).</summary>
    private static long[] Snapshot()
    {
        var counts = new long[s_buckets.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref s_buckets[i]);
        }

        return counts;
    }
}
