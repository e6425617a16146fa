using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>One bulk flow of a <see cref="BottleneckScenario"/>: a server sending to its client through the shared bottleneck.</summary>
public sealed class BottleneckFlow
{
    /// <summary>The flow's base round-trip time (propagation, both ways, no queueing).</summary>
    public TimeSpan Rtt { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The congestion controller of the sending side.</summary>
    public CongestionControlAlgorithm CongestionControl { get; init; }

    /// <summary>When the flow connects, after the scenario starts.</summary>
    public TimeSpan StartAt { get; init; }
}
