using System.Net;
using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Security;

public class StatelessHandshakeTests
{
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void A_stateless_handshake_negotiates_the_same_and_moves_data_byte_exact(bool extensions, bool checksum)
    {
        var client = new TouOptions { EnableExtensions = extensions, EnableIntegrity = checksum };
        var server = new TouOptions { EnableExtensions = extensions, EnableIntegrity = checksum, MaxPendingHandshakes = 0 };
        using var pair = new EnginePair(client, server, oneWayDelayUs: 20_000);
        var (c, s) = pair.Establish();
        Assert.Equal(1, pair.Server.Stats.SynCookiesAccepted);
        Assert.Equal(extensions, s.ExtensionsNegotiated);
        Assert.Equal(extensions, s.SackNegotiated);
        Assert.Equal(checksum, s.IntegrityNegotiated);

        var clientApp = new StreamApp(c, StreamApp.RandomPayload(1, 2_000_000));
        var serverApp = new StreamApp(s, StreamApp.RandomPayload(2, 2_000_000));
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => clientApp.ReceiveCompleted && serverApp.ReceiveCompleted && c.State == TouConnectionState.Closed && s.State == TouConnectionState.Closed);
        Assert.Equal(clientApp.ExpectedHashOfSent, serverApp.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
        Assert.Equal(TouCloseReason.Graceful, s.CloseReason);
    }

    [Fact]
    public void When_the_handshake_ack_is_lost_the_first_data_carries_the_cookie()
    {
        using var pair = new EnginePair(new TouOptions(), new TouOptions { MaxPendingHandshakes = 0 });
        bool dropped = false;
        pair.Filter = p => !(p.ToServer && p.Header.Flags == TouFlags.Ack && p.Header.PayloadLength == 0 && !dropped && (dropped = true));
        var client = pair.Connect();
        pair.RunUntil(() => client.State == TouConnectionState.Established);
        client.Write(new byte[5000]);
        TouConnection? server = null;
        pair.RunUntil(() => (server ??= pair.Server.Accept()) is not null && server!.ReadableBytes == 5000);
        Assert.True(dropped);
    }

    [Fact]
    public void A_forged_ack_with_a_wrong_cookie_creates_nothing_and_draws_an_rst()
    {
        using var pair = new EnginePair(new TouOptions(), new TouOptions { MaxPendingHandshakes = 0 });
        var forged = new byte[TouHeader.Size];
        new TouHeader { SourcePort = 40000, DestinationPort = 5000, SequenceNumber = 1001, AcknowledgementNumber = 0xDEADBEEF, Flags = TouFlags.Ack, Window = 100, Mss = 1000 }.Write(forged);
        pair.Inject(toServer: true, forged);
        pair.RunUntil(() => pair.Server.Stats.DatagramsReceived == 1);
        Assert.Equal(0, pair.Server.ConnectionCount);
        Assert.Equal(0, pair.Server.Stats.SynCookiesAccepted);
        Assert.Equal(1, pair.Server.Stats.DroppedUnknownConnection);
    }

