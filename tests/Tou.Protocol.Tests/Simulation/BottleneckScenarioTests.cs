using Tou.Simulation;

namespace Tou.Protocol.Tests.Simulation;

/// <summary>
/// Small cells of the congestion-control sweep (samples/Tou.Simulate sweep, build/sweep.sh) with the issue's targets that
/// are cheap to check, and the shared-bottleneck simulator they run on.
/// </summary>
public class BottleneckScenarioTests
{
    private static BottleneckScenario Cell(
        long rateBps, int rttMs, double loss, double seconds, CongestionControlAlgorithm[] flows,
        int queueBdp = 1, double measureFromS = 0, (TimeSpan, long)[]? steps = null, double sampleS = 0) => new()
    {
        Bottleneck = new LinkProfile { RateBitsPerSecond = rateBps, QueueLimitBytes = (int)(queueBdp * rateBps / 8 * rttMs / 1000), LossRate = loss },
        Flows = flows.Select(cc => new BottleneckFlow { Rtt = TimeSpan.FromMilliseconds(rttMs), CongestionControl = cc }).ToList(),
        Duration = TimeSpan.FromSeconds(seconds),
        MeasureFrom = TimeSpan.FromSeconds(measureFromS),
        RateSteps = steps ?? [],
        SampleInterval = sampleS > 0 ? TimeSpan.FromSeconds(sampleS) : TimeSpan.FromMilliseconds(rttMs),
    };

    [Fact]
    public void Two_bbr_flows_with_equal_rtts_share_the_bottleneck_fairly()
    {
        var result = Cell(20_000_000, 20, 0, 12, [CongestionControlAlgorithm.Bbr, CongestionControlAlgorithm.Bbr], measureFromS: 4).Run();
        double total = result.Flows.Sum(f => f.GoodputBitsPerSecond);
        Assert.True(result.JainIndex >= 0.95, $"Jain {result.JainIndex:0.000}: {string.Join(" / ", result.Flows.Select(f => $"{f.GoodputBitsPerSecond / 1e6:0.0}"))} Mbit/s");
        Assert.InRange(total, 0.85 * 20_000_000, 20_000_000);
    }

    [Fact]
    public void Without_loss_bbr_retransmits_under_one_percent_and_keeps_the_queue_short()
    {
        var result = Cell(100_000_000, 20, 0, 3, [CongestionControlAlgorithm.Bbr], queueBdp: 4).Run();
        var flow = result.Flows[0];
        Assert.True(flow.DataPacketsSent > 20_000);
        Assert.True(flow.Retransmissions <= flow.DataPacketsSent / 100, $"{flow.Retransmissions} of {flow.DataPacketsSent} retransmitted");
        Assert.True(result.QueueDelayP95Us <= 20_000 / 4, $"p95 queueing delay {result.QueueDelayP95Us} µs on a 20 ms path with a 4 BDP buffer");
        Assert.True(flow.GoodputBitsPerSecond >= 0.9 * 100_000_000, $"{flow.GoodputBitsPerSecond / 1e6:0.0} Mbit/s");
    }

    [Fact]
    public void At_one_percent_random_loss_bbr_holds_its_rate_and_cubic_does_not()
    {
        double Goodput(CongestionControlAlgorithm cc) => Cell(100_000_000, 10, 0.01, 3, [cc]).Run().Flows[0].GoodputBitsPerSecond;
        double bbr = Goodput(CongestionControlAlgorithm.Bbr);
        double cubic = Goodput(CongestionControlAlgorithm.Cubic);
        Assert.True(bbr >= 0.9 * 100_000_000 * 0.99, $"BBR {bbr / 1e6:0.0} Mbit/s");
        Assert.True(cubic < 0.75 * bbr, $"CUBIC {cubic / 1e6:0.0} Mbit/s vs BBR {bbr / 1e6:0.0}");
    }

    [Fact]
    public void A_rate_step_takes_effect_mid_run_and_the_queue_is_observed()
    {
        var result = Cell(10_000_000, 20, 0, 8, [CongestionControlAlgorithm.Bbr], steps: [(TimeSpan.FromSeconds(4), 2_500_000)], sampleS: 1).Run();
        var series = result.Flows[0].ReadSeries;
        double firstHalf = (series[4] - series[2]) * 8 / 2.0, secondHalf = (series[8] - series[6]) * 8 / 2.0;
        Assert.InRange(firstHalf, 8_500_000, 10_000_000);
        Assert.InRange(secondHalf, 2_000_000, 2_500_000);
        Assert.True(result.QueueDelayP95Us > 0);
    }
}
