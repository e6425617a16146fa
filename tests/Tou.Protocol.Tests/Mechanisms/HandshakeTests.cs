using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public class HandshakeTests : MechanismTestBase
{
    [Theory]
    [InlineData((byte)TouFlags.Syn)]
    [InlineData((byte)(TouFlags.Syn | TouFlags.Ack))]
    [InlineData((byte)TouFlags.Ack)]
    public void Losing_any_handshake_packet_once_still_connects(byte lostFlags) // TouFlags is internal; a public test method takes its byte
    {
        var lost = (TouFlags)lostFlags;
        using var pair = new EnginePair();
        bool dropped = false;
        pair.Filter = p =>
        {
            bool isTarget = lost == TouFlags.Ack
                ? p.ToServer && p.Header.Flags == TouFlags.Ack && p.Header.PayloadLength == 0 && p.Index < 4
                : p.Header.Flags == lost;
            if (isTarget && !dropped)
            {
                dropped = true;
                return false;
            }

            return true;
        };
        var (client, server) = pair.Establish();
        Assert.True(dropped);
        var (clientApp, serverApp) = Apps(client, server, 50_000, 30_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        if (lost != TouFlags.Ack)
        {
            Assert.Equal(2, pair.Trace.Count(p => p.Header.Flags == lost)); // sent again after the loss
        }
    }

    [Fact]
    public void Syn_retransmissions_back_off_and_the_connect_fails_after_the_handshake_timeout()
    {
        using var pair = new EnginePair(new TouOptions { HandshakeTimeout = TimeSpan.FromSeconds(20) });
        pair.Filter = p => p.Header.Flags != TouFlags.Syn;
        var client = pair.Connect();
        pair.RunUntil(() => client.State == TouConnectionState.Closed);

        Assert.Equal(TouCloseReason.HandshakeTimeout, client.CloseReason);
        var times = pair.Trace.Where(p => p.Header.Flags == TouFlags.Syn).Select(p => p.SentUs).ToList();
        Assert.True(times.Count >= 4);
        for (int i = 2; i < times.Count; i++)
        {
            Assert.Equal(2 * (times[i - 1] - times[i - 2]), times[i] - times[i - 1]); // 1 s, 2 s, 4 s, 8 s
        }
    }

    [Fact]
    public void A_port_unreachable_report_refuses_a_connect_under_way_and_leaves_an_established_connection_alone()
    {
        using var pair = new EnginePair(new TouOptions { HandshakeTimeout = TimeSpan.FromSeconds(20) });
        pair.Filter = p => p.Header.Flags != TouFlags.Syn; // nothing answers: as a closed port, short of the ICMP report
        var connecting = pair.Connect();
        pair.RunUntil(() => pair.Trace.Any(p => p.Header.Flags == TouFlags.Syn));

        Assert.True(connecting.HandlePortUnreachable());
        Assert.Equal(TouConnectionState.Closed, connecting.State);
        Assert.Equal(TouCloseReason.Refused, connecting.CloseReason);
        int synsBefore = pair.Trace.Count(p => p.Header.Flags == TouFlags.Syn);
        for (int step = 0; step < 1_000 && pair.Step(); step++)
        {
        }

        Assert.Equal(synsBefore, pair.Trace.Count(p => p.Header.Flags == TouFlags.Syn)); // no SYN retried after the refusal

        using var established = new EnginePair();
        var (client, server) = established.Establish();
        Assert.False(client.HandlePortUnreachable());
        Assert.False(server.HandlePortUnreachable());
        Assert.Equal(TouConnectionState.Established, client.State);
        var (clientApp, serverApp) = Apps(client, server, 20_000, 20_000);
        CompleteAndVerify(established, client, server, clientApp, serverApp);
    }

    [Fact]
    public void A_client_that_restarted_on_the_same_address_clears_the_half_open_connection_and_reconnects()
    {
        using var pair = new EnginePair();
        var (_, oldServerSide) = pair.Establish();
        pair.RestartClient(); // the old client endpoint is simply gone

        var client = pair.Connect();
        TouConnection? server = null;
        pair.RunUntil(() => client.State == TouConnectionState.Established && (server ??= pair.Server.Accept()) is not null);

        Assert.Equal(TouCloseReason.ResetByPeer, oldServerSide.CloseReason);
        Assert.Contains(pair.Trace, p => p.ToServer && p.Header.Flags == TouFlags.Rst); // the half-open reset
        var (clientApp, serverApp) = Apps(client, server!, 20_000, 20_000);
        CompleteAndVerify(pair, client, server!, clientApp, serverApp);
    }

    [Fact]
    public void Connecting_to_an_endpoint_that_does_not_listen_is_refused()
    {
        using var pair = new EnginePair();
        pair.Server.IsListening = false;
        var client = pair.Connect();
        pair.RunUntil(() => client.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.Refused, client.CloseReason);
        Assert.True(pair.NowUs < 2_000_000, "refusal is immediate, not a timeout");
    }

    [Theory]
    [InlineData(true, true, true)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    public void Extensions_are_used_only_when_both_sides_offer_them(bool clientExt, bool serverExt, bool expected)
    {
        using var pair = new EnginePair(new TouOptions { EnableExtensions = clientExt }, new TouOptions { EnableExtensions = serverExt });
        var (client, server) = pair.Establish();
        Assert.Equal(expected, client.ExtensionsNegotiated);
        Assert.Equal(expected, server.ExtensionsNegotiated);
        Assert.Equal(expected, client.SackNegotiated);
        var (clientApp, serverApp) = Apps(client, server, 200_000, 100_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    [Fact]
    public void Without_window_scaling_on_one_side_a_megabyte_still_moves()
    {
        using var pair = new EnginePair(new TouOptions { EnableWindowScaling = false }, new TouOptions());
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 1_000_000, 1_000_000);
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        long maxInFlight = 0;
        pair.Application += () => maxInFlight = Math.Max(maxInFlight, Math.Max(client.BytesInFlight, server.BytesInFlight));
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.True(maxInFlight <= ushort.MaxValue, $"in flight {maxInFlight} exceeds the unscaled window");
    }
}
