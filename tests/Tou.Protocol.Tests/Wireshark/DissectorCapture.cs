using System.Net;
using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wireshark;

/// <summary>
/// The capture build/check-dissector.sh decodes with tshark: the seed's test vectors (tou-wire.md), hand-made
/// extended packets (a SYN offering every option plus an unknown one, the SYN+ACK with the secret, a tagged ACK
/// with SACK blocks and ACK delay, a data packet with a wrong tag) and an engine exchange over
/// <see cref="EnginePair"/> (extended handshake, data with one loss, SACK, delayed ACKs, path MTU probes, FINs).
/// </summary>
internal static class DissectorCapture
{
    /// <summary>The seed's test vectors, whole datagrams, in the order of the exchange they come from.</summary>
    public static readonly (bool ToServer, string Hex)[] SeedVectors =
    [
        (true, "9c4013880001e24000000000081000000000000400"),
        (false, "13889c40000003090001e2410c1000000000000400"),
        (true, "9c4013880001e24100000309041000000000000400"),
        (true, "9c4013880001e2410000030900c350000e0000040048656c6c6f2c2053657276657221"),
        (false, "13889c40000003090001e24f04c342000000000400"),
        (true, "9c4013880001e24f00000317010064000000000400"),
        (false, "13889c40000000000000000002000a000000000400"),
    ];

    // Ports 50001/50002 are not in the dissector's port preference: these packets exercise the heuristic.
    private static readonly IPEndPoint HandClient = new(IPAddress.Parse("192.0.2.10"), 50001);
    private static readonly IPEndPoint HandServer = new(IPAddress.Parse("192.0.2.20"), 50002);
    private static readonly IPEndPoint HandIdClient = new(IPAddress.Parse("192.0.2.30"), 50003);
    private static readonly IPEndPoint HandIdServer = new(IPAddress.Parse("192.0.2.40"), 50004);
    private static readonly IPEndPoint SeedClient = new(IPAddress.Parse("192.0.2.1"), 40000);
    private static readonly IPEndPoint SeedServer = new(IPAddress.Parse("192.0.2.2"), 5000);
    private static readonly IPEndPoint EngineClient = new(IPAddress.Parse("10.0.0.1"), 40000);
    private static readonly IPEndPoint EngineServer = new(IPAddress.Parse("10.0.0.2"), 5000);

    public static List<CapturedDatagram> Build()
    {
        var capture = new List<CapturedDatagram>();
        long t = 1_000_000;
        foreach (var (toServer, hex) in SeedVectors)
        {
            capture.Add(Datagram(t += 1_000, toServer, SeedClient, SeedServer, Convert.FromHexString(hex)));
        }

        // The seed ignores bytes after the payload; the dissector shows them (here two after the DATA vector's payload).
        capture.Add(Datagram(t += 1_000, true, SeedClient, SeedServer, [.. Convert.FromHexString(SeedVectors[3].Hex), 0x0d, 0x0a]));
        foreach (var (toServer, bytes) in HandMade())
        {
            capture.Add(Datagram(t += 1_000, toServer, HandClient, HandServer, bytes));
        }

        foreach (var (toServer, bytes) in HandMadeWithIds())
        {
            capture.Add(Datagram(t += 1_000, toServer, HandIdClient, HandIdServer, bytes));
        }

        foreach (var packet in EngineExchange())
        {
            capture.Add(Datagram(t + packet.SentUs, packet.ToServer, EngineClient, EngineServer, packet.Datagram));
        }

        return capture;
    }

    private static CapturedDatagram Datagram(long timeUs, bool toServer, IPEndPoint client, IPEndPoint server, byte[] bytes) =>
        toServer ? new(timeUs, client, server, bytes) : new(timeUs, server, client, bytes);

