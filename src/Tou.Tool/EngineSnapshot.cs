using Tou.Protocol;
using Tou.Transport;

namespace Tou.Tool;

/// <summary>What the engine reports of one connection at one moment (taken under the endpoint's lock).</summary>
internal readonly record struct EngineSnapshot(
    long BytesAcknowledged,
    long SmoothedRttUs,
    long CongestionWindow,
    long BytesInFlight,
    long Retransmissions,
    long SegmentsLost,
    long DataPacketsSent,
    long PacketsSent,
    long PacketsReceived)
{
    public static EngineSnapshot Take(TouSocketConnection connection) => connection.Inspect(From);

    public static EngineSnapshot From(TouConnection c) => new(
        c.Stats.BytesAcknowledged,
        c.SmoothedRttUs,
        c.CongestionWindow,
        c.BytesInFlight,
        c.Stats.Retransmissions,
        c.Stats.SegmentsLost,
        c.Stats.DataPacketsSent,
        c.Stats.PacketsSent,
        c.Stats.PacketsReceived);
}
