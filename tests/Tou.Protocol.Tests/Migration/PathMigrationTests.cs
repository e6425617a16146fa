using System.Net;
using Tou.Protocol.Wire;
using Tou.Simulation;
using Xunit.Abstractions;

namespace Tou.Protocol.Tests.Migration;

/// <summary>
/// Connection IDs on the simulated network (docs/protocol.md §5.7): the client's NAT rebinds its port, once and every
/// two seconds, or the client moves to a new IP address, in the middle of a 20 MB transfer each way; the connection
/// follows after validating the new address, and every byte arrives. Spoofed and replayed packets never move it, and an
/// unvalidated address never gets more than three times the bytes it sent.
/// </summary>
public class PathMigrationTests(ITestOutputHelper output)
{
    private const long Megabytes20 = 20_000_000;

    private static readonly LinkProfile Path = LinkProfile.Path(TimeSpan.FromMilliseconds(20), rateBitsPerSecond: 50_000_000, queueLimitBytes: 512 * 1024);

    /// <summary>Slow enough for a 20 MB transfer each way to see several rebindings two seconds apart.</summary>
    private static readonly LinkProfile SlowPath = LinkProfile.Path(TimeSpan.FromMilliseconds(30), rateBitsPerSecond: 20_000_000, queueLimitBytes: 256 * 1024);

    private static TouOptions WithIds() => new() { EnableConnectionIds = true };

    /// <summary>
    /// A client whose NAT may rebind while it only receives: the server's packets to the old port are lost and the
    /// server learns the new one only when the client sends, so a short keepalive bounds the stall (QUIC has the same
    /// limit; docs/protocol.md §5.7).
    /// </summary>
    private static TouOptions ReceivingClient() => new() { EnableConnectionIds = true, KeepAliveInterval = TimeSpan.FromSeconds(1) };

    private void Report(string name, TransferResult r) =>
        output.WriteLine($"{name}: {r.TransferUs / 1e6:0.00} s virtual, goodput {r.GoodputMbps:0.0} Mbit/s, server: validations {r.ServerStats.PathValidationsStarted} started / " +
            $"{r.ServerStats.PathValidationsSucceeded} ok / {r.ServerStats.PathValidationsFailed} failed, migrations {r.ServerStats.PathMigrations}, resets {r.ServerStats.PathResets}, " +
            $"unvalidated bytes {r.ServerStats.UnvalidatedPathBytesSent} sent / {r.ServerStats.UnvalidatedPathBytesReceived} received, " +
            $"retransmissions {r.ClientStats.Retransmissions}+{r.ServerStats.Retransmissions}, rebindings {r.Network.Rebindings}");

    private static void AssertExactAndGraceful(TransferResult r)
    {
        Assert.True(r.Completed, r.Failure);
        Assert.True(r.BytesExact);
        Assert.Equal(TouCloseReason.Graceful, r.ClientCloseReason);
        Assert.Equal(TouCloseReason.Graceful, r.ServerCloseReason);
        Assert.True(r.ServerStats.UnvalidatedPathBytesSent <= PathValidator.AmplificationFactor * r.ServerStats.UnvalidatedPathBytesReceived);
    }

    [Fact]
    public void A_nat_rebinding_mid_transfer_keeps_the_connection_and_its_congestion_state()
    {
        var result = TransferScenario.RunWith(
            net => net.At(net.NowUs + 1_500_000, () => net.Rebind(TransferScenario.ClientAddress, SimulatedNetwork.Address("10.0.0.1", 41000))),
            seed: 1, Path, Path, Megabytes20, Megabytes20, WithIds(), WithIds());
        Report("one rebinding", result);
        AssertExactAndGraceful(result);
        Assert.Equal(1, result.Network.Rebindings);
        Assert.Equal(1, result.ServerStats.PathMigrations);
        Assert.Equal(0, result.ServerStats.PathResets); // a new port on the same host: the same path
        Assert.Equal(0, result.ServerStats.PathValidationsFailed);
        Assert.True(result.TransferUs < 10_000_000, "the transfer stalls no longer than a round trip or two");
    }

