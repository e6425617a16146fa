using System.Net;
using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Mechanisms;

/// <summary>
/// Path MTU discovery end to end on the seeded simulator: paths that carry at most so many bytes per datagram (and drop
/// larger ones without a word), a path whose MTU drops mid-transfer, plain peers, SYN cookies, and the local limits.
/// </summary>
public class PathMtuTests
{
    private static readonly LinkProfile Unlimited = LinkProfile.Path(TimeSpan.FromMilliseconds(20)) with { MaxDatagramSize = 0 };

    /// <summary>A client and a server on a simulated path; records the largest datagram and the flags sent each way.</summary>
    private sealed class Net : IDisposable
    {
        public static readonly SocketAddress ClientAddress = SimulatedNetwork.Address("10.0.0.1", 40000);
        public static readonly SocketAddress ServerAddress = SimulatedNetwork.Address("10.0.0.2", 5000);

        public Net(LinkProfile path, TouOptions? clientOptions = null, TouOptions? serverOptions = null, int seed = 1)
        {
            Network = new SimulatedNetwork(seed);
            ClientEndpoint = new TouEndpoint(Seeded(clientOptions, seed)) { LocalPort = 40000 };
            ServerEndpoint = new TouEndpoint(Seeded(serverOptions, seed + 1)) { LocalPort = 5000, IsListening = true };
            Network.AddNode(ClientAddress, ClientEndpoint);
            Network.AddNode(ServerAddress, ServerEndpoint);
            Network.SetPath(ClientAddress, ServerAddress, path);
            Network.Observer = (from, _, datagram) =>
            {
                bool toServer = from.Equals(ClientAddress);
                TouHeader.TryRead(datagram.Span, out var header);
                Largest[toServer ? 0 : 1] = Math.Max(Largest[toServer ? 0 : 1], datagram.Length);
                Flags[toServer ? 0 : 1] |= header.Flags;
                Sent?.Invoke(toServer, datagram.Length);
            };
        }

        public SimulatedNetwork Network { get; }

        public TouEndpoint ClientEndpoint { get; }

        public TouEndpoint ServerEndpoint { get; }

        public TouConnection Client { get; private set; } = null!;

        public TouConnection Server { get; private set; } = null!;

        /// <summary>Largest datagram sent towards the server [0] and towards the client [1].</summary>
        public int[] Largest { get; } = new int[2];

        /// <summary>Every flag sent towards the server [0] and towards the client [1].</summary>
        public TouFlags[] Flags { get; } = new TouFlags[2];

        /// <summary>Called with every datagram sent (true: towards the server) and its length.</summary>
        public Action<bool, int>? Sent { get; set; }

        public void Establish()
        {
            Client = ClientEndpoint.Connect(Network.NowUs, ServerAddress);
            TouConnection? server = null;
            Network.RunUntil(() => Client.State == TouConnectionState.Established && (server ??= ServerEndpoint.Accept()) is not null, 30_000_000);
            Server = server!;
        }

        /// <summary>Moves <paramref name="up"/> and <paramref name="down"/> bytes at once, closes both sides, checks both byte-exact.</summary>
        public void Transfer(int up, int down, Action? duringTransfer = null)
        {
            var clientApp = new StreamApp(Client, StreamApp.RandomPayload(11, up));
            var serverApp = new StreamApp(Server, StreamApp.RandomPayload(12, down));
            Network.BeforeStep = () =>
            {
                clientApp.Run();
                serverApp.Run();
                duringTransfer?.Invoke();
            };
            Network.RunUntil(() => clientApp.ReceiveCompleted && serverApp.ReceiveCompleted
                && Client.State == TouConnectionState.Closed && Server.State == TouConnectionState.Closed, 600_000_000);
            Network.BeforeStep = null;
            Assert.Equal(clientApp.ExpectedHashOfSent, serverApp.ReceivedHash());
            Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
            Assert.Equal(TouCloseReason.Graceful, Client.CloseReason);
            Assert.Equal(TouCloseReason.Graceful, Server.CloseReason);
        }

        public void Dispose()
        {
            ClientEndpoint.Dispose();
            ServerEndpoint.Dispose();
        }

        private static TouOptions Seeded(TouOptions? options, int seed)
        {
            var seeded = (options ?? new TouOptions()).Clone();
            var random = new Random(seed);
            seeded.RandomSource = random.NextBytes;
            return seeded;
        }
    }

