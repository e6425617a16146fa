namespace Tou.Simulation;

/// <summary>
/// What one direction of a simulated path does to datagrams. All probabilities are per datagram; the
/// defaults are a perfect link (no delay, no loss, unlimited rate).
/// </summary>
public sealed record LinkProfile
{
    /// <summary>A link that delivers every datagram at once, intact and in order.</summary>
    public static LinkProfile Perfect { get; } = new();

    /// <summary>One-way propagation delay.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Extra delay drawn uniformly from [0, Jitter] per datagram (this alone can reorder).</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>Random (Bernoulli) loss.</summary>
    public double LossRate { get; init; }

    /// <summary>Gilbert–Elliott burst loss: probability per datagram of entering the bad state.</summary>
    public double BurstEnterProbability { get; init; }

    /// <summary>Probability per datagram of leaving the bad state.</summary>
    public double BurstExitProbability { get; init; } = 1;

    /// <summary>Loss in the bad state.</summary>
    public double BurstLossRate { get; init; } = 1;

    /// <summary>Share of datagrams delivered twice (each copy gets its own delay).</summary>
    public double DuplicateRate { get; init; }

    /// <summary>Share of datagrams held back by <see cref="ReorderDelay"/> so later ones overtake them.</summary>
    public double ReorderRate { get; init; }

    /// <summary>Extra delay of a datagram picked by <see cref="ReorderRate"/>.</summary>
    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Share of datagrams with one to three bytes flipped.</summary>
    public double CorruptRate { get; init; }

    /// <summary>
    /// Largest datagram (UDP payload) the path carries; a larger one is dropped, as a router drops a packet with the
    /// don't-fragment bit set that exceeds its MTU (no ICMP error is modelled: a black hole). 1,472 by default: a 1,500-byte
    /// MTU less IPv4's and UDP's 28 bytes of headers (with IPv6's 48 bytes the same MTU carries 1,452). 0 = no limit.
    /// Set it lower mid-run (a new profile on the link) to model a path whose MTU drops.
    /// </summary>
    public int MaxDatagramSize { get; init; } = 1472;

    /// <summary>Link rate (0 = unlimited): a datagram occupies the link for its size over the rate, behind those queued before it.</summary>
    public long RateBitsPerSecond { get; init; }

    /// <summary>Bytes that may wait for the link; a datagram that would exceed it is dropped (tail drop).</summary>
    public int QueueLimitBytes { get; init; } = 256 * 1024;

    /// <summary>A symmetric path: half the RTT each way, random loss, optional rate.</summary>
    public static LinkProfile Path(TimeSpan rtt, double loss = 0, long rateBitsPerSecond = 0, int queueLimitBytes = 256 * 1024) => new()
    {
        Delay = rtt / 2,
        LossRate = loss,
        RateBitsPerSecond = rateBitsPerSecond,
        QueueLimitBytes = queueLimitBytes,
    };
}
