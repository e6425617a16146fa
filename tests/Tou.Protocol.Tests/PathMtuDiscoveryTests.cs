using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests;

/// <summary>The path MTU search on its own (sizes, probe timeouts, black holes, the answers owed), without a connection.</summary>
public class PathMtuDiscoveryTests
{
    private const int Base = 1452;
    private const long TimeoutUs = 300_000;

    private sealed class Harness
    {
        public ConnectionTimers Timers { get; } = new();

        public TouConnectionStats Stats { get; } = new();

        public PathMtuDiscovery Search { get; }

        public long NowUs { get; set; } = 1_000_000;

        public Harness() => Search = new PathMtuDiscovery(Timers, Stats);

        /// <summary>Sends every due probe over a path that carries up to <paramref name="pathLimit"/> bytes, answering at once
        /// or letting the probe time out, until nothing is due. Returns the sizes probed, in order.</summary>
        public List<int> Run(int pathLimit, int maxProbes = 200)
        {
            var sizes = new List<int>();
            for (int i = 0; i < maxProbes && Search.DueProbeSize > 0; i++)
            {
                int size = Search.DueProbeSize;
                sizes.Add(size);
                uint token = Search.OnProbeSent(size, NowUs, TimeoutUs);
                if (size <= pathLimit)
                {
                    NowUs += 1_000;
                    Search.OnEcho(token, NowUs);
                }
                else
                {
                    NowUs = Timers[TimerKind.PathMtu];
                    Search.OnTimer(NowUs);
                }
            }

            return sizes;
        }
    }

    [Fact]
    public void The_first_probe_is_the_ceiling_and_its_answer_ends_the_search_for_good()
    {
        var h = new Harness();
        h.Search.Start(Base, 65_507, h.NowUs);
        Assert.True(h.Search.IsSearching);
        Assert.Equal(Base, h.Search.Current);

        var sizes = h.Run(pathLimit: 65_507);

        Assert.Equal([65_507], sizes);
        Assert.Equal(65_507, h.Search.Current);
        Assert.False(h.Search.IsSearching);
        Assert.Equal(TouTime.Never, h.Timers[TimerKind.PathMtu]); // nothing larger is allowed: no search again
        Assert.Equal((1, 1, 0), (h.Stats.PathMtuProbesSent, h.Stats.PathMtuProbesAcknowledged, h.Stats.PathMtuProbesLost));
    }

    [Theory]
    [InlineData(1472)]
    [InlineData(1500)]
    [InlineData(9000)]
    [InlineData(4321)]
    [InlineData(65_506)]
    public void A_smaller_path_is_found_exactly_and_nothing_above_it_is_taken(int pathLimit)
    {
        var h = new Harness();
        h.Search.Start(Base, 65_507, h.NowUs);

        var sizes = h.Run(pathLimit);

        Assert.Equal(pathLimit, h.Search.Current);
        Assert.False(h.Search.IsSearching);
        Assert.All(sizes, s => Assert.InRange(s, Base + 1, 65_507));
        Assert.Equal(65_507, sizes[0]);
        int failedSizes = sizes.Where(s => s > pathLimit).Distinct().Count();
        Assert.Equal(failedSizes * PathMtuDiscovery.MaxProbes, sizes.Count(s => s > pathLimit)); // each failing size thrice
        Assert.True(sizes.Distinct().Count() <= 18, $"{sizes.Distinct().Count()} sizes probed: {string.Join(", ", sizes)}");
        Assert.Equal(h.Stats.PathMtuProbesSent, h.Stats.PathMtuProbesAcknowledged + h.Stats.PathMtuProbesLost);
    }

    [Fact]
    public void A_probe_lost_once_is_sent_again_at_the_same_size()
    {
        var h = new Harness();
        h.Search.Start(Base, 9000, h.NowUs);
        h.Search.OnProbeSent(9000, h.NowUs, TimeoutUs);
        Assert.Equal(0, h.Search.DueProbeSize); // one probe at a time
        Assert.Equal(h.NowUs + TimeoutUs, h.Timers[TimerKind.PathMtu]);

        h.NowUs += TimeoutUs;
        h.Search.OnTimer(h.NowUs);
        Assert.Equal(9000, h.Search.DueProbeSize);
        uint token = h.Search.OnProbeSent(9000, h.NowUs, TimeoutUs);
        Assert.False(h.Search.OnEcho(token + 1, h.NowUs)); // not its token
        Assert.True(h.Search.OnEcho(token, h.NowUs));
        Assert.Equal(9000, h.Search.Current);
        Assert.Equal(1, h.Stats.PathMtuProbesLost);
    }