    [Theory]
    [InlineData(1472)]
    [InlineData(4000)]
    [InlineData(9000)]
    public void Discovery_reaches_the_paths_size_exactly_and_never_sends_data_above_it(int pathLimit)
    {
        using var net = new Net(Unlimited with { MaxDatagramSize = pathLimit });
        net.Establish();
        net.Network.RunFor(30_000_000); // idle: probes go whenever one is due

        foreach (var side in new[] { net.Client, net.Server })
        {
            Assert.Equal(pathLimit, side.Stats.DatagramSize);
            Assert.Equal(pathLimit - TouHeader.Size - Extensions.TrailerSize, side.SendMss);
            Assert.True(side.Negotiation.PathMtuDiscovery);
            Assert.True(side.Stats.PathMtuProbesLost >= PathMtuDiscovery.MaxProbes); // the 64 KB ceiling, at least, failed
        }

        net.Transfer(3_000_000, 3_000_000);
        Assert.Equal(pathLimit, net.Client.Stats.DatagramSize);
        Assert.Equal(pathLimit, net.Server.Stats.DatagramSize);

        // Only probes were ever too large for the path: no data was sent into the MTU's black hole.
        Assert.Equal(net.Client.Stats.PathMtuProbesLost + net.Server.Stats.PathMtuProbesLost, net.Network.Stats.TooLarge);
        Assert.Equal(0, net.Client.Stats.RetransmissionTimeouts + net.Server.Stats.RetransmissionTimeouts);
    }

    [Fact]
    public void A_path_whose_mtu_drops_mid_transfer_is_a_black_hole_that_falls_back_and_stays_byte_exact()
    {
        using var net = new Net(Unlimited with { RateBitsPerSecond = 200_000_000, QueueLimitBytes = 4 << 20 });
        net.Establish();
        net.Network.RunFor(2_000_000);
        Assert.Equal(65_507, net.Client.Stats.DatagramSize); // no limit on the path nor on the simulated hosts

        bool dropped = false;
        net.Transfer(20_000_000, 5_000_000, () =>
        {
            if (!dropped && net.Client.Stats.BytesAcknowledged > 5_000_000)
            {
                dropped = true; // a route change: the path now carries 1,500-byte packets
                net.Network.SetPath(Net.ClientAddress, Net.ServerAddress, Unlimited with { RateBitsPerSecond = 200_000_000, QueueLimitBytes = 4 << 20, MaxDatagramSize = 1472 });
            }
        });

        Assert.True(dropped);
        Assert.True(net.Client.Stats.PathMtuBlackHoles >= 1, "the client never noticed the black hole");
        Assert.InRange(net.Client.Stats.DatagramSize, 1452, 1472); // the base, or what the new search found
        Assert.True(net.Client.Stats.RetransmissionTimeouts >= PathMtuDiscovery.BlackHoleTimeouts);
    }

    [Fact]
    public void A_path_smaller_than_the_initial_size_is_a_black_hole_at_the_base_that_falls_to_the_minimum_and_is_then_found()
    {
        // Smaller than the 1,452 bytes everyone starts with; a slow link, so that the search has time to finish.
        using var net = new Net(Unlimited with { MaxDatagramSize = 1300, RateBitsPerSecond = 2_000_000 });
        net.Establish();
        net.Transfer(3_000_000, 1_000_000);

        foreach (var side in new[] { net.Client, net.Server })
        {
            Assert.True(side.Stats.PathMtuBlackHoles >= 1);
            Assert.Equal(1300, side.Stats.DatagramSize);
        }
    }

    [Fact]
    public void An_interface_smaller_than_the_initial_size_lowers_it_from_the_start()
    {
        using var net = new Net(Unlimited with { MaxDatagramSize = 1372 });
        net.ClientEndpoint.LocalDatagramLimit = _ => 1372; // e.g. a 1,400-byte VPN interface
        net.Establish();
        Assert.Equal(1372, net.Client.Stats.DatagramSize);
        net.Transfer(2_000_000, 0);

        Assert.Equal(1372, net.Largest[0]);
        Assert.Equal(0, net.Client.Stats.PathMtuProbesSent + net.Client.Stats.RetransmissionTimeouts);
    }

    [Fact]
    public void A_plain_peer_never_gets_a_datagram_over_1024_bytes_nor_a_probe()
    {
        using var net = new Net(Unlimited, clientOptions: new TouOptions { EnableExtensions = false });
        net.Establish();
        net.Transfer(2_000_000, 2_000_000);

        Assert.InRange(net.Largest[1], 1, TouConnection.SeedMaxDatagram);
        Assert.InRange(net.Largest[0], 1, TouConnection.SeedMaxDatagram);
        Assert.Equal(TouFlags.None, net.Flags[1] & (TouFlags.Ping | TouFlags.Options));
        Assert.Equal(0, net.Server.Stats.PathMtuProbesSent);
        Assert.False(net.Server.Negotiation.PathMtuDiscovery);
        Assert.Equal(TouConnection.SeedMaxDatagram, net.Server.Stats.DatagramSize);
    }

