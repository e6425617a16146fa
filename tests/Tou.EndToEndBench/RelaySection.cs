using Tou.Transport;
using Tou.Protocol;
using Tou.Simulation;

namespace Tou.EndToEndBench;

/// <summary>
/// The relay section of the benchmark (also alone with --relay-only): the relay's own figures (unimpaired forwarding,
/// delay release error, rate accuracy), then one stream through a 100 Mbit/s relay path at 20 and 100 ms RTT with 0, 1
/// and 5% random loss each way: TOU with the configured default controller, CUBIC and BBR by name, and kcptun
/// tunnelling TCP over the same relay settings. The queue is one bandwidth-delay product.
/// </summary>
internal static class RelaySection
{
    private const long RateBitsPerSecond = 100_000_000;

    public static async Task RunAsync(bool quick, Action<string, double> record, List<(string Figure, string Tou, string Tcp, string Ratio)> table)
    {
        var duration = TimeSpan.FromSeconds(quick ? 3 : 8);
        await OwnFiguresAsync(duration, record, table);

        string defaultName = new TouOptions().CongestionControl.ToString().ToLowerInvariant();
        var kcptun = Kcptun.Find();
        if (kcptun is null)
        {
            Console.WriteLine("kcptun: not installed (build/bench.sh installs the kcptun package when it can); its figures are left out");
        }

        var controllers = new (string Key, string Label, CongestionControlAlgorithm? Algorithm)[]
        {
            ("default", $"default ({defaultName})", null),
            ("cubic", "CUBIC", CongestionControlAlgorithm.Cubic),
            ("bbr", "BBR", CongestionControlAlgorithm.Bbr),
        };
        foreach (int rtt in new[] { 20, 100 })
        {
            foreach (double loss in new[] { 0.0, 0.01, 0.05 })
            {
                var path = LinkProfile.Path(TimeSpan.FromMilliseconds(rtt), loss, RateBitsPerSecond, queueLimitBytes: (int)(RateBitsPerSecond / 8 * rtt / 1000));
                string cell = $"relay_100mbit_rtt{rtt}ms_loss{loss * 100:0}pct";
                string label = $"relay 100 Mbit/s, {rtt} ms RTT, {loss * 100:0}% loss";
                var mbps = new Dictionary<string, double>();
                foreach (var (key, _, algorithm) in controllers)
                {
                    TimerLateness.Reset();
                    var (goodput, up) = await Bulk.TouThroughRelayAsync(path, duration, algorithm);
                    mbps[key] = goodput;
                    record($"{cell}_{key}_mbps", goodput);

                    // How late the transport served its deadlines (pacing among them) in this run: pacing precision.
                    record($"{cell}_{key}_timer_lateness_p50_us", TimerLateness.Percentile(50));
                    record($"{cell}_{key}_timer_lateness_p99_us", TimerLateness.Percentile(99));
                    // The relay's own release error on the data direction of this very run: it was not what limited it.
                    record($"{cell}_{key}_relay_release_p99_us", up.ReleaseError(0.99).TotalMicroseconds);
                }

                double? kcp = kcptun is { } exe ? await Kcptun.ThroughRelayAsync(exe, path, duration) : null;
                if (kcp is { } k)
                {
                    record($"{cell}_kcptun_mbps", k);
                    record($"{cell}_default_kcptun_ratio", mbps["default"] / k);
                }

                record($"{cell}_default_cubic_ratio", mbps["default"] / mbps["cubic"]);
                record($"{cell}_bbr_cubic_ratio", mbps["bbr"] / mbps["cubic"]);
                if (kcp is { } kc)
                {
                    record($"{cell}_bbr_kcptun_ratio", mbps["bbr"] / kc);
                }

                foreach (var (key, name, _) in controllers)
                {
                    table.Add(($"{label}, TOU {name} | kcptun", $"{mbps[key]:0.0} Mbit/s", kcp is { } v ? $"{v:0.0} Mbit/s" : "n/a", kcp is { } r ? $"{mbps[key] / r:0.00}" : ""));
                }
            }
        }
    }

    /// <summary>What the relay itself does: forward unimpaired, release on time, hold a rate.</summary>
    private static async Task OwnFiguresAsync(TimeSpan duration, Action<string, double> record, List<(string Figure, string Tou, string Tcp, string Ratio)> table)
    {
        var unimpaired = await RelayBench.BlastAsync(LinkProfile.Perfect, offeredMbps: 0, duration);
        record("relay_forward_unimpaired_gbps", unimpaired.DeliveredMbps / 1e3);
        // Flat out, the blaster outruns the relay; the share its socket took shows the relay (not the sink) set the pace.
        record("relay_forward_unimpaired_accepted_share", (double)unimpaired.Received / Math.Max(1, unimpaired.Sent));
        table.Add(("relay alone: unimpaired forwarding, 1,452-byte datagrams, flat out", $"{unimpaired.DeliveredMbps / 1e3:0.00} Gbit/s", "", ""));

        // One TOU stream through the unimpaired relay beside the same stream direct, both with 1,452-byte datagrams (the
        // relay's path carries at most 1,472): what the relay costs a transfer on this machine.
        var direct = await Bulk.TouAsync((long)(duration.TotalSeconds * 60_000_000), pathMtuDiscovery: false);
        var (touMbps, _) = await Bulk.TouThroughRelayAsync(LinkProfile.Perfect, duration, null);
        record("relay_tou_unimpaired_gbps", touMbps / 1e3);
        record("relay_tou_direct_gbps", direct.Gbps);
        record("relay_tou_unimpaired_direct_ratio", touMbps / 1e3 / direct.Gbps);
        table.Add(("relay alone: one TOU stream through it unimpaired | direct", $"{touMbps / 1e3:0.00} Gbit/s", $"{direct.Gbps:0.00} Gbit/s", $"{touMbps / 1e3 / direct.Gbps:0.00}"));

        // 150 Mbit/s offered into a 100 Mbit/s link with 10 ms each way: every datagram has its own due time.
        var rated = new LinkProfile { Delay = TimeSpan.FromMilliseconds(10), RateBitsPerSecond = RateBitsPerSecond, QueueLimitBytes = 1 << 20 };
        var rate = await RelayBench.BlastAsync(rated, offeredMbps: 150, duration);
        record("relay_rate100_delivered_mbps", rate.DeliveredMbps);
        record("relay_rate100_released_mbps", rate.ReleasedMbps);
        record("relay_rate100_scheduled_mbps", rate.ScheduledMbps);
        record("relay_rate100_error_pct", (rate.DeliveredMbps / 100 - 1) * 100);
        record("relay_release_error_p50_us", rate.ReleaseP50Us);
        record("relay_release_error_p99_us", rate.ReleaseP99Us);
        table.Add(("relay alone: 100 Mbit/s link, delivered at the receiver (relay's schedule)", $"{rate.DeliveredMbps:0.0} Mbit/s", $"({rate.ScheduledMbps:0.0})", ""));
        table.Add(("relay alone: release error p50 / p99 (actual - scheduled)", $"{rate.ReleaseP50Us:0} / {rate.ReleaseP99Us:0} µs", "", ""));
    }
}
