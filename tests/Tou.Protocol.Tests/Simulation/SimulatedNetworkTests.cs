using Tou.Simulation;

namespace Tou.Protocol.Tests.Simulation;

/// <summary>The simulator itself: reproducible, and each impairment does what it says.</summary>
public class SimulatedNetworkTests
{
    private static TransferResult Run(int seed, LinkProfile path, long size = 2_000_000) =>
        TransferScenario.Run(seed, path, path, size, size / 2);

    [Fact]
    public void The_same_seed_gives_the_same_run_and_another_seed_another()
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(30), 0.05) with { Jitter = TimeSpan.FromMilliseconds(3), DuplicateRate = 0.01 };
        var a = Run(7, path);
        var b = Run(7, path);
        var c = Run(8, path);
        Assert.Equal(a.TotalUs, b.TotalUs);
        Assert.Equal(a.Network.Sent, b.Network.Sent);
        Assert.Equal(a.Network.Lost, b.Network.Lost);
        Assert.NotEqual(a.Network.Sent, c.Network.Sent);
    }

    [Fact]
    public void Random_loss_lands_near_its_rate()
    {
        var result = Run(1, LinkProfile.Path(TimeSpan.FromMilliseconds(10), 0.1), 5_000_000);
        double rate = (double)result.Network.Lost / result.Network.Sent;
        Assert.InRange(rate, 0.08, 0.12);
    }

    [Fact]
    public void Bursty_loss_comes_in_bursts()
    {
        var bursty = new LinkProfile { Delay = TimeSpan.FromMilliseconds(5), BurstEnterProbability = 0.01, BurstExitProbability = 0.2, BurstLossRate = 1 };
        var result = Run(2, bursty, 3_000_000);
        Assert.True(result.Network.LostInBurst > 0);
        Assert.Equal(0, result.Network.Lost);
        Assert.True(result.BytesExact);
    }

    [Fact]
    public void Duplication_reordering_and_corruption_are_applied_and_counted()
    {
        var path = new LinkProfile { Delay = TimeSpan.FromMilliseconds(5), DuplicateRate = 0.05, ReorderRate = 0.05, CorruptRate = 0.02 };
        var options = new TouOptions { EnableIntegrity = true };
        var result = TransferScenario.Run(3, path, path, 2_000_000, 0, options, options);
        Assert.True(result.Network.Duplicated > 0);
        Assert.True(result.Network.Reordered > 0);
        Assert.True(result.Network.Corrupted > 0);
        Assert.True(result.BytesExact);
    }

    [Fact]
    public void A_rate_limit_bounds_goodput_and_its_queue_overflows()
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(20), rateBitsPerSecond: 10_000_000, queueLimitBytes: 30_000);
        var result = TransferScenario.Run(4, path, path, 0, 5_000_000);
        Assert.True(result.GoodputMbps <= 10.0, $"{result.GoodputMbps} Mbit/s through a 10 Mbit/s link");
        Assert.True(result.GoodputMbps > 5.0, $"only {result.GoodputMbps} Mbit/s of 10");
        Assert.True(result.Network.QueueDrops > 0);
    }

    [Fact]
    public void A_datagram_larger_than_the_path_carries_is_dropped_and_counted_before_any_other_impairment()
    {
        Assert.Equal(1472, LinkProfile.Perfect.MaxDatagramSize); // a 1,500-byte MTU less IPv4 and UDP headers
        Assert.Equal(1472, LinkProfile.Path(TimeSpan.FromMilliseconds(10)).MaxDatagramSize);
        var stats = new ImpairmentStats();
        var link = new ImpairedLink(new LinkProfile { LossRate = 1 }, new Random(1), stats);
        Span<long> arrivals = stackalloc long[2];
        Assert.Equal(0, link.Admit(0, new byte[1473], arrivals));
        Assert.Equal((1L, 0L), (stats.TooLarge, stats.Lost)); // dropped for its size, no random loss drawn
        Assert.Equal(0, link.Admit(0, new byte[1472], arrivals));
        Assert.Equal((1L, 1L), (stats.TooLarge, stats.Lost));

        var unlimited = new ImpairedLink(LinkProfile.Perfect with { MaxDatagramSize = 0 }, new Random(1), stats);
        Assert.Equal(1, unlimited.Admit(0, new byte[65_507], arrivals));
    }

    [Fact]
    public void RunUntil_reports_a_condition_that_never_holds()
    {
        var network = new SimulatedNetwork(1);
        Assert.Throws<TimeoutException>(() => network.RunUntil(() => false, maxDurationUs: 1_000_000));
    }
}
