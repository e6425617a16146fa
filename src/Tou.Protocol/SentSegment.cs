namespace Tou.Protocol;

internal struct SentSegment
{
    public long Offset;
    public int Length;
    public long SentUs;
    public SegmentState State;

    // Delivery-rate estimation: the connection's delivery state when this segment was (last) sent.
    public long DeliveredAtSend;
    public long DeliveredTimeAtSend;
    public long FirstSentTimeAtSend;

    // Bytes in flight once this segment was (last) sent: a loss says the path could not hold that much.
    public long InflightAtSend;

    public readonly long End => Offset + Length + ((State & SegmentState.Fin) != 0 ? 1 : 0);

    public readonly bool Is(SegmentState flag) => (State & flag) != 0;
}
