namespace Tou.Simulation;

/// <summary>Counters of a <see cref="SimulatedNetwork"/>: its datagrams, and what its links' impairments did to them.</summary>
public sealed class NetworkStats : ImpairmentStats
{
    /// <summary>Datagrams the nodes sent, before the links decided their fate (injected ones not included).</summary>
    public long Sent { get; internal set; }

    /// <summary>Datagrams handed to a node (copies and injected datagrams included).</summary>
    public long Delivered { get; internal set; }

    /// <summary>Bytes of the datagrams counted by <see cref="Delivered"/>.</summary>
    public long BytesDelivered { get; internal set; }

    /// <summary>Datagrams that arrived at an address no node has.</summary>
    public long Undeliverable { get; internal set; }

    /// <summary>Nodes moved to a new address (<see cref="SimulatedNetwork.Rebind"/>).</summary>
    public long Rebindings { get; internal set; }
}
