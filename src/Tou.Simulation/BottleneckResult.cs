namespace Tou.Simulation;

/// <summary>Outcome of a <see cref="BottleneckScenario"/>.</summary>
public sealed class BottleneckResult
{
    /// <summary>Each flow's outcome, in the scenario's order.</summary>
    public required IReadOnlyList<FlowOutcome> Flows { get; init; }

    /// <summary>Median queueing delay at the bottleneck within the measurement window, µs (per datagram admitted).</summary>
    public required long QueueDelayP50Us { get; init; }

    /// <summary>95th percentile of the queueing delay at the bottleneck within the measurement window, µs.</summary>
    public required long QueueDelayP95Us { get; init; }

    /// <summary>Datagrams the bottleneck dropped because its queue was full.</summary>
    public required long QueueDrops { get; init; }

    /// <summary>Jain's fairness index of the flows' goodputs in the window: 1 when equal, 1/n when one flow has it all.</summary>
    public double JainIndex
    {
        get
        {
            double sum = 0, squares = 0;
            foreach (var flow in Flows)
            {
                sum += flow.GoodputBitsPerSecond;
                squares += flow.GoodputBitsPerSecond * flow.GoodputBitsPerSecond;
            }

            return squares <= 0 ? 0 : sum * sum / (Flows.Count * squares);
        }
    }
}
