using System.Net;
using System.Text;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Seed;

/// <summary>
/// Replays the exchange between two seed peers recorded in tou-wire.md against the engine, packet by
/// packet, in both roles: the seed's packets go in, and what the engine answers must be what the seed
/// would have answered (flags, seq, ack, payload; windows differ by design). Where the engine
/// deliberately differs (its FIN carries the true sequence number, not the seed's stale one), the
/// replayed seed packet answers the engine's packet by the seed's own rule (ack = FIN seq + 1).
/// </summary>
public class SeedExchangeReplayTests
{
    private static readonly SocketAddress Peer = new IPEndPoint(IPAddress.Loopback, 40000).Serialize();
    private readonly byte[] _buffer = new byte[65_536];
    private long _now = 1_000_000;

    private static byte[] Packet(TouFlags flags, uint seq, uint ack, ushort window, string payload = "")
    {
        var data = Encoding.ASCII.GetBytes(payload);
        var bytes = new byte[TouHeader.Size + data.Length];
        new TouHeader
        {
            SourcePort = 5000, DestinationPort = 40000, SequenceNumber = seq, AcknowledgementNumber = ack,
            Flags = flags, Window = window, PayloadLength = (ushort)data.Length, Mss = 1024,
        }.Write(bytes);
        data.CopyTo(bytes, TouHeader.Size);
        return bytes;
    }

    private List<(TouHeader Header, byte[] Payload)> Drain(TouEndpoint endpoint)
    {
        var sent = new List<(TouHeader, byte[])>();
        int n;
        while ((n = endpoint.PollTransmit(_now, _buffer, out _)) > 0)
        {
            Assert.True(TouHeader.TryRead(_buffer.AsSpan(0, n), out var h));
            sent.Add((h, _buffer.AsSpan(TouHeader.Size, h.PayloadLength).ToArray()));
        }

        return sent;
    }

    private (TouHeader Header, byte[] Payload) Single(TouEndpoint endpoint)
    {
        var sent = Drain(endpoint);
        Assert.True(sent.Count == 1, $"Expected one packet, got: {string.Join(" | ", sent.Select(p => p.Item1.ToString()))}");
        return sent[0];
    }

    private static void AssertPacket((TouHeader Header, byte[] Payload) actual, TouFlags flags, uint seq, uint ack, string payload = "")
    {
        Assert.Equal(flags, actual.Header.Flags);
        Assert.Equal(seq, actual.Header.SequenceNumber);
        Assert.Equal(ack, actual.Header.AcknowledgementNumber);
        Assert.Equal(payload, Encoding.ASCII.GetString(actual.Payload));
    }

