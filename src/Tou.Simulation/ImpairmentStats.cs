namespace Tou.Simulation;

/// <summary>Counters of what impairments did to datagrams (one <see cref="ImpairedLink"/> or several sharing it).</summary>
public class ImpairmentStats
{
    /// <summary>Datagrams lost to random loss (<see cref="LinkProfile.LossRate"/>).</summary>
    public long Lost { get; internal set; }

    /// <summary>Datagrams lost in a loss burst (<see cref="LinkProfile.BurstLossRate"/> in the bad state).</summary>
    public long LostInBurst { get; internal set; }

    /// <summary>Datagrams dropped because the rate-limited link's queue was full (<see cref="LinkProfile.QueueLimitBytes"/>).</summary>
    public long QueueDrops { get; internal set; }

    /// <summary>Datagrams dropped because they exceeded the path's <see cref="LinkProfile.MaxDatagramSize"/>.</summary>
    public long TooLarge { get; internal set; }

    /// <summary>Datagrams delivered twice.</summary>
    public long Duplicated { get; internal set; }

    /// <summary>Datagrams held back by <see cref="LinkProfile.ReorderDelay"/> so that later ones overtook them (copies count separately).</summary>
    public long Reordered { get; internal set; }

    /// <summary>Datagrams with one to three bytes flipped.</summary>
    public long Corrupted { get; internal set; }
}
