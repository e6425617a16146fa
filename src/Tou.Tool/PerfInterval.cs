namespace Tou.Tool;

/// <summary>One reporting interval of one flow in one direction ("tx": this side sent, "rx": it received).</summary>
internal sealed record PerfInterval(
    int Flow,
    string Direction,
    double Start,
    double End,
    long Bytes,
    double RttMs,
    long CongestionWindow,
    long BytesInFlight,
    long Retransmissions,
    long Lost)
{
    public double GoodputBitsPerSecond => End > Start ? Bytes * 8 / (End - Start) : 0;
}
