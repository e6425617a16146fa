using Tou.Protocol.Congestion;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Congestion;

public class BbrTests
{
    private const int Mss = 1000;

    /// <summary>Feeds a steady path: the bottleneck delivers <paramref name="bytesPerSecond"/> with <paramref name="rttUs"/> RTT.</summary>
    private static long Drive(BbrCongestionController bbr, double bytesPerSecond, long rttUs, int rounds, long startUs = 1_000_000, bool lossEveryRound = false)
    {
        long now = startUs, delivered = 0;
        for (int round = 0; round < rounds; round++)
        {
            long prior = delivered;
            long perRound = (long)Math.Min(bbr.CongestionWindow, bytesPerSecond * rttUs / 1e6);
            for (long acked = 0; acked < perRound; acked += Mss)
            {
                delivered += Mss;
                now += (long)(Mss * 1e6 / bytesPerSecond);
                bbr.OnAcked(now, Mss, true, new AckSample(rttUs, rttUs, rttUs)
                {
                    DeliveryRate = perRound * 1e6 / rttUs,
                    PriorDelivered = prior,
                    Delivered = delivered,
                    BytesInFlight = perRound,
                });
            }

            if (lossEveryRound)
            {
                bbr.OnCongestionEvent(now, perRound);
            }
        }

        return now;
    }

    [Fact]
    public void Finds_the_bottleneck_and_keeps_about_two_bdp_in_flight()
    {
        var bbr = new BbrCongestionController(Mss);
        const double rate = 12_500_000; // 100 Mbit/s
        const long rtt = 40_000;
        Drive(bbr, rate, rtt, rounds: 60);
        Assert.False(bbr.InSlowStart);
        Assert.InRange(bbr.BottleneckBandwidth, rate * 0.9, rate * 1.1);
        long bdp = (long)(rate * rtt / 1e6);
        Assert.InRange(bbr.CongestionWindow, bdp, (3 * bdp) + (4 * Mss));
        Assert.InRange(bbr.PacingRate, rate * 0.7, rate * 1.3);
    }

    [Fact]
    public void Random_loss_does_not_shrink_the_window()
    {
        var lossy = new BbrCongestionController(Mss);
        var clean = new BbrCongestionController(Mss);
        Drive(lossy, 12_500_000, 40_000, rounds: 60, lossEveryRound: true);
        Drive(clean, 12_500_000, 40_000, rounds: 60);
        Assert.Equal(clean.CongestionWindow, lossy.CongestionWindow);
    }

    [Fact]
    public void On_a_lossy_simulated_path_it_keeps_the_link_busy_where_cubic_cannot()
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(50), loss: 0.01, rateBitsPerSecond: 100_000_000, queueLimitBytes: 625_000);
        TransferResult Run(CongestionControlAlgorithm cc)
        {
            var options = new TouOptions { CongestionControl = cc };
            return TransferScenario.Run(5, path, path, 0, 10_000_000, options, options);
        }

        var bbr = Run(CongestionControlAlgorithm.Bbr);
        var cubic = Run(CongestionControlAlgorithm.Cubic);
        Assert.True(bbr.BytesExact && cubic.BytesExact);
        Assert.True(bbr.GoodputMbps > 5 * cubic.GoodputMbps, $"BBR {bbr.GoodputMbps:0.0} vs CUBIC {cubic.GoodputMbps:0.0} Mbit/s (virtual time)");
    }
}
