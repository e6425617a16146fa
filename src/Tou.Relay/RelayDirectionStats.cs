using Tou.Simulation;

namespace Tou.Relay;

/// <summary>Counters of one direction of an <see cref="ImpairmentRelay"/>.</summary>
public sealed class RelayDirectionStats : ImpairmentStats
{
    public long Received { get; internal set; }
    public long Forwarded { get; internal set; }
}