    [Fact]
    public void A_late_answer_to_a_probe_given_up_changes_nothing()
    {
        var h = new Harness();
        h.Search.Start(Base, 9000, h.NowUs);
        uint token = h.Search.OnProbeSent(9000, h.NowUs, TimeoutUs);
        h.NowUs += TimeoutUs;
        h.Search.OnTimer(h.NowUs);
        Assert.False(h.Search.OnEcho(token, h.NowUs));
        Assert.Equal(Base, h.Search.Current);
    }

    [Fact]
    public void A_finished_search_below_the_ceiling_searches_again_after_the_raise_interval()
    {
        var h = new Harness();
        h.Search.Start(Base, 9000, h.NowUs);
        h.Run(pathLimit: 1500);
        Assert.Equal(1500, h.Search.Current);
        Assert.Equal(h.NowUs + PathMtuDiscovery.RaiseIntervalUs, h.Timers[TimerKind.PathMtu]);

        h.NowUs = h.Timers[TimerKind.PathMtu];
        h.Search.OnTimer(h.NowUs);
        Assert.True(h.Search.IsSearching);
        Assert.Equal(9000, h.Search.DueProbeSize); // the ceiling first again
        h.Run(pathLimit: 9000); // the path grew
        Assert.Equal(9000, h.Search.Current);
    }

    [Fact]
    public void A_probe_the_local_stack_refuses_is_lost_at_once_without_retries()
    {
        var h = new Harness();
        h.Search.Start(Base, 65_507, h.NowUs);
        h.Search.OnProbeSent(65_507, h.NowUs, TimeoutUs);
        Assert.False(h.Search.OnTooLarge(65_507, h.NowUs));

        Assert.Equal(TouTime.Never, h.Timers[TimerKind.PathMtu]);
        int next = h.Search.DueProbeSize;
        Assert.InRange(next, Base + 1, 65_506); // the upper end fell below the refused size at once
        Assert.Equal(1, h.Stats.PathMtuProbesLost);
        Assert.Equal(Base, h.Search.Current);
    }

    [Fact]
    public void Data_the_local_stack_refuses_falls_back_to_the_base()
    {
        var h = new Harness();
        h.Search.Start(Base, 9000, h.NowUs);
        h.Run(pathLimit: 9000);
        Assert.True(h.Search.OnTooLarge(9000, h.NowUs));
        Assert.Equal(Base, h.Search.Current);
        Assert.True(h.Search.IsSearching);
        Assert.InRange(h.Search.DueProbeSize, Base + 1, 8999);
        Assert.False(h.Search.OnTooLarge(1000, h.NowUs)); // below the minimum: nothing smaller to fall back to
    }

    [Fact]
    public void Two_timeouts_in_a_row_above_the_base_are_a_black_hole_and_the_search_resumes_below_it()
    {
        var h = new Harness();
        h.Search.Start(Base, 65_507, h.NowUs);
        h.Run(pathLimit: 65_507);

        Assert.False(h.Search.OnRetransmissionTimeout(1, h.NowUs));
        Assert.Equal(65_507, h.Search.Current);
        Assert.True(h.Search.OnRetransmissionTimeout(PathMtuDiscovery.BlackHoleTimeouts, h.NowUs));
        Assert.Equal(Base, h.Search.Current);
        Assert.Equal(1, h.Stats.PathMtuBlackHoles);

        var sizes = h.Run(pathLimit: 1472); // the path's MTU dropped
        Assert.All(sizes, s => Assert.True(s < 65_507));
        Assert.Equal(1472, h.Search.Current);
    }

    [Fact]
    public void At_the_base_a_black_hole_falls_to_the_minimum_and_the_search_finds_the_smaller_path()
    {
        var h = new Harness();
        h.Search.Start(Base, 65_507, h.NowUs);
        Assert.False(h.Search.OnRetransmissionTimeout(PathMtuDiscovery.BlackHoleTimeouts, h.NowUs)); // random loss can do that
        Assert.True(h.Search.OnRetransmissionTimeout(PathMtuDiscovery.BlackHoleTimeoutsAtBase, h.NowUs)); // even the base does not get through
        Assert.Equal(PathMtuDiscovery.MinimumSize, h.Search.Current);

        var sizes = h.Run(pathLimit: 1372); // e.g. a 1,400-byte tunnel on the way
        Assert.All(sizes, s => Assert.InRange(s, PathMtuDiscovery.MinimumSize + 1, Base - 1));
        Assert.Equal(1372, h.Search.Current);

        var floor = new Harness();
        floor.Search.Start(PathMtuDiscovery.MinimumSize, 65_507, floor.NowUs);
        Assert.False(floor.Search.OnRetransmissionTimeout(5, floor.NowUs)); // nothing below the minimum
        Assert.Equal(1, h.Stats.PathMtuBlackHoles);
        Assert.Equal(0, floor.Stats.PathMtuBlackHoles);
    }