    [Fact]
    public void A_late_packet_from_the_port_left_behind_starts_no_validation_of_it()
    {
        // A client that only uploads never advances its acknowledgement, so a packet still queued on the old port when the
        // server has moved looks as current as any. Replay the last one it sent from there 100 ms after the rebinding
        // (the move takes a round trip or two; the retransmission timeout is longer): the server must not chase it.
        byte[]? lastFromOldPort = null;
        var oldPort = TransferScenario.ClientAddress;
        var result = TransferScenario.RunWith(
            net =>
            {
                net.Observer = (from, _, datagram) =>
                {
                    if (from.Equals(oldPort))
                    {
                        lastFromOldPort = datagram.ToArray();
                    }
                };
                long rebindAt = net.NowUs + 1_500_000;
                net.At(rebindAt, () => net.Rebind(oldPort, SimulatedNetwork.Address("10.0.0.1", 41000)));
                net.At(rebindAt + 100_000, () =>
                {
                    Assert.NotNull(lastFromOldPort); // the replay must carry a real packet, or the test proves nothing
                    net.Inject(oldPort, TransferScenario.ServerAddress, lastFromOldPort, net.NowUs);
                });
            },
            seed: 4, Path, Path, Megabytes20, 0, WithIds(), WithIds());
        Report("upload-only rebinding, late packet", result);
        AssertExactAndGraceful(result);
        Assert.Equal(1, result.ServerStats.PathMigrations);
        Assert.Equal(1, result.ServerStats.PathValidationsStarted);
        Assert.Equal(0, result.ServerStats.PathValidationsFailed);
    }

    [Fact]
    public void Rebindings_every_two_seconds_keep_a_transfer_byte_exact()
    {
        var result = TransferScenario.RunWith(
            net =>
            {
                int port = 40000;
                void RebindAgain()
                {
                    net.Rebind(SimulatedNetwork.Address("10.0.0.1", port), SimulatedNetwork.Address("10.0.0.1", port + 1));
                    port++;
                    net.At(net.NowUs + 2_000_000, RebindAgain);
                }

                net.At(net.NowUs + 2_000_000, RebindAgain);
            },
            seed: 2, SlowPath, SlowPath, Megabytes20, Megabytes20, ReceivingClient(), WithIds(), maxDurationUs: 120_000_000);
        Report("rebinding every 2 s", result);
        AssertExactAndGraceful(result);
        Assert.True(result.Network.Rebindings >= 4, $"{result.Network.Rebindings} rebindings during the transfer");
        Assert.True(result.ServerStats.PathMigrations >= result.Network.Rebindings - 1, "every rebinding during the transfer was followed");
        Assert.Equal(0, result.ServerStats.PathResets);
    }

    [Fact]
    public void A_new_ip_address_mid_transfer_moves_the_connection_to_a_fresh_path()
    {
        var result = TransferScenario.RunWith(
            net => net.At(net.NowUs + 1_500_000, () => net.Rebind(TransferScenario.ClientAddress, SimulatedNetwork.Address("192.168.7.20", 50000))),
            seed: 3, Path, Path, Megabytes20, Megabytes20, WithIds(), WithIds());
        Report("new address", result);
        AssertExactAndGraceful(result);
        Assert.Equal(1, result.ServerStats.PathMigrations);
        Assert.Equal(1, result.ServerStats.PathResets); // a new host: congestion control and RTT start over
    }

    [Fact]
    public void A_receiving_client_that_moves_to_a_new_network_on_purpose_is_followed_and_starts_a_fresh_path()
    {
        // Migrate: the host moved the client to a new socket on another network. The client speaks from there at once (a
        // client that only downloads might otherwise have nothing to send) and resets its own congestion state; the
        // server validates the new address and resets its own.
        var newAddress = SimulatedNetwork.Address("172.16.4.2", 50000);
        var result = TransferScenario.RunWith(
            net => net.At(net.NowUs + 1_500_000, () =>
            {
                net.Rebind(TransferScenario.ClientAddress, newAddress);
                net.EndpointAt(newAddress)!.FindConnection(TransferScenario.ServerAddress)!.Migrate(net.NowUs, newNetwork: true);
            }),
            seed: 7, Path, Path, 0, Megabytes20, WithIds(), WithIds());
        Report("download, Migrate", result);
        AssertExactAndGraceful(result);
        Assert.Equal(1, result.ServerStats.PathMigrations);
        Assert.Equal(1, result.ServerStats.PathResets);
        Assert.Equal(1, result.ClientStats.LocalMigrations);
        Assert.Equal(1, result.ClientStats.PathResets);
        Assert.True(result.TransferUs < 6_000_000, $"{result.TransferUs} µs");
    }