    private static string ReadAll(TouConnection c)
    {
        var buffer = new byte[1024];
        int n = c.Read(buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public void Engine_as_server_answers_a_seed_client_as_the_seed_server_did()
    {
        var options = new TouOptions { IsnGenerator = () => 236877 };
        using var server = new TouEndpoint(options) { IsListening = true, LocalPort = 5000 };

        // C->S S seq=772805 ack=0 win=4096
        server.HandleDatagram(_now, Peer, Packet(TouFlags.Syn, 772805, 0, 4096));
        var synAck = Single(server);
        AssertPacket(synAck, TouFlags.Syn | TouFlags.Ack, 236877, 772806);
        Assert.Equal(0, synAck.Header.PayloadLength); // a plain SYN gets a plain SYN+ACK

        // C->S A seq=772806 ack=236877
        server.HandleDatagram(_now, Peer, Packet(TouFlags.Ack, 772806, 236877, 4096));
        var connection = server.Accept();
        Assert.NotNull(connection);
        Assert.Equal(TouConnectionState.Established, connection.State);
        Assert.False(connection.ExtensionsNegotiated);
        Assert.Empty(Drain(server)); // nothing to say yet

        // S->C - seq=236877 ack=772806 len=14 "Hello, Client!"
        connection.Write("Hello, Client!"u8);
        AssertPacket(Single(server), TouFlags.None, 236877, 772806, "Hello, Client!");

        // C->S - seq=772806 ack=236877 len=14 "Hello, Server!"  =>  S->C A seq=236877 ack=772820
        server.HandleDatagram(_now, Peer, Packet(TouFlags.None, 772806, 236877, 50000, "Hello, Server!"));
        AssertPacket(Single(server), TouFlags.Ack, 236877, 772820);
        Assert.Equal("Hello, Server!", ReadAll(connection));

        // C->S A seq=772806 ack=236891: our data is acknowledged.
        server.HandleDatagram(_now, Peer, Packet(TouFlags.Ack, 772806, 236891, 49986));
        Assert.Equal(0, connection.UnacknowledgedBytes);

        // C->S F seq=772806 (stale) ack=236877 (stale)  =>  S->C A seq=236877 ack=772807
        server.HandleDatagram(_now, Peer, Packet(TouFlags.Fin, 772806, 236877, 100));
        AssertPacket(Single(server), TouFlags.Ack, 236877, 772807);
        Assert.True(connection.IsReadCompleted);
        Assert.Equal(TouConnectionState.Established, connection.State); // half-closed: we may still send

        // S->C F: the engine's FIN carries its true sequence number (236891), not the seed's stale 236877.
        connection.CloseSend();
        AssertPacket(Single(server), TouFlags.Fin, 236891, 772820);

        // The seed client acknowledges a FIN with its seq + 1.
        server.HandleDatagram(_now, Peer, Packet(TouFlags.Ack, 772806, 236892, 50000));
        Assert.Equal(TouConnectionState.Closed, connection.State);
        Assert.Equal(TouCloseReason.Graceful, connection.CloseReason);
        Assert.Equal(0, connection.Stats.PacketsDropped);
    }

    [Fact]
    public void Engine_as_client_talks_to_a_seed_server_as_the_seed_client_did()
    {
        var options = new TouOptions { IsnGenerator = () => 772805 };
        using var client = new TouEndpoint(options) { LocalPort = 40000 };
        var connection = client.Connect(_now, Peer);

        // C->S S seq=772805 ack=0 (its payload offers the extensions; the seed ignores SYN payloads)
        var syn = Single(client);
        Assert.Equal(TouFlags.Syn, syn.Header.Flags);
        Assert.Equal(772805u, syn.Header.SequenceNumber);
        Assert.Equal(0u, syn.Header.AcknowledgementNumber);

        // S->C SA seq=236877 ack=772806 win=4096 (no payload: a plain peer)  =>  C->S A seq=772806 ack=236877
        client.HandleDatagram(_now, Peer, Packet(TouFlags.Syn | TouFlags.Ack, 236877, 772806, 4096));
        Assert.Equal(TouConnectionState.Established, connection.State);
        Assert.False(connection.ExtensionsNegotiated);
        AssertPacket(Single(client), TouFlags.Ack, 772806, 236877);

        // C->S - seq=772806 ack=236877 len=14 "Hello, Server!"
        connection.Write("Hello, Server!"u8);
        AssertPacket(Single(client), TouFlags.None, 772806, 236877, "Hello, Server!");

        // S->C - seq=236877 ack=772806 "Hello, Client!"  =>  C->S A seq=772806 ack=236891
        client.HandleDatagram(_now, Peer, Packet(TouFlags.None, 236877, 772806, 50000, "Hello, Client!"));
        AssertPacket(Single(client), TouFlags.Ack, 772806, 236891);
        Assert.Equal("Hello, Client!", ReadAll(connection));

        // S->C A seq=236877 ack=772820
        client.HandleDatagram(_now, Peer, Packet(TouFlags.Ack, 236877, 772820, 49986));
        Assert.Equal(0, connection.UnacknowledgedBytes);

        // C->S F with the true sequence number; the seed server acknowledges FIN seq + 1.
        connection.CloseSend();
        AssertPacket(Single(client), TouFlags.Fin, 772820, 236891);
        client.HandleDatagram(_now, Peer, Packet(TouFlags.Ack, 236877, 772821, 50000));
        Assert.True(connection.IsWriteCompleted);

        // S->C F seq=236877 (stale) ack=772806 (stale)  =>  C->S A seq=772806 ack=236878, exactly as recorded.
        client.HandleDatagram(_now, Peer, Packet(TouFlags.Fin, 236877, 772806, 100));
        AssertPacket(Single(client), TouFlags.Ack, 772806, 236878);
        Assert.Equal(TouConnectionState.Closed, connection.State);
        Assert.Equal(TouCloseReason.Graceful, connection.CloseReason);
        Assert.Equal(0, connection.Stats.PacketsDropped);
    }
}