    /// <summary>
    /// Tens of thousands of SYNs from spoofed addresses while a legitimate client moves data: the listener
    /// keeps state for at most MaxPendingHandshakes of them, answers the rest with cookies, sends no address
    /// more than three times what it sent, and the legitimate transfer completes byte-exact.
    /// </summary>
    [Fact]
    public void A_syn_flood_from_spoofed_addresses_does_not_stop_a_legitimate_client()
    {
        const int floodSyns = 30_000;
        var serverOptions = new TouOptions { MaxPendingHandshakes = 256 };
        var network = new SimulatedNetwork(seed: 11);
        var clientAddress = SimulatedNetwork.Address("10.0.0.1", 40000);
        var serverAddress = SimulatedNetwork.Address("10.0.0.2", 5000);
        using var clientEndpoint = new TouEndpoint(new TouOptions()) { LocalPort = 40000 };
        using var serverEndpoint = new TouEndpoint(serverOptions) { LocalPort = 5000, IsListening = true };
        network.AddNode(clientAddress, clientEndpoint);
        network.AddNode(serverAddress, serverEndpoint);
        network.SetPath(clientAddress, serverAddress, LinkProfile.Path(TimeSpan.FromMilliseconds(20)));

        // Every spoofed source sends one SYN (with an extension offer, as a real client would), spread over 3 s.
        var received = new Dictionary<SocketAddress, long>();
        var sent = new Dictionary<SocketAddress, long>();
        var rng = new Random(5);
        var syn = new byte[TouHeader.Size + Extensions.MaxOfferSize];
        int offer = Extensions.WriteOffer(syn.AsSpan(TouHeader.Size), new ExtensionSet { Extended = true, Sack = true, WindowShift = 7 });
        for (int i = 0; i < floodSyns; i++)
        {
            var source = new IPEndPoint(new IPAddress([10, (byte)(1 + (i >> 16)), (byte)(i >> 8), (byte)i]), 1000 + (i % 50000)).Serialize();
            new TouHeader { SourcePort = 1, DestinationPort = 5000, SequenceNumber = (uint)rng.Next(), Flags = TouFlags.Syn, Window = 65535, PayloadLength = (ushort)offer, Mss = 1400 }.Write(syn);
            network.Inject(source, serverAddress, syn.AsSpan(0, TouHeader.Size + offer), network.NowUs + (i * 100L));
            sent[source] = TouHeader.Size + offer;
        }

        network.Observer = (from, to, datagram) =>
        {
            if (from.Equals(serverAddress) && sent.ContainsKey(to))
            {
                received[to] = received.GetValueOrDefault(to) + datagram.Length;
            }
        };

        int maxConnections = 0;
        network.BeforeStep = () => maxConnections = Math.Max(maxConnections, serverEndpoint.ConnectionCount);

        // Meanwhile, a legitimate client: 2 MB each way, byte-exact, clean close.
        long floodEnd = network.NowUs + (floodSyns * 100L);
        network.RunFor(1_000_000); // the flood is on: 10,000 SYNs in, the handshake table long full
        var client = clientEndpoint.Connect(network.NowUs, serverAddress);
        TouConnection? server = null;
        StreamApp? clientApp = null, serverApp = null;
        network.BeforeStep += () =>
        {
            server ??= serverEndpoint.Accept();
            if (client.State != TouConnectionState.Connecting) { clientApp ??= new StreamApp(client, StreamApp.RandomPayload(1, 2_000_000)); clientApp.Run(); }
            if (server is not null) { serverApp ??= new StreamApp(server, StreamApp.RandomPayload(2, 2_000_000)); serverApp.Run(); }
        };
        network.RunUntil(() => clientApp is not null && serverApp is not null && clientApp.ReceiveCompleted && serverApp.ReceiveCompleted
            && client.State == TouConnectionState.Closed && network.NowUs > floodEnd, maxDurationUs: 120_000_000);

        Assert.Equal(clientApp!.ExpectedHashOfSent, serverApp!.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);

        // Bounded state: never more than the handshake table plus the legitimate connection.
        Assert.True(maxConnections <= serverOptions.MaxPendingHandshakes + 1, $"{maxConnections} connections held");
        Assert.True(serverEndpoint.Stats.SynCookiesSent > floodSyns / 2, $"{serverEndpoint.Stats.SynCookiesSent} cookies, {serverEndpoint.Stats.DatagramsReceived} datagrams in, {serverEndpoint.Stats.ResetsSuppressed} suppressed");

        // Let the stateful half-open ones time out, then check amplification: ≤ 3× what each address sent.
        network.RunFor(30_000_000);
        foreach (var (address, bytes) in received)
        {
            Assert.True(bytes <= 3 * sent[address], $"{bytes} bytes sent to an address that sent {sent[address]}");
        }

        Assert.True(serverEndpoint.ConnectionCount <= 1);
    }
}
