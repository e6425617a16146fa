using System.Globalization;

namespace Tou.Tool;

/// <summary>iperf-style text for perf reports.</summary>
internal static class PerfFormat
{
    public const string Heading = "[ ID] dir  interval          transfer      goodput          rtt        cwnd   in flight  retr  lost";

    public static string Bytes(double bytes) => bytes switch
    {
        >= 1e9 => Invariant($"{bytes / 1e9:0.00} GB"),
        >= 1e6 => Invariant($"{bytes / 1e6:0.00} MB"),
        >= 1e3 => Invariant($"{bytes / 1e3:0.0} KB"),
        _ => Invariant($"{bytes:0} B"),
    };

    public static string Rate(double bitsPerSecond) => bitsPerSecond switch
    {
        >= 1e9 => Invariant($"{bitsPerSecond / 1e9:0.00} Gbit/s"),
        >= 1e6 => Invariant($"{bitsPerSecond / 1e6:0.00} Mbit/s"),
        _ => Invariant($"{bitsPerSecond / 1e3:0.00} kbit/s"),
    };

    public static string Line(PerfInterval i) => Invariant(
        $"[{(i.Flow == 0 ? "SUM" : i.Flow.ToString(CultureInfo.InvariantCulture)),3}] {i.Direction,-3}  {i.Start,6:0.00}-{i.End,-6:0.00} s  {Bytes(i.Bytes),10}  {Rate(i.GoodputBitsPerSecond),14}  {i.RttMs,6:0.00} ms  {Known(Bytes(i.CongestionWindow), i.CongestionWindow),10}  {Known(Bytes(i.BytesInFlight), i.BytesInFlight),10}  {Known(i.Retransmissions.ToString(CultureInfo.InvariantCulture), i.Retransmissions),4}  {Known(i.Lost.ToString(CultureInfo.InvariantCulture), i.Lost),4}");

    private static string Known(string text, long value) => value < 0 ? "-" : text;

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
