using Tou.Protocol.Congestion;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Congestion;

/// <summary>The BBR v3-style controller's state machine, fed synthetic rounds, and its behaviour on simulated paths.</summary>
public class BbrTests
{
    private const int Mss = 1000;
    private const double Rate = 12_500_000; // 100 Mbit/s
    private const long Rtt = 40_000;
    private const long Bdp = (long)(Rate * Rtt / 1e6);

    /// <summary>A synthetic path: per round the bottleneck delivers what the window allows (at most its rate times the RTT).</summary>
    private sealed class Path(BbrCongestionController bbr, long startUs = 1_000_000)
    {
        public long Now { get; private set; } = startUs;

        public long Delivered { get; private set; }

        /// <summary>Runs <paramref name="rounds"/> rounds; <paramref name="lossFraction"/> of each round's bytes are lost and
        /// <paramref name="queueUs"/> of queueing is added to every RTT sample; <paramref name="inflightFactor"/> scales the bytes
        /// in flight the samples report (the path holds no queue, so by itself it never shows more than a BDP).</summary>
        public void Run(int rounds, double rate = Rate, double lossFraction = 0, long queueUs = 0, double inflightFactor = 1)
        {
            long rtt = Rtt + queueUs;
            for (int round = 0; round < rounds; round++)
            {
                long prior = Delivered, roundStart = Now;
                long perRound = (long)Math.Min(bbr.CongestionWindow, rate * rtt / 1e6);
                long lost = (long)(perRound * lossFraction);
                for (long acked = 0; acked < perRound - lost; acked += Mss)
                {
                    Delivered += Mss;
                    Now += (long)(Mss * 1e6 / rate);
                    bbr.OnAcked(Now, Mss, true, new AckSample(rtt, rtt, Rtt)
                    {
                        DeliveryRate = Math.Min(rate, perRound * 1e6 / rtt) * (1 - lossFraction),
                        PriorDelivered = prior,
                        Delivered = Delivered,
                        BytesInFlight = (long)(perRound * inflightFactor),
                    });
                    if (lost > 0 && (acked == 0 || acked == (perRound - lost) / 2 / Mss * Mss))
                    {
                        bbr.OnPacketsLost(Now, lost / 2, perRound); // two loss events a round, the round's loss in all
                    }
                }

                Now = Math.Max(Now, roundStart + rtt); // a round lasts at least an RTT, however little was sent
            }
        }
    }

    [Fact]
    public void Startup_finds_the_bottleneck_then_cruises_at_it_with_about_two_bdp_of_window()
    {
        var bbr = new BbrCongestionController(Mss);
        Assert.Equal(BbrPhase.Startup, bbr.Phase);
        new Path(bbr).Run(rounds: 40);
        Assert.False(bbr.InSlowStart);
        Assert.Contains(bbr.Phase, new[] { BbrPhase.ProbeDown, BbrPhase.ProbeCruise, BbrPhase.ProbeRefill, BbrPhase.ProbeUp });
        Assert.InRange(bbr.BottleneckBandwidth, Rate * 0.9, Rate * 1.1);
        Assert.InRange(bbr.CongestionWindow, Bdp, (2.25 * Bdp) + (4 * Mss));
        Assert.InRange(bbr.PacingRate, Rate * 0.8, Rate * 1.3);
    }