    [Fact]
    public void Migrate_needs_connection_ids()
    {
        using var pair = new Harness.EnginePair();
        var (client, _) = pair.Establish();
        Assert.Throws<InvalidOperationException>(() => client.Migrate(pair.NowUs, newNetwork: false));
    }

    [Fact]
    public void Without_connection_ids_a_rebinding_loses_the_connection()
    {
        // Today's 4-tuple behaviour, kept exactly for peers that did not agree IDs: the server answers the new address
        // with an RST, so the client's connection ends.
        var result = TransferScenario.RunWith(
            net => net.At(net.NowUs + 1_500_000, () => net.Rebind(TransferScenario.ClientAddress, SimulatedNetwork.Address("10.0.0.1", 41000))),
            seed: 4, Path, Path, Megabytes20, Megabytes20, maxDurationUs: 60_000_000);
        Assert.False(result.BytesExact);
        Assert.Equal(0, result.ServerStats.PathMigrations);
    }

    [Fact]
    public void Forged_packets_with_a_valid_id_from_a_spoofed_address_are_dropped_and_never_move_the_path()
    {
        var spoofed = SimulatedNetwork.Address("203.0.113.9", 6666);
        int forged = 0;
        var result = TransferScenario.RunWith(
            net => net.Observer = (from, to, datagram) =>
            {
                // An attacker who learnt the server's ID (it is on the wire) sends packets carrying it, with numbers
                // of its choosing; without the connection's key it cannot make the tag.
                if (from.Equals(TransferScenario.ClientAddress) && to.Equals(TransferScenario.ServerAddress) && datagram.Length > 40 && forged < 200 && net.NowUs > 1_200_000)
                {
                    var copy = datagram.ToArray();
                    copy[9] ^= 0x40; // another acknowledgement number
                    net.Inject(spoofed, to, copy, net.NowUs + 1);
                    forged++;
                }
            },
            seed: 5, Path, Path, Megabytes20 / 4, Megabytes20 / 4, WithIds(), WithIds());
        Report("forged", result);
        AssertExactAndGraceful(result);
        Assert.Equal(200, forged);
        Assert.True(result.ServerStats.IntegrityFailures >= forged);
        Assert.Equal(0, result.ServerStats.PathValidationsStarted);
        Assert.Equal(0, result.ServerStats.PathMigrations);
        Assert.Equal(0, result.ServerStats.UnvalidatedPathBytesSent);
    }

    [Fact]
    public void Replayed_packets_from_a_spoofed_address_draw_at_most_three_times_their_bytes_and_never_move_the_path()
    {
        // A stronger attacker: it sees the client's packets and races copies of them, from a victim's address, to the
        // server. Their tags verify, so the server challenges the victim, who cannot answer; the victim gets at most 3×
        // what was sent in its name, and the connection stays.
        var victim = SimulatedNetwork.Address("198.51.100.7", 443);
        long replayedBytes = 0;
        long bytesToVictim = 0;
        long lastReplayUs = 0;
        var result = TransferScenario.RunWith(
            net => net.Observer = (from, to, datagram) =>
            {
                if (to.Equals(victim))
                {
                    bytesToVictim += datagram.Length;
                }
                else if (from.Equals(TransferScenario.ClientAddress) && net.NowUs > 1_200_000 && net.NowUs - lastReplayUs >= 100_000)
                {
                    net.Inject(victim, to, datagram.Span, net.NowUs + 1);
                    replayedBytes += datagram.Length;
                    lastReplayUs = net.NowUs;
                }
            },
            seed: 6, Path, Path, Megabytes20 / 2, Megabytes20 / 2, WithIds(), WithIds());
        Report("replayed", result);
        output.WriteLine($"replayed {replayedBytes} bytes, the victim got {bytesToVictim}");
        AssertExactAndGraceful(result);
        Assert.True(result.ServerStats.PathValidationsStarted > 0, "the replays were fresh enough to be challenged");
        Assert.Equal(0, result.ServerStats.PathMigrations);
        Assert.Equal(0, result.ServerStats.PathValidationsSucceeded);
        Assert.True(bytesToVictim > 0);
        Assert.True(bytesToVictim <= PathValidator.AmplificationFactor * replayedBytes, $"{bytesToVictim} > 3 × {replayedBytes}");
        Assert.Equal(bytesToVictim, result.ServerStats.UnvalidatedPathBytesSent);
    }

    public static IEnumerable<object[]> SweepSeeds() => Enumerable.Range(1, 200).Select(i => new object[] { i });

