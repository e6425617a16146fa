namespace Tou.Simulation;

/// <summary>What one <see cref="BottleneckFlow"/> achieved.</summary>
public sealed class FlowOutcome
{
    /// <summary>Application bytes the receiver read over the whole run.</summary>
    public required long BytesRead { get; init; }

    /// <summary>Application bytes the receiver read within the measurement window.</summary>
    public required long BytesReadInWindow { get; init; }

    /// <summary>Goodput within the measurement window, bits per second.</summary>
    public required double GoodputBitsPerSecond { get; init; }

    /// <summary>Data segments the sender sent (retransmissions included).</summary>
    public required long DataPacketsSent { get; init; }

    /// <summary>Segments the sender sent again.</summary>
    public required long Retransmissions { get; init; }

    /// <summary>Retransmission timeouts at the sender.</summary>
    public required long RetransmissionTimeouts { get; init; }

    /// <summary>Cumulative bytes read, sampled every <see cref="BottleneckScenario.SampleInterval"/> from the start.</summary>
    public required IReadOnlyList<long> ReadSeries { get; init; }
}
