namespace Tou.Simulation;

/// <summary>Counters of what impairments did to datagrams.</summary>
public class ImpairmentStats
{
    public long Lost { get; internal set; }
    public long LostInBurst { get; internal set; }
    public long QueueDrops { get; internal set; }
    public long Duplicated { get; internal set; }
    public long Reordered { get; internal set; }
    public long Corrupted { get; internal set; }
}