    /// <summary>An extended handshake written with the codecs: ISNs near the 2^32 wrap, every offer option.</summary>
    private static IEnumerable<(bool ToServer, byte[] Bytes)> HandMade()
    {
        const uint clientIsn = 0xFFFF_FFF0, serverIsn = 0x0123_4567;
        var keys = new IntegrityKeys(0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908);
        var offer = new ExtensionSet { Extended = true, WindowShift = 7, Sack = true, Integrity = true, PathMtuProbes = true };

        // A TLV type no version defines, which receivers skip and the dissector shows as raw value.
        byte[] synPayload = [.. OfferBytes(offer), 42, 3, 0xab, 0xcd, 0xef];
        yield return (true, Packet(Header(50001, 50002, clientIsn, 0, TouFlags.Syn, 65_535, 65_482), synPayload, p => Extensions.AppendCrc(p, p.Length - 4)));

        byte[] synAckPayload = OfferBytes(offer with { WindowShift = 3, Keys = keys });
        yield return (false, Packet(Header(50002, 50001, serverIsn, clientIsn + 1, TouFlags.Syn | TouFlags.Ack, 65_535, 65_482), synAckPayload, p => Extensions.AppendCrc(p, p.Length - 4)));

        // Client to server: SACK blocks of server data (relative 100-200 and 300-400) and an ACK delay.
        byte[] block = new byte[1 + 2 + 16 + 6];
        block[0] = 18;
        block[1] = Extensions.TlvSack;
        block[2] = 16;
        uint[] edges = [serverIsn + 100, serverIsn + 200, serverIsn + 300, serverIsn + 400];
        for (int i = 0; i < 4; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(block.AsSpan(3 + (4 * i)), edges[i]);
        }

        Assert.Equal(block.Length, Extensions.AppendAckDelay(block, 19, 4_321));
        var clientKey = keys.ForSending(isClient: true);
        yield return (true, Packet(Header(50001, 50002, clientIsn + 1, serverIsn, TouFlags.Ack | TouFlags.Options, 512, 65_482), block, p => Extensions.AppendTag(p, p.Length - 4, clientKey)));

        // Server data whose tag is wrong (the client's key: a reflected packet), which the dissector must flag.
        byte[] data = "hi"u8.ToArray();
        yield return (false, Packet(Header(50002, 50001, serverIsn, clientIsn + 1, TouFlags.Ack, 1_024, 65_482), data, p => Extensions.AppendTag(p, p.Length - 4, clientKey)));
    }

    /// <summary>
    /// A handshake agreeing connection IDs (docs/protocol.md §5.7), then packets carrying the receiver's ID before the
    /// tag: the handshake's ACK, a path challenge and its response, and data whose tag is wrong (the other direction's key).
    /// </summary>
    private static IEnumerable<(bool ToServer, byte[] Bytes)> HandMadeWithIds()
    {
        const uint clientIsn = 0x1000_0000, serverIsn = 0x2000_0000;
        const ulong clientId = 0xE1C2_A3B4_0506_0708, serverId = 0x0012_3405_AABB_CCDD;
        var keys = new IntegrityKeys(0x1111_2222_3333_4444, 0x5555_6666_7777_8888);
        var offer = new ExtensionSet { Extended = true, WindowShift = 7, Sack = true, Integrity = true, PathMtuProbes = true, ConnectionId = clientId };
        yield return (true, Packet(Header(50003, 50004, clientIsn, 0, TouFlags.Syn, 65_535, 65_482), OfferBytes(offer), p => Extensions.AppendCrc(p, p.Length - 4)));
        yield return (false, Packet(Header(50004, 50003, serverIsn, clientIsn + 1, TouFlags.Syn | TouFlags.Ack, 65_535, 65_482), OfferBytes(offer with { Keys = keys, ConnectionId = serverId }), p => Extensions.AppendCrc(p, p.Length - 4)));

        var clientKey = keys.ForSending(isClient: true);
        var serverKey = keys.ForSending(isClient: false);
        yield return (true, PacketWithId(Header(50003, 50004, clientIsn + 1, serverIsn, TouFlags.Ack, 512, 65_482), [], serverId, clientKey));
        byte[] challenge = new byte[1 + ConnectionIdOptions.TlvSize];
        challenge[0] = ConnectionIdOptions.TlvSize;
        ConnectionIdOptions.WriteTlv(challenge.AsSpan(1), ConnectionIdOptions.TlvPathChallenge, 0x0102_0304_0506_0708);
        yield return (false, PacketWithId(Header(50004, 50003, serverIsn, clientIsn + 1, TouFlags.Ack | TouFlags.Options, 512, 65_482), challenge, clientId, serverKey));
        byte[] response = (byte[])challenge.Clone();
        response[1] = ConnectionIdOptions.TlvPathResponse;
        yield return (true, PacketWithId(Header(50003, 50004, clientIsn + 1, serverIsn, TouFlags.Ack | TouFlags.Options, 512, 65_482), response, serverId, clientKey));
        yield return (false, PacketWithId(Header(50004, 50003, serverIsn, clientIsn + 1, TouFlags.Ack, 512, 65_482), "ok"u8.ToArray(), clientId, clientKey));
    }