    [Fact]
    public void Lost_probes_are_not_congestion()
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(20), rateBitsPerSecond: 50_000_000, queueLimitBytes: 8 << 20) with { MaxDatagramSize = 1472 };

        // A window-based controller, whose window shrinks only on congestion (BBR's follows its model and its probing).
        var cubic = new TouOptions { CongestionControl = CongestionControlAlgorithm.Cubic };
        using var net = new Net(path, cubic, cubic);
        net.Establish();
        long window = 0;
        bool shrank = false;
        net.Transfer(12_000_000, 0, () =>
        {
            long now = net.Client.CongestionWindow;
            shrank |= now < window && net.Client.State == TouConnectionState.Established;
            window = Math.Max(window, now);
        });

        var stats = net.Client.Stats;
        Assert.True(stats.PathMtuProbesLost >= 1, "no probe was lost during the transfer");
        Assert.Equal(0, stats.CongestionEvents);
        Assert.Equal(0, stats.SegmentsLost);
        Assert.Equal(0, stats.Retransmissions);
        Assert.False(shrank, "the congestion window shrank");
    }

    [Fact]
    public void A_server_behind_syn_cookies_learns_from_the_clients_first_probe_that_it_may_probe_too()
    {
        using var net = new Net(Unlimited with { MaxDatagramSize = 9000 }, serverOptions: new TouOptions { MaxPendingHandshakes = 0 });
        net.Establish();
        net.Network.RunFor(30_000_000);

        Assert.Equal(1, net.ServerEndpoint.Stats.SynCookiesAccepted);
        Assert.True(net.Server.Negotiation.PathMtuDiscovery);
        Assert.Equal(9000, net.Server.Stats.DatagramSize);
        Assert.Equal(9000, net.Client.Stats.DatagramSize);
        net.Transfer(1_000_000, 1_000_000);
    }

    [Fact]
    public void The_peers_announced_limit_and_the_local_interface_cap_the_search_and_the_first_probe_settles_it()
    {
        // The server accepts at most 4,000 bytes (its mss field says so) and sends no more either; the client's interface
        // would carry 9,000.
        using (var net = new Net(Unlimited, serverOptions: new TouOptions { MaxDatagramSize = 4000 }))
        {
            net.ClientEndpoint.LocalDatagramLimit = _ => 9000;
            net.Establish();
            net.Network.RunFor(5_000_000);
            Assert.Equal(4000, net.Client.Negotiation.PeerMaxDatagramSize);
            Assert.Equal(4000, net.Client.Stats.DatagramSize);
            Assert.Equal(4000, net.Server.Stats.DatagramSize);
            Assert.Equal((1, 1), (net.Client.Stats.PathMtuProbesSent, net.Client.Stats.PathMtuProbesAcknowledged));
            net.Transfer(2_000_000, 2_000_000);
            Assert.Equal(4000, net.Largest[0]);
            Assert.Equal(4000, net.Largest[1]);
        }

        // A 3,000-byte interface under the server: it probes 3,000 once; the client, with no such limit, reaches 64 KB.
        using (var net = new Net(Unlimited))
        {
            net.ServerEndpoint.LocalDatagramLimit = _ => 3000;
            net.Establish();
            net.Network.RunFor(5_000_000);
            Assert.Equal(3000, net.Server.Stats.DatagramSize);
            Assert.Equal((1, 1), (net.Server.Stats.PathMtuProbesSent, net.Server.Stats.PathMtuProbesAcknowledged));
            Assert.Equal(65_507, net.Client.Stats.DatagramSize);
        }
    }

    [Fact]
    public void Discovery_off_or_a_host_without_the_dont_fragment_bit_keeps_the_initial_size()
    {
        using var off = new Net(Unlimited, clientOptions: new TouOptions { EnablePathMtuDiscovery = false });
        off.ServerEndpoint.LocalDatagramLimit = _ => 1452; // no don't-fragment bit: a probe would prove nothing
        off.Establish();
        off.Transfer(1_000_000, 1_000_000);

        foreach (var side in new[] { off.Client, off.Server })
        {
            Assert.Equal(1452, side.Stats.DatagramSize);
            Assert.Equal(0, side.Stats.PathMtuProbesSent);
        }

        Assert.Equal(1452, off.Largest[0]);
        Assert.Equal(1452, off.Largest[1]);
    }

    [Fact]
    public void A_probe_the_local_stack_refuses_is_given_up_at_once_instead_of_after_timeouts()
    {
        using var net = new Net(Unlimited with { MaxDatagramSize = 9000 });
        var sizes = new List<int>();
        net.Sent = (toServer, length) =>
        {
            if (toServer && length > 1452)
            {
                sizes.Add(length);
            }

            if (toServer && length > 9000)
            {
                net.ClientEndpoint.ReportDatagramTooLarge(net.Network.NowUs, Net.ServerAddress, length); // EMSGSIZE, as a host would say
            }
        };
        net.Establish();
        net.Network.RunFor(5_000_000);

        var stats = net.Client.Stats;
        Assert.Equal(9000, stats.DatagramSize);
        Assert.Equal(stats.PathMtuProbesSent, stats.PathMtuProbesAcknowledged + stats.PathMtuProbesLost);
        var refused = sizes.Where(size => size > 9000).ToList();
        Assert.Equal(refused.Distinct().Count(), refused.Count); // never the same refused size twice: no retries, no timeouts
        Assert.Equal(refused.Count, stats.PathMtuProbesLost);
    }
}