    [Fact]
    public void Nothing_above_the_base_to_look_for_means_no_probe()
    {
        var h = new Harness();
        h.Search.Start(Base, 1200, h.NowUs); // the peer or the interface allows less than the base
        Assert.True(h.Search.IsEnabled);
        Assert.False(h.Search.IsSearching);
        Assert.Equal(0, h.Search.DueProbeSize);
        Assert.Equal(Base, h.Search.Current);
        Assert.Equal(TouTime.Never, h.Timers[TimerKind.PathMtu]);
    }

    [Fact]
    public void Never_started_it_is_off_and_owes_answers_all_the_same()
    {
        var h = new Harness();
        Assert.False(h.Search.IsEnabled);
        Assert.Equal(0, h.Search.DueProbeSize);
        Assert.False(h.Search.OnRetransmissionTimeout(10, h.NowUs));

        h.Search.OnProbeReceived(7);
        h.Search.OnProbeReceived(8); // the newest probe's token is echoed
        Assert.True(h.Search.EchoOwed);
        Assert.Equal(8u, h.Search.TakeEcho());
        Assert.False(h.Search.EchoOwed);
    }

    [Fact]
    public void Probe_and_echo_tlvs_round_trip_and_sit_in_the_option_block()
    {
        var probe = new byte[200];
        Array.Fill(probe, (byte)0xAA);
        PathMtuOptions.WriteProbe(probe, 0xDEADBEEF);
        Assert.True(Extensions.TrySplitOptions(probe, out var options, out var padding));
        Assert.True(PathMtuOptions.TryReadProbe(options, out uint token));
        Assert.Equal(0xDEADBEEFu, token);
        Assert.False(PathMtuOptions.TryReadEcho(options, out _));
        Assert.Equal(200 - PathMtuOptions.ProbeOptionsSize, padding.Length);
        Assert.All(padding.ToArray(), b => Assert.Equal(0, b));

        var echo = new byte[PathMtuOptions.TlvSize];
        PathMtuOptions.WriteEcho(echo, 42);
        Assert.True(PathMtuOptions.TryReadEcho(echo, out token));
        Assert.Equal(42u, token);
        Assert.False(PathMtuOptions.TryReadProbe([Extensions.TlvSack, 8, 0, 0, 0, 1, 0, 0, 0, 2, PathMtuOptions.TlvProbe, 3, 1, 2, 3], out _)); // wrong length
    }

    [Fact]
    public void The_offer_carries_pmtu_probes_and_both_sides_agree_on_it()
    {
        var buffer = new byte[Extensions.MaxOfferSize];
        var offer = AgreedOptions.Offer(new TouOptions());
        Assert.True(offer.PathMtuProbes);
        int n = Extensions.WriteOffer(buffer, offer with { Keys = new IntegrityKeys(1, 2), ConnectionId = 0x0102030405060708 });
        Assert.Equal(Extensions.MaxOfferSize, n);
        Assert.True(Extensions.ReadOffer(buffer.AsSpan(0, n)).PathMtuProbes);

        // Answering probes is not a setting: a side that does not discover still answers the other's probes.
        var quiet = new TouOptions { EnablePathMtuDiscovery = false };
        var server = AgreedOptions.ForServer(quiet, AgreedOptions.Offer(new TouOptions()), default);
        var client = AgreedOptions.ForClient(new TouOptions(), server.Agreed);
        Assert.True(server.Agreed.PathMtuProbes && client.Agreed.PathMtuProbes);

        var older = AgreedOptions.Offer(new TouOptions()) with { PathMtuProbes = false }; // a peer from before discovery
        Assert.False(AgreedOptions.ForServer(new TouOptions(), older, default).Agreed.PathMtuProbes);
        Assert.False(AgreedOptions.FromCookie(new TouOptions(), AgreedOptions.Accept(new TouOptions(), AgreedOptions.Offer(new TouOptions()))).Agreed.PathMtuProbes);
    }

    [Fact]
    public void Connections_start_at_the_initial_size_and_the_options_say_which_combinations_are_wrong()
    {
        var options = new TouOptions();
        Assert.Equal(65_507, options.MaxDatagramSize);
        Assert.Equal(1452, options.InitialDatagramSize);
        Assert.True(options.EnablePathMtuDiscovery);
        Assert.Equal(1427, AgreedOptions.SendMss(options, extended: true, peerMss: 65_482));
        Assert.Equal(65_507, AgreedOptions.PeerMaxDatagramSize(65_482));
        Assert.Equal(65_507, AgreedOptions.PeerMaxDatagramSize(uint.MaxValue));

        var tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => new TouOptions { MaxDatagramSize = 1200 }.Validate());
        Assert.Equal(nameof(TouOptions.InitialDatagramSize), tooLarge.ParamName);
        Assert.Contains("MaxDatagramSize (1200)", tooLarge.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TouOptions { InitialDatagramSize = 100 }.Validate());
        new TouOptions { MaxDatagramSize = 1200, InitialDatagramSize = 1200 }.Validate();
    }
}
