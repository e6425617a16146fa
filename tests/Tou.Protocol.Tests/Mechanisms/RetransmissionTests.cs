using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public class RetransmissionTests : MechanismTestBase
{
    [Fact]
    public void The_retransmission_timer_backs_off_exponentially_and_recovers_when_the_path_returns()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 300_000, 0);
        bool blackout = true;
        uint? stuck = null;
        pair.Filter = p =>
        {
            if (p.ToServer && IsData(p) && blackout)
            {
                stuck ??= p.Header.SequenceNumber;
                return false;
            }

            return true;
        };
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => pair.Trace.Count(p => p.Header.SequenceNumber == stuck && p.ToServer && IsData(p)) >= 6);

        var times = pair.Trace.Where(p => p.ToServer && IsData(p) && p.Header.SequenceNumber == stuck).Select(p => p.SentUs).ToList();
        for (int i = 2; i < times.Count; i++)
        {
            long previous = times[i - 1] - times[i - 2], current = times[i] - times[i - 1];
            Assert.True(current >= previous * 18 / 10, $"interval {current} µs after {previous} µs is not a doubling");
        }

        Assert.True(client.Stats.RetransmissionTimeouts >= 5);
        blackout = false;
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    [Fact]
    public void A_connection_whose_data_never_gets_through_gives_up_after_MaxRetransmissions()
    {
        using var pair = new EnginePair(new TouOptions { MaxRetransmissions = 4, IdleTimeout = TimeSpan.FromHours(1) });
        var (client, server) = pair.Establish();
        pair.Filter = p => !p.ToServer;
        client.Write(new byte[10_000]);
        pair.RunUntil(() => client.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.RetransmissionTimeout, client.CloseReason);
        Assert.Equal(5, client.Stats.RetransmissionTimeouts); // four retries, the fifth expiry gives up
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Without_sack_one_lost_packet_is_fast_retransmitted_before_any_timeout(bool extensions)
    {
        // Counts data packets of the initial size: path MTU discovery off (EnginePair's link has no MTU, so it would reach 64 KB).
        var options = new TouOptions { EnableExtensions = extensions, EnableSack = false, EnablePathMtuDiscovery = false };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 200_000, 0);
        int dataSeen = 0;
        pair.Filter = p => !(p.ToServer && IsData(p) && ++dataSeen == 30);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.Equal(0, client.Stats.RetransmissionTimeouts);
        Assert.True(client.Stats.Retransmissions >= 1);
    }

    [Fact]
    public void Sack_repairs_several_holes_within_one_round_trip()
    {
        var options = new TouOptions { EnablePathMtuDiscovery = false }; // counts data packets of the initial size, as above
        using var pair = new EnginePair(options, options, oneWayDelayUs: 50_000);
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 2_000_000, 0);
        var lost = new List<uint>();
        int dataSeen = 0;
        pair.Filter = p =>
        {
            if (p.ToServer && IsData(p) && lost.Count < 4 && (++dataSeen is 60 or 64 or 68 or 72))
            {
                lost.Add(p.Header.SequenceNumber);
                return false;
            }

            return true;
        };
        CompleteAndVerify(pair, client, server, clientApp, serverApp);

        Assert.Equal(4, lost.Count);
        Assert.Equal(0, client.Stats.RetransmissionTimeouts);
        var repairs = lost.Select(seq => pair.Trace.Where(p => p.ToServer && IsData(p) && p.Header.SequenceNumber == seq).Select(p => p.SentUs).ToList()).ToList();
        Assert.All(repairs, r => Assert.Equal(2, r.Count)); // each hole was sent exactly twice
        long first = repairs.Min(r => r[1]), last = repairs.Max(r => r[1]);
        Assert.True(last - first <= 100_000, $"repairs spread over {last - first} µs, more than one RTT");
    }
}
