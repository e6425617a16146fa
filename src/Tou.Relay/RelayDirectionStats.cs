using Tou.Simulation;

namespace Tou.Relay;

/// <summary>Counters of one direction of an <see cref="ImpairmentRelay"/>.</summary>
public sealed class RelayDirectionStats : ImpairmentStats
{
    /// <summary>Datagrams the relay received in this direction, before any impairment.</summary>
    public long Received { get; internal set; }

    /// <summary>Datagrams sent on after the impairments (duplicates count twice; lost and dropped ones not at all).</summary>
    public long Forwarded { get; internal set; }
}