    /// <summary>Header, payload, the receiver's connection ID and the keyed tag over them.</summary>
    private static byte[] PacketWithId(TouHeader header, byte[] payload, ulong id, DirectionKey key)
    {
        var bytes = new byte[TouHeader.Size + payload.Length + ConnectionIdOptions.TrailerSize];
        header.PayloadLength = (ushort)payload.Length;
        header.Write(bytes);
        payload.CopyTo(bytes, TouHeader.Size);
        Assert.Equal(bytes.Length, ConnectionIdOptions.AppendIdAndTag(bytes, TouHeader.Size + payload.Length, id, key));
        return bytes;
    }

    private static byte[] OfferBytes(ExtensionSet offer)
    {
        var buffer = new byte[Extensions.MaxOfferSize];
        return buffer[..Extensions.WriteOffer(buffer, offer)];
    }

    private static TouHeader Header(ushort source, ushort destination, uint seq, uint ack, TouFlags flags, ushort window, uint mss) =>
        new() { SourcePort = source, DestinationPort = destination, SequenceNumber = seq, AcknowledgementNumber = ack, Flags = flags, Window = window, Mss = mss };

    /// <summary>Header, payload and a trailer the <paramref name="trailer"/> appends over the last 4 bytes.</summary>
    private static byte[] Packet(TouHeader header, byte[] payload, Func<byte[], int> trailer)
    {
        var bytes = new byte[TouHeader.Size + payload.Length + Extensions.TrailerSize];
        header.PayloadLength = (ushort)payload.Length;
        header.Write(bytes);
        payload.CopyTo(bytes, TouHeader.Size);
        Assert.Equal(bytes.Length, trailer(bytes));
        return bytes;
    }

    /// <summary>
    /// Client sends 12 KB, server answers 100 bytes, both close; the client's second data packet is lost once, so the
    /// server sends SACK blocks. Datagrams are capped at 3,000 bytes so path MTU probes stay small.
    /// </summary>
    private static List<WirePacket> EngineExchange()
    {
        var options = new TouOptions { MaxDatagramSize = 3_000 };
        using var pair = new EnginePair(options, new TouOptions { MaxDatagramSize = 3_000 });
        int clientData = 0;
        pair.Filter = p => !(p.ToServer && p.Header.PayloadLength > 0 && !p.Header.Has(TouFlags.Options) && !p.Header.Has(TouFlags.Syn) && ++clientData == 2);
        var (client, server) = pair.Establish();
        var clientApp = new StreamApp(client, StreamApp.RandomPayload(1, 12_000));
        var serverApp = new StreamApp(server, StreamApp.RandomPayload(2, 100));
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(clientApp.ExpectedHashOfSent, serverApp.ReceivedHash());
        return pair.Trace;
    }
}
