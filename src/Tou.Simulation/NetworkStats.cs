namespace Tou.Simulation;

/// <summary>Counters of a <see cref="SimulatedNetwork"/>.</summary>
public sealed class NetworkStats : ImpairmentStats
{
    public long Sent { get; internal set; }
    public long Delivered { get; internal set; }
    public long BytesDelivered { get; internal set; }
    public long Undeliverable { get; internal set; }
}