    /// <summary>
    /// Seeded impaired paths (loss, bursts, reordering, duplication, corruption, jitter, rate limits) with the client
    /// moving once or twice — a new port or a new IP address — at a random moment: every transfer ends byte-exact and
    /// graceful, and no unvalidated address ever got more than 3× what it sent.
    /// </summary>
    [Theory]
    [MemberData(nameof(SweepSeeds))]
    public void Moves_on_impaired_paths_end_byte_exact(int seed)
    {
        var rng = new Random(seed);
        double loss = rng.NextDouble() * 0.08;
        var rtt = TimeSpan.FromMilliseconds(rng.Next(5, 151));
        LinkProfile Link() => new()
        {
            Delay = rtt / 2,
            Jitter = TimeSpan.FromMilliseconds(rng.Next(0, 3) == 0 ? rng.Next(0, 10) : 0),
            LossRate = loss,
            BurstEnterProbability = rng.Next(4) == 0 ? 0.01 : 0,
            BurstExitProbability = 0.3,
            BurstLossRate = 0.8,
            DuplicateRate = rng.NextDouble() * 0.03,
            ReorderRate = rng.NextDouble() * 0.05,
            ReorderDelay = TimeSpan.FromMilliseconds(rng.Next(1, 20)),
            CorruptRate = rng.Next(3) == 0 ? rng.NextDouble() * 0.02 : 0,
            RateBitsPerSecond = rng.Next(2) == 0 ? rng.Next(2, 100) * 1_000_000L : 0,
            QueueLimitBytes = rng.Next(32, 512) * 1024,
        };

        TouOptions Options() => new()
        {
            EnableConnectionIds = true,
            CongestionControl = (CongestionControlAlgorithm)rng.Next(3),
            KeepAliveInterval = TimeSpan.FromSeconds(1),
            MaxRto = TimeSpan.FromSeconds(10),
            MaxRetransmissions = 40,
            IdleTimeout = TimeSpan.FromMinutes(10),
        };

        var up = Link();
        var down = Link();
        var clientOptions = Options();
        var serverOptions = Options();
        long upload = (long)Math.Pow(10, 3 + (rng.NextDouble() * 3.3)), download = (long)Math.Pow(10, 3 + (rng.NextDouble() * 3.3));
        int moves = rng.Next(1, 3);
        var times = Enumerable.Range(0, moves).Select(_ => rng.Next(50_000, 3_000_000)).Order().ToArray();
        var newIp = Enumerable.Range(0, moves).Select(_ => rng.Next(2) == 0).ToArray();
        TouEndpoint? serverEndpoint = null;
        var result = TransferScenario.RunWith(
            net =>
            {
                serverEndpoint = net.EndpointAt(TransferScenario.ServerAddress);
                var at = TransferScenario.ClientAddress;
                for (int m = 0; m < moves; m++)
                {
                    var next = SimulatedNetwork.Address(newIp[m] ? $"10.0.{m + 1}.1" : "10.0.0.1", 42000 + m);
                    var from = at;
                    net.At(net.NowUs + times[m], () => net.Rebind(from, next));
                    at = next;
                }
            },
            seed, up, down, upload, download, clientOptions, serverOptions, maxDurationUs: 3_600_000_000);
        output.WriteLine($"loss {loss:P1} rtt {rtt.TotalMilliseconds} ms, {moves} moves at {string.Join(", ", times.Select(t => $"{t / 1e6:0.00} s"))} (new IP {string.Join(", ", newIp)}), up {upload} down {download}");
        Report("sweep", result);
        var es = serverEndpoint!.Stats;
        output.WriteLine($"server endpoint: from new path {es.DatagramsFromNewPath}, unknown {es.DroppedUnknownConnection}, resets {es.ResetsSent}; client close {result.ClientCloseReason}, server close {result.ServerCloseReason}, server acked {result.ServerStats.BytesAcknowledged} of {download}, exact {result.BytesExact}");
        if (result.ServerCloseReason == TouCloseReason.RetransmissionTimeout && result.ClientCloseReason == TouCloseReason.Graceful && result.BytesExact)
        {
            // The client had everything and closed; its last ACKs were lost and it moved while lingering, with nothing left
            // to send: the server's repeats go to the old address and it never hears again (as TCP whose peer vanished after
            // its last ACK was lost). Every byte arrived; only acknowledgements are missing.
            return;
        }

        AssertExactAndGraceful(result);
    }
}
