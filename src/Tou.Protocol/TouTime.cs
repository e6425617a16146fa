namespace Tou.Protocol;

/// <summary>
/// The engine's clock unit is the microsecond, as a <see cref="long"/>, on whatever monotonic clock the
/// caller uses; <see cref="Never"/> means "no deadline".
/// </summary>
public static class TouTime
{
    /// <summary>A deadline that never comes (<see cref="long.MaxValue"/> µs): nothing to wait for.</summary>
    public const long Never = long.MaxValue;

    /// <summary>Microseconds in <paramref name="span"/>, truncated toward zero.</summary>
    public static long FromTimeSpan(TimeSpan span) => span.Ticks / TimeSpan.TicksPerMicrosecond;

    /// <summary>The <see cref="TimeSpan"/> of <paramref name="micros"/> microseconds.</summary>
    public static TimeSpan ToTimeSpan(long micros) => TimeSpan.FromTicks(micros * TimeSpan.TicksPerMicrosecond);

    /// <summary>Microseconds of <see cref="System.Diagnostics.Stopwatch"/>'s clock, for hosts that drive the engine in real time.</summary>
    public static long FromStopwatchTimestamp(long timestamp) =>
        (long)(timestamp * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency));
}