    [Fact]
    public void A_connection_that_starts_long_after_the_clock_did_begins_in_Startup_not_ProbeRTT()
    {
        // Real hosts' clocks read minutes or days at a connection's first ACK; ProbeRTT's five seconds start with it.
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr, startUs: 3_600_000_000);
        path.Run(rounds: 3);
        Assert.Equal(BbrPhase.Startup, bbr.Phase);
        Assert.Equal(80 * Mss, bbr.CongestionWindow);
    }

    [Fact]
    public void Startup_doubles_the_window_each_round_while_no_queue_shows()
    {
        // As slow start: each round's ACKs add what the round delivered. (On simulated paths, where the delivery rate lags a
        // paced flight by a round, a cap at 2 BDP of it held this to ~1.4x a round: the headline test below sees that.)
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        long window = bbr.CongestionWindow;
        for (int round = 0; round < 5; round++) // 10 → 320 segments, under the path's 500
        {
            path.Run(rounds: 1);
            Assert.Equal(BbrPhase.Startup, bbr.Phase);
            Assert.Equal(2 * window, bbr.CongestionWindow);
            window = bbr.CongestionWindow;
        }
    }

    [Fact]
    public void Cruise_paces_at_the_estimate_while_down_keeps_its_margin()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 40);
        Assert.Equal(BbrPhase.ProbeUp, bbr.Phase);
        path.Run(rounds: 1, inflightFactor: 1.3); // Up ends at 1.25 BDP in flight; Down lasts while more than a BDP is
        Assert.Equal(BbrPhase.ProbeDown, bbr.Phase);
        Assert.InRange(bbr.PacingRate / bbr.BottleneckBandwidth, (0.9 * 0.99) - 1e-9, (0.9 * 0.99) + 1e-9);
        path.Run(rounds: 1);
        Assert.Equal(BbrPhase.ProbeCruise, bbr.Phase);
        Assert.InRange(bbr.PacingRate / bbr.BottleneckBandwidth, 1 - 1e-9, 1 + 1e-9); // a margin would idle the link 1% of the time
    }

    [Fact]
    public void Random_loss_without_a_queue_leaves_rate_and_window_alone()
    {
        var lossy = new BbrCongestionController(Mss);
        var path = new Path(lossy);
        path.Run(rounds: 40);
        long window = lossy.CongestionWindow;
        path.Run(rounds: 30, lossFraction: 0.05);
        Assert.Equal(double.MaxValue, lossy.BandwidthLow);
        Assert.Equal(long.MaxValue, lossy.InflightHigh);
        Assert.InRange(lossy.CongestionWindow, window * 0.9, window * 1.2);
        Assert.InRange(lossy.PacingRate, Rate * 0.8, Rate * 1.3 / 0.95); // raised by the loss rate: lost bytes were sent too
        Assert.InRange(lossy.RandomLossRate, 0.04, 0.06);
    }

    [Fact]
    public void A_probe_that_finds_a_tenth_more_bandwidth_searches_like_startup()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 40, rate: Rate / 4);
        Assert.InRange(bbr.BottleneckBandwidth, Rate / 4 * 0.9, Rate / 4 * 1.1);
        int rounds = 0;
        while (bbr.Phase != BbrPhase.Startup && rounds < 30)
        {
            path.Run(rounds: 1, rate: Rate); // the link got four times faster
            rounds++;
        }

        Assert.True(rounds < 30, "the faster link was never searched");
        path.Run(rounds: 6, rate: Rate);
        Assert.InRange(bbr.BottleneckBandwidth, Rate * 0.9, Rate * 1.1);
        Assert.NotEqual(BbrPhase.Startup, bbr.Phase); // and Startup ended on the plateau
    }

    [Fact]
    public void Loss_above_the_threshold_with_a_standing_queue_is_congestion_and_the_flow_yields()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 40);
        double before = bbr.PacingRate;
        path.Run(rounds: 12, rate: Rate / 2, lossFraction: 0.05, queueUs: Rtt / 2);
        Assert.True(bbr.BandwidthLow < double.MaxValue || bbr.InflightHigh < long.MaxValue, "congestion left no bound");
        Assert.True(bbr.PacingRate < before * 0.85, $"pacing {bbr.PacingRate:0} was {before:0}");
    }

    [Fact]
    public void Heavy_loss_is_congestion_even_without_a_queue()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 40);
        path.Run(rounds: 12, lossFraction: 0.3);
        Assert.True(bbr.BandwidthLow < double.MaxValue || bbr.InflightHigh < long.MaxValue, "30% loss was ignored");
    }

    [Fact]
    public void Startup_ends_on_a_congested_round_before_the_bandwidth_plateaus()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 3); // still doubling
        Assert.Equal(BbrPhase.Startup, bbr.Phase);
        path.Run(rounds: 2, lossFraction: 0.1, queueUs: Rtt / 2);
        Assert.NotEqual(BbrPhase.Startup, bbr.Phase);
        Assert.True(bbr.InflightHigh < long.MaxValue, "Startup's loss did not set the in-flight bound");
    }

    [Fact]
    public void Probe_rtt_comes_when_the_minimum_is_five_seconds_old_and_halves_the_window()
    {
        var bbr = new BbrCongestionController(Mss);
        var path = new Path(bbr);
        path.Run(rounds: 40);
        int rounds = 0;
        long queueFrom = path.Now;
        while (bbr.Phase != BbrPhase.ProbeRtt && rounds++ < 200)
        {
            path.Run(rounds: 1, queueUs: 5_000); // a queue all along: the minimum is never seen again
        }

        Assert.Equal(BbrPhase.ProbeRtt, bbr.Phase);
        Assert.InRange(path.Now - queueFrom, 4_800_000, 5_200_000); // five seconds after the minimum was last seen
        path.Run(rounds: 1);
        Assert.True(bbr.CongestionWindow <= Math.Max(Bdp / 2, 4 * Mss) + Mss, $"window {bbr.CongestionWindow} in ProbeRTT");
        path.Run(rounds: 8);
        Assert.NotEqual(BbrPhase.ProbeRtt, bbr.Phase);
        Assert.True(bbr.CongestionWindow > Bdp, "the window did not come back after ProbeRTT");
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

    /// <summary>The headline path of issue 11 (build/simulate.sh --size 100: 100 Mbit/s, 50 ms, a one-BDP queue,
    /// 100 MB, seed 1), at the targets it meets: ≤ 1% retransmitted at 0% loss, ≥ 90% of link × (1 − loss) at 5%;
    /// and at 0% and 1% above what it measured before the slow-start window and the margin-free Cruise (93.65 and 92.79
    /// Mbit/s; the target of 95% at 1% is not met: docs/performance.md has where the time goes).</summary>
    [Theory]
    [InlineData(0.00, 94.0)]
    [InlineData(0.01, 93.5)]
    [InlineData(0.05, 0.9 * 100 * 0.95)]
    public void The_headline_path_holds_its_rate_under_random_loss(double loss, double minimumMbps)
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(50), loss, rateBitsPerSecond: 100_000_000, queueLimitBytes: 625_000);
        var options = new TouOptions { IdleTimeout = TimeSpan.FromMinutes(10) };
        var result = TransferScenario.Run(1, path, path, 0, 100_000_000, options, options);
        Assert.True(result.BytesExact);
        Assert.True(result.GoodputMbps >= minimumMbps, $"{result.GoodputMbps:0.00} Mbit/s at {loss:P0} loss");
        if (loss == 0)
        {
            Assert.True(result.ServerStats.Retransmissions <= result.ServerStats.DataPacketsSent / 100, $"{result.ServerStats.Retransmissions} retransmitted");
        }
    }
}
