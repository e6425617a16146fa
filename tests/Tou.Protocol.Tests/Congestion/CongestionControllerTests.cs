using Tou.Protocol.Congestion;

namespace Tou.Protocol.Tests.Congestion;

public class CongestionControllerTests
{
    private const int Mss = 1000;
    private const long Rtt = 100_000; // 100 ms

    public static IEnumerable<object[]> Both() => [[CongestionControlAlgorithm.NewReno], [CongestionControlAlgorithm.Cubic]];

    private static ICongestionController Create(CongestionControlAlgorithm a) => CongestionControllerFactory.Create(a, Mss);

    /// <summary>One round trip: a window's worth of ACKs, one per segment, spread over the RTT.</summary>
    private static long RoundTrip(ICongestionController cc, long now, bool windowLimited = true)
    {
        long segments = cc.CongestionWindow / Mss;
        for (long i = 0; i < segments; i++)
        {
            cc.OnAcked(now + (Rtt * i / segments), Mss, windowLimited, new AckSample(Rtt, Rtt, Rtt));
        }

        return now + Rtt;
    }

    [Theory]
    [MemberData(nameof(Both))]
    public void Starts_with_ten_segments_and_doubles_per_round_trip_in_slow_start(CongestionControlAlgorithm algorithm)
    {
        var cc = Create(algorithm);
        Assert.Equal(10 * Mss, cc.CongestionWindow);
        Assert.True(cc.InSlowStart);
        long now = 1_000_000;
        now = RoundTrip(cc, now);
        Assert.Equal(20 * Mss, cc.CongestionWindow);
        RoundTrip(cc, now);
        Assert.Equal(40 * Mss, cc.CongestionWindow);
    }

    [Theory]
    [MemberData(nameof(Both))]
    public void Does_not_grow_when_the_sender_is_not_using_the_window(CongestionControlAlgorithm algorithm)
    {
        var cc = Create(algorithm);
        RoundTrip(cc, 1_000_000, windowLimited: false);
        Assert.Equal(10 * Mss, cc.CongestionWindow);
    }

    [Theory]
    [InlineData(CongestionControlAlgorithm.NewReno, 0.5)]
    [InlineData(CongestionControlAlgorithm.Cubic, 0.7)]
    public void A_congestion_event_cuts_the_window_by_the_algorithms_factor(CongestionControlAlgorithm algorithm, double factor)
    {
        var cc = Create(algorithm);
        long now = 1_000_000;
        for (int i = 0; i < 4; i++) now = RoundTrip(cc, now); // 160 segments
        long before = cc.CongestionWindow;
        cc.OnCongestionEvent(now, before);
        Assert.InRange(cc.CongestionWindow, (long)(before * factor) - Mss, (long)(before * factor) + Mss);
        Assert.False(cc.InSlowStart);

        for (int i = 0; i < 20; i++) cc.OnCongestionEvent(now, cc.CongestionWindow);
        Assert.True(cc.CongestionWindow >= 2 * Mss, "never below two segments");
    }

    [Theory]
    [MemberData(nameof(Both))]
    public void A_retransmission_timeout_restarts_from_one_segment_in_slow_start(CongestionControlAlgorithm algorithm)
    {
        var cc = Create(algorithm);
        long now = RoundTrip(cc, RoundTrip(cc, 1_000_000));
        cc.OnRetransmissionTimeout(now);
        Assert.Equal(Mss, cc.CongestionWindow);
        Assert.True(cc.InSlowStart);
    }

    [Theory]
    [MemberData(nameof(Both))]
    public void Slow_start_ends_when_the_rtt_starts_to_climb(CongestionControlAlgorithm algorithm)
    {
        var cc = Create(algorithm);
        long now = 1_000_000;
        for (int i = 0; i < 3; i++) now = RoundTrip(cc, now); // flat RTT: stays in slow start
        Assert.True(cc.InSlowStart);

        // A queue builds: this round's samples are all 20 ms above the last round's.
        long segments = cc.CongestionWindow / Mss;
        for (long i = 0; i < segments && cc.InSlowStart; i++)
        {
            cc.OnAcked(now + (Rtt * i / segments), Mss, true, new AckSample(Rtt + 20_000, Rtt, Rtt));
        }

        Assert.False(cc.InSlowStart);
    }

