namespace Tou.Protocol;

/// <summary>
/// The engine's clock unit is the microsecond, as a <see cref="long"/>, on whatever monotonic clock the
/// caller uses; <see cref="Never"/> means "no deadline".
/// </summary>
public static class TouTime
{
    public const long Never = long.MaxValue;

    public static long FromTimeSpan(TimeSpan span) => span.Ticks / TimeSpan.TicksPerMicrosecond;

    public static TimeSpan ToTimeSpan(long micros) => TimeSpan.FromTicks(micros * TimeSpan.TicksPerMicrosecond);

    /// <summary>Microseconds of <see cref="System.Diagnostics.Stopwatch"/>'s clock, for hosts that drive the engine in real time.</summary>
    public static long FromStopwatchTimestamp(long timestamp) =>
        (long)(timestamp * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency));
}
