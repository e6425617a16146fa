namespace Tou.Tool;

/// <summary>The path <c>tou simulate</c> runs on: loss (0..1), RTT, rate (bit/s), transfer size (bytes), queue (KiB; 0: one BDP).</summary>
internal sealed record SimulatedPath(double Loss, TimeSpan Rtt, long Rate, long Size, double QueueKiB)
{
    public int QueueBytes => QueueKiB > 0 ? (int)(QueueKiB * 1024) : (int)Math.Max(64 * 1024, Rate / 8 * Rtt.TotalSeconds);
}
