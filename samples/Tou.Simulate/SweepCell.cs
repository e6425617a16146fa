using Tou.Protocol;
using Tou.Simulation;

namespace Tou.Simulate;

/// <summary>One scenario of the sweep: a bottleneck, its impairments and the flows that share it.</summary>
internal sealed record SweepCell
{
    public required string Group { get; init; }

    public required string Name { get; init; }

    public required long RateBps { get; init; }

    public required double QueueBdp { get; init; }

    public double Loss { get; init; }

    /// <summary>Gilbert–Elliott: chance per datagram to enter the bad state (0 = none), to leave it, and loss in it.</summary>
    public (double Enter, double Exit, double LossInBurst) Burst { get; init; }

    /// <summary>RTT of each flow, ms; the flow is the controller under test unless <see cref="Competitor"/> marks it.</summary>
    public required int[] RttMs { get; init; }

    /// <summary>Flow index running CUBIC whatever the controller under test (−1: none).</summary>
    public int Competitor { get; init; } = -1;

    /// <summary>Rate steps (fraction of the run, new rate).</summary>
    public (double AtFraction, long RateBps)[] Steps { get; init; } = [];

    public required double DurationS { get; init; }

    public double MeasureFromS { get; init; }

    /// <summary>Average loss the link applies (random plus the bursts' stationary share).</summary>
    public double EffectiveLoss => Loss + (Burst.Enter > 0 ? Burst.Enter / (Burst.Enter + Burst.Exit) * Burst.LossInBurst : 0);

    /// <summary>Bytes in one BDP at the smallest RTT.</summary>
    public long BdpBytes => (long)(RateBps / 8.0 * RttMs.Min() / 1000);

    /// <summary>Rough Startup length: doubling from ten segments to a BDP, plus three rounds to see the plateau.</summary>
    public double StartupEstimateS => RttMs.Max() / 1000.0 * (Math.Log2(Math.Max(2, BdpBytes / (10.0 * 1472))) + 3);

    public BottleneckScenario ToScenario(CongestionControlAlgorithm underTest, int seed)
    {
        long queue = Math.Max(3 * 1472, (long)(QueueBdp * RateBps / 8.0 * RttMs.Max() / 1000));
        int buffers = (int)Math.Clamp(4 * (queue + (RateBps / 8.0 * RttMs.Max() / 1000)), 4 << 20, 1 << 30);
        var options = new TouOptions { ReceiveBufferSize = buffers, SendBufferSize = buffers };
        return new BottleneckScenario
        {
            Seed = seed,
            Bottleneck = new LinkProfile
            {
                RateBitsPerSecond = RateBps,
                QueueLimitBytes = (int)Math.Min(queue, int.MaxValue),
                LossRate = Loss,
                BurstEnterProbability = Burst.Enter,
                BurstExitProbability = Burst.Enter > 0 ? Burst.Exit : 1,
                BurstLossRate = Burst.Enter > 0 ? Burst.LossInBurst : 1,
            },
            Flows = RttMs.Select((rtt, i) => new BottleneckFlow
            {
                Rtt = TimeSpan.FromMilliseconds(rtt),
                CongestionControl = i == Competitor ? CongestionControlAlgorithm.Cubic : underTest,
            }).ToList(),
            Duration = TimeSpan.FromSeconds(DurationS),
            MeasureFrom = TimeSpan.FromSeconds(MeasureFromS),
            RateSteps = Steps.Select(s => (TimeSpan.FromSeconds(s.AtFraction * DurationS), s.RateBps)).ToList(),
            SampleInterval = TimeSpan.FromMilliseconds(RttMs.Min()),
            Options = options,
        };
    }
}