    [Fact]
    public void NewReno_grows_one_segment_per_round_trip_in_congestion_avoidance()
    {
        var cc = new NewRenoCongestionController(Mss);
        long now = RoundTrip(cc, RoundTrip(cc, 1_000_000));
        cc.OnCongestionEvent(now, cc.CongestionWindow);
        long start = cc.CongestionWindow;
        for (int i = 0; i < 10; i++) now = RoundTrip(cc, now);
        Assert.InRange(cc.CongestionWindow, start + (9 * Mss), start + (11 * Mss));
    }

    [Fact]
    public void Cubic_grows_back_to_the_loss_window_around_K_concave_then_convex()
    {
        var cc = new CubicCongestionController(Mss);
        long now = 1_000_000;
        while (cc.CongestionWindow < 1000 * Mss) now = RoundTrip(cc, now); // slow start to ~1000 segments
        double wMax = (double)cc.CongestionWindow / Mss;
        cc.OnCongestionEvent(now, cc.CongestionWindow);
        double k = Math.Cbrt(wMax * (1 - CubicCongestionController.Beta) / CubicCongestionController.C); // seconds

        var samples = new List<(double T, double W)>();
        long epoch = now;
        while (now - epoch < (long)(2 * k * 1e6))
        {
            now = RoundTrip(cc, now);
            samples.Add(((now - epoch) / 1e6, (double)cc.CongestionWindow / Mss));
        }

        // Near t = K the window is back near W_max (within a few percent).
        var atK = samples.MinBy(s => Math.Abs(s.T - k));
        Assert.InRange(atK.W, wMax * 0.95, wMax * 1.08);

        // Concave before K: growth per RTT shrinks; convex after: it grows.
        double GrowthAt(double t)
        {
            int i = samples.FindIndex(s => s.T >= t);
            return samples[i + 1].W - samples[i].W;
        }

        Assert.True(GrowthAt(0.2 * k) > GrowthAt(0.8 * k), "concave region: slowing down towards W_max");
        Assert.True(GrowthAt(1.8 * k) > GrowthAt(1.2 * k), "convex region: speeding up beyond W_max");
    }

    [Fact]
    public void Cubic_is_never_slower_than_the_reno_friendly_estimate()
    {
        var cubic = new CubicCongestionController(Mss);
        var reno = new NewRenoCongestionController(Mss);
        long now = 1_000_000;
        foreach (ICongestionController cc in new ICongestionController[] { cubic, reno })
        {
            long t = now;
            for (int i = 0; i < 3; i++) t = RoundTrip(cc, t); // both at 80 segments
            cc.OnCongestionEvent(t, cc.CongestionWindow);
        }

        // Reno halves (40) and CUBIC keeps 70%; after many short round trips CUBIC must still be ahead of Reno.
        long tCubic = now, tReno = now;
        for (int i = 0; i < 200; i++)
        {
            tCubic = RoundTrip(cubic, tCubic);
            tReno = RoundTrip(reno, tReno);
        }

        Assert.True(cubic.CongestionWindow >= reno.CongestionWindow, $"CUBIC {cubic.CongestionWindow} < Reno {reno.CongestionWindow}");
    }

    [Fact]
    public void Cubic_fast_convergence_lowers_W_max_after_a_loss_below_the_previous_one()
    {
        var cc = new CubicCongestionController(Mss);
        long now = 1_000_000;
        for (int i = 0; i < 6; i++) now = RoundTrip(cc, now); // 640 segments
        cc.OnCongestionEvent(now, cc.CongestionWindow);
        long firstWMax = cc.MaxWindowBeforeReduction;
        Assert.Equal(640 * Mss, firstWMax);

        // A second loss right away, at 448 segments (below W_max): W_max becomes 448 * (1 + 0.7) / 2.
        long window = cc.CongestionWindow;
        cc.OnCongestionEvent(now, window);
        Assert.InRange(cc.MaxWindowBeforeReduction, (long)(window * 0.85) - Mss, (long)(window * 0.85) + Mss);
        Assert.True(cc.MaxWindowBeforeReduction < window);
    }
}
