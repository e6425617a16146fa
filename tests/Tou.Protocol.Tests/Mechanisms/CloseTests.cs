using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public class CloseTests : MechanismTestBase
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Each_side_can_close_first_while_the_other_keeps_sending(bool clientClosesFirst)
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var first = clientClosesFirst ? client : server;
        var second = clientClosesFirst ? server : client;
        var firstApp = new StreamApp(first, StreamApp.RandomPayload(4, 1000));
        var secondApp = new StreamApp(second, StreamApp.RandomPayload(5, 500_000), closeWhenDone: false);
        pair.Application = () => { firstApp.Run(); secondApp.Run(); };

        // The first side has written and closed; the second sees the end of its input while it keeps sending.
        pair.RunUntil(() => secondApp.ReceiveCompleted);
        Assert.Equal(TouConnectionState.Established, second.State);
        Assert.Throws<InvalidOperationException>(() => first.Write(new byte[1]));
        pair.RunUntil(() => secondApp.DoneSending && second.UnacknowledgedBytes == 0);
        second.CloseSend();

        var clientApp = clientClosesFirst ? firstApp : secondApp;
        var serverApp = clientClosesFirst ? secondApp : firstApp;
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    [Fact]
    public void The_writer_learns_when_everything_it_wrote_was_acknowledged()
    {
        using var pair = new EnginePair();
        var (client, _) = pair.Establish();
        client.TakeEvents();
        client.Write(new byte[100_000]);
        Assert.Equal(100_000, client.UnacknowledgedBytes);
        bool acknowledged = false;
        pair.RunUntil(() => acknowledged |= client.TakeEvents().HasFlag(TouConnectionEvents.SendAcknowledged));
        Assert.Equal(0, client.UnacknowledgedBytes);
    }

    [Fact]
    public void Abort_resets_the_peer()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        client.Abort();
        Assert.Equal(TouCloseReason.Aborted, client.CloseReason);
        pair.RunUntil(() => server.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.ResetByPeer, server.CloseReason);
    }

    private static byte[] Rst(uint seq, uint ack) => Packet(TouFlags.Rst | TouFlags.Ack, seq, ack);

    private static byte[] Packet(TouFlags flags, uint seq, uint ack, int payload = 0)
    {
        var bytes = new byte[TouHeader.Size + payload];
        new TouHeader { SourcePort = 40000, DestinationPort = 5000, SequenceNumber = seq, AcknowledgementNumber = ack, Flags = flags, Window = 1000, PayloadLength = (ushort)payload, Mss = 1000 }.Write(bytes);
        return bytes;
    }

    private static (uint NextSeq, uint Ack) ClientState(EnginePair pair)
    {
        var last = pair.Trace.Last(p => p.ToServer && !p.Header.Has(TouFlags.Options)); // an option block (a probe's, a SACK) is not data
        return (last.Header.SequenceNumber + last.Header.PayloadLength, last.Header.AcknowledgementNumber);
    }

    [Fact]
    public void An_rst_in_the_window_but_not_at_its_edge_draws_a_challenge_ack_and_changes_nothing()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var (seq, ack) = ClientState(pair);
        pair.Inject(toServer: true, Rst(seq + 100, ack));
        pair.RunUntil(() => server.Stats.ChallengeAcks > 0);
        Assert.Equal(TouConnectionState.Established, server.State);

        pair.Inject(toServer: true, Rst(seq + 2_000_000_000, ack)); // far outside
        long dropped = server.Stats.PacketsDropped;
        pair.RunUntil(() => server.Stats.PacketsDropped > dropped);
        Assert.Equal(TouConnectionState.Established, server.State);

        var (clientApp, serverApp) = Apps(client, server, 100_000, 100_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    [Fact]
    public void An_rst_exactly_at_the_edge_resets()
    {
        using var pair = new EnginePair();
        var (_, server) = pair.Establish();
        var (seq, ack) = ClientState(pair);
        pair.Inject(toServer: true, Rst(seq, ack));
        pair.RunUntil(() => server.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.ResetByPeer, server.CloseReason);
    }

    [Fact]
    public void A_fin_outside_the_window_is_ignored()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var (seq, ack) = ClientState(pair);
        pair.Inject(toServer: true, Packet(TouFlags.Fin | TouFlags.Ack, seq + 1_000_000_000, ack));
        pair.RunUntil(() => server.Stats.PacketsDropped > 0);
        Assert.False(server.IsReadCompleted);
        var (clientApp, serverApp) = Apps(client, server, 10_000, 10_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    [Fact]
    public void A_silent_peer_ends_the_connection_after_the_idle_timeout()
    {
        var options = new TouOptions { IdleTimeout = TimeSpan.FromSeconds(3), KeepAliveInterval = TimeSpan.Zero };
        using var pair = new EnginePair(options, options);
        var (client, _) = pair.Establish();
        pair.Filter = _ => false;
        pair.RunUntil(() => client.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.IdleTimeout, client.CloseReason);
    }

    [Fact]
    public void Keepalives_keep_an_idle_connection_open()
    {
        var options = new TouOptions { IdleTimeout = TimeSpan.FromSeconds(5), KeepAliveInterval = TimeSpan.FromSeconds(1) };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        long end = pair.NowUs + 60_000_000;
        pair.RunUntil(() => pair.NowUs >= end);
        Assert.Equal(TouConnectionState.Established, client.State);
        Assert.Equal(TouConnectionState.Established, server.State);
        Assert.True(client.Stats.ProbesSent > 10);
    }
}
