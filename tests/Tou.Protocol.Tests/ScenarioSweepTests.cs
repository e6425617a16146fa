using Tou.Simulation;
using Xunit.Abstractions;

namespace Tou.Protocol.Tests;

/// <summary>
/// Hundreds of seeded scenarios on the simulated network: random payload sizes both ways at once, 0–30%
/// loss (random or bursty), duplication, reordering, jitter, 0–200 ms RTT, rate limits with small queues,
/// corruption with the checksum negotiated, plain and extended peers. Every one must end byte-exact with
/// a graceful close on both sides.
/// </summary>
public class ScenarioSweepTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(1, 300).Select(i => new object[] { i });

    private static (LinkProfile Up, LinkProfile Down, TouOptions Client, TouOptions Server, long Upload, long Download, string Description) Scenario(int seed)
    {
        var rng = new Random(seed);
        double loss = rng.NextDouble() < 0.2 ? 0 : rng.NextDouble() * 0.3;
        var rtt = TimeSpan.FromMilliseconds(rng.Next(0, 201));
        bool bursty = rng.Next(4) == 0;
        bool corrupt = rng.Next(5) == 0;
        long rate = rng.Next(3) == 0 ? rng.Next(1, 200) * 1_000_000L : 0;
        LinkProfile Link() => new()
        {
            Delay = rtt / 2,
            Jitter = TimeSpan.FromMilliseconds(rng.Next(0, 3) == 0 ? rng.Next(0, 20) : 0),
            LossRate = bursty ? loss / 3 : loss,
            BurstEnterProbability = bursty ? 0.01 : 0,
            BurstExitProbability = 0.3,
            BurstLossRate = 0.8,
            DuplicateRate = rng.NextDouble() * 0.05,
            ReorderRate = rng.NextDouble() * 0.1,
            ReorderDelay = TimeSpan.FromMilliseconds(rng.Next(1, 30)),
            CorruptRate = corrupt ? rng.NextDouble() * 0.05 : 0,
            RateBitsPerSecond = rate,
            QueueLimitBytes = rng.Next(16, 512) * 1024,
        };

        // Long idle and retransmission limits: at 30% loss each way a FIN/ACK exchange may need many tries.
        TouOptions Options() => new()
        {
            EnableExtensions = corrupt || rng.Next(5) != 0,
            EnableSack = rng.Next(4) != 0,
            EnableIntegrity = corrupt,
            CongestionControl = (CongestionControlAlgorithm)rng.Next(3),
            ReceiveBufferSize = rng.Next(2) == 0 ? 64 * 1024 : 4 * 1024 * 1024,
            MaxRto = TimeSpan.FromSeconds(10),
            MaxRetransmissions = 40,
            IdleTimeout = TimeSpan.FromMinutes(10),
            HandshakeTimeout = TimeSpan.FromMinutes(2),
        };

        var up = Link();
        var down = Link();
        var client = Options();
        var server = Options();
        long Size() => (long)Math.Pow(10, rng.NextDouble() * (loss > 0.1 ? 5 : 6)); // 1 B .. 1 MB (100 kB under heavy loss)
        long upload = Size(), download = Size();
        string description = $"loss {loss:P1}{(bursty ? " bursty" : "")} rtt {rtt.TotalMilliseconds} ms rate {rate / 1e6} Mbit/s corrupt {corrupt} ext {client.EnableExtensions}/{server.EnableExtensions} sack {client.EnableSack}/{server.EnableSack} up {upload} down {download}";
        return (up, down, client, server, upload, download, description);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Every_scenario_ends_byte_exact_with_a_graceful_close(int seed)
    {
        var s = Scenario(seed);
        var result = TransferScenario.Run(seed, s.Up, s.Down, s.Upload, s.Download, s.Client, s.Server);
        output.WriteLine($"{s.Description}: {result.TransferUs / 1e6:0.00} s, retransmissions {result.ClientStats.Retransmissions}+{result.ServerStats.Retransmissions}, network {result.Network.Sent} sent / {result.Network.Lost + result.Network.LostInBurst} lost / {result.Network.Corrupted} corrupted / {result.Network.QueueDrops} queue drops");
        Assert.True(result.Completed, result.Failure);
        Assert.True(result.BytesExact);
        Assert.Equal(TouCloseReason.Graceful, result.ClientCloseReason);
        Assert.Equal(TouCloseReason.Graceful, result.ServerCloseReason);
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.02)]
    public void Tens_of_megabytes_both_ways_at_once(int seed, double loss)
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(20), loss, rateBitsPerSecond: 1_000_000_000, queueLimitBytes: 4 * 1024 * 1024) with { ReorderRate = 0.01, DuplicateRate = 0.005 };
        var result = TransferScenario.Run(seed, path, path, 30_000_000, 30_000_000, maxDurationUs: 3_600_000_000L * 4);
        output.WriteLine($"loss {loss:P0}: {result.TransferUs / 1e6:0.00} s virtual, goodput {result.GoodputMbps:0.0} Mbit/s");
        Assert.True(result.Completed, result.Failure);
        Assert.True(result.BytesExact);
        Assert.Equal(TouCloseReason.Graceful, result.ClientCloseReason);
        Assert.Equal(TouCloseReason.Graceful, result.ServerCloseReason);
    }
}
