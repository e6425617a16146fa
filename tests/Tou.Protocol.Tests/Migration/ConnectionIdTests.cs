using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Migration;

/// <summary>
/// Connection IDs (docs/protocol.md §5.7): the negotiation (both sides must offer, with the integrity tag; plain peers,
/// peers without the option and SYN-cookie handshakes keep the 4-tuple), the ID-and-tag trailer, QUIC-LB style routable
/// IDs, and the options' validation.
/// </summary>
public class ConnectionIdTests
{
    private static TouOptions WithIds(uint isn) => new() { EnableConnectionIds = true, IsnGenerator = () => isn, EnablePathMtuDiscovery = false };

    [Fact]
    public void Both_sides_offering_agree_and_every_packet_after_the_syns_carries_the_receivers_id()
    {
        using var pair = new EnginePair(WithIds(0x1000), WithIds(0x2000));
        var (client, server) = pair.Establish();
        Assert.True(client.ConnectionIdsNegotiated);
        Assert.True(server.ConnectionIdsNegotiated);

        client.Write(StreamApp.RandomPayload(1, 50_000));
        server.Write(StreamApp.RandomPayload(2, 50_000));
        pair.RunUntil(() => client.ReadableBytes == 50_000 && server.ReadableBytes == 50_000);

        // The datagram size is unchanged: the ID takes 8 bytes from the data of each segment.
        Assert.Equal(1452, client.Stats.DatagramSize);
        foreach (var p in pair.Trace.Where(p => !p.Header.Has(TouFlags.Syn)))
        {
            var to = p.ToServer ? server : client;
            Assert.True(ConnectionIdOptions.TryReadId(p.Datagram, p.Header.PayloadLength, out ulong id), p.ToString());
            Assert.Equal(to.LocalConnectionId, id);
        }

        Assert.Contains(pair.Trace, p => p.Datagram.Length == 1452);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_side_without_the_option_keeps_the_four_byte_tag_and_the_four_tuple(bool clientIds, bool serverIds)
    {
        using var pair = new EnginePair(new TouOptions { EnableConnectionIds = clientIds, EnablePathMtuDiscovery = false }, new TouOptions { EnableConnectionIds = serverIds, EnablePathMtuDiscovery = false });
        var (client, server) = pair.Establish();
        client.Write(StreamApp.RandomPayload(3, 20_000));
        pair.RunUntil(() => server.ReadableBytes == 20_000);
        Assert.False(client.ConnectionIdsNegotiated);
        Assert.False(server.ConnectionIdsNegotiated);
        Assert.All(pair.Trace.Where(p => !p.Header.Has(TouFlags.Syn)), p => Assert.Equal(TouHeader.Size + p.Header.PayloadLength + Extensions.TrailerSize, p.Datagram.Length));
        Assert.Equal(1452, client.Stats.DatagramSize);
    }

    [Fact]
    public void A_plain_peer_is_unaffected()
    {
        using var pair = new EnginePair(new TouOptions { EnableExtensions = false }, new TouOptions { EnableConnectionIds = true });
        var (client, server) = pair.Establish();
        client.Write(StreamApp.RandomPayload(4, 20_000));
        pair.RunUntil(() => server.ReadableBytes == 20_000);
        Assert.False(server.ConnectionIdsNegotiated);
        Assert.False(server.ExtensionsNegotiated);
        Assert.All(pair.Trace.Where(p => !p.Header.Has(TouFlags.Syn)), p => Assert.Equal(TouHeader.Size + p.Header.PayloadLength, p.Datagram.Length));
    }

    [Fact]
    public void A_syn_cookie_handshake_goes_without_ids()
    {
        // The cookie has no room for the client's ID, so a stateless server does not accept the option.
        using var pair = new EnginePair(new TouOptions { EnableConnectionIds = true }, new TouOptions { EnableConnectionIds = true, MaxPendingHandshakes = 0 });
        var (client, server) = pair.Establish();
        Assert.True(server.FromCookie);
        Assert.False(client.ConnectionIdsNegotiated);
        Assert.False(server.ConnectionIdsNegotiated);
        client.Write(StreamApp.RandomPayload(5, 20_000));
        pair.RunUntil(() => server.ReadableBytes == 20_000);
    }

    [Fact]
    public void The_tag_covers_the_id()
    {
        var key = new DirectionKey(11, 22);
        var packet = new byte[TouHeader.Size + 3 + ConnectionIdOptions.TrailerSize];
        new TouHeader { SequenceNumber = 7, Flags = TouFlags.Ack, PayloadLength = 3 }.Write(packet);
        int length = ConnectionIdOptions.AppendIdAndTag(packet, TouHeader.Size + 3, 0xABCDEF0123456789, key);
        Assert.Equal(packet.Length, length);
        Assert.True(ConnectionIdOptions.VerifyIdAndTag(packet, 3, 0xABCDEF0123456789, key));
        Assert.False(ConnectionIdOptions.VerifyIdAndTag(packet, 3, 0xABCDEF0123456788, key));
        Assert.False(ConnectionIdOptions.VerifyIdAndTag(packet, 3, 0xABCDEF0123456789, new DirectionKey(11, 23)));

        // Another ID written in place of the right one, the tag left as it was: never verifies.
        var forged = (byte[])packet.Clone();
        forged[TouHeader.Size + 3 + 7] ^= 1;
        Assert.False(ConnectionIdOptions.VerifyIdAndTag(forged, 3, 0xABCDEF0123456788, key));
        Assert.False(Extensions.VerifyTag(packet, 3 + ConnectionIdOptions.IdSize, key)); // not a plain tag over the same bytes
    }

    [Theory]
    [InlineData(0, 0, null)]
    [InlineData(0x12, 1, null)]
    [InlineData(0xBEEF, 2, null)]
    [InlineData(0xABCDEF, 3, 16)]
    [InlineData(0x0102, 2, 32)]
    public void Server_chosen_ids_carry_the_server_id_and_the_shard_for_whoever_holds_the_settings(int serverId, int length, int? keySize)
    {
        var options = new TouOptions
        {
            EnableConnectionIds = true,
            ConnectionIdServerId = serverId,
            ConnectionIdServerIdLength = length,
            ConnectionIdKey = keySize is { } k ? Enumerable.Range(1, k).Select(i => (byte)i).ToArray() : null,
        };
        options.Validate();
        using var generator = new ConnectionIdGenerator(options);
        var ids = new HashSet<ulong>();
        for (byte shard = 0; shard < 40; shard++)
        {
            ulong id = generator.Create(shard);
            Assert.True(ids.Add(id));
            Assert.True(TouEndpoint.TryDecodeConnectionId(options, id, out int decodedServer, out byte decodedShard));
            Assert.Equal(serverId, decodedServer);
            Assert.Equal(shard, decodedShard);
        }

        if (keySize is not null)
        {
            // Under a key the routing bytes look random to anyone without it: the same server and shard give other bytes.
            var routing = Enumerable.Range(0, 20).Select(_ => (generator.Create(7) >> (8 * (6 - length))) & ((1UL << (8 * (length + 1))) - 1)).Distinct().Count();
            Assert.True(routing > 15, $"{routing} distinct routing fields of 20");
            var other = options.Clone();
            other.ConnectionIdKey = new byte[keySize.Value];
            Assert.True(TouEndpoint.TryDecodeConnectionId(other, generator.Create(7), out int wrongServer, out byte wrongShard));
            Assert.False(wrongServer == serverId && wrongShard == 7);
        }
    }

    [Fact]
    public void An_unroutable_id_decodes_to_nothing()
    {
        Assert.False(TouEndpoint.TryDecodeConnectionId(new TouOptions(), 0xE000_0000_0000_0001, out _, out _));
    }

    [Fact]
    public void An_endpoint_encodes_its_listener_shard_in_the_ids_it_chooses()
    {
        var options = new TouOptions { EnableConnectionIds = true, ConnectionIdServerId = 9, ConnectionIdServerIdLength = 1 };
        using var pair = new EnginePair(new TouOptions { EnableConnectionIds = true }, options);
        pair.Server.ListenerShard = 3;
        var (_, server) = pair.Establish();
        Assert.True(TouEndpoint.TryDecodeConnectionId(options, server.LocalConnectionId, out int serverId, out byte shard));
        Assert.Equal(9, serverId);
        Assert.Equal(3, shard);
    }

    [Theory]
    [InlineData(nameof(TouOptions.EnableConnectionIds), "needs EnableExtensions and EnableIntegrity")]
    [InlineData(nameof(TouOptions.ConnectionIdServerIdLength), "between 0 and 3")]
    [InlineData(nameof(TouOptions.ConnectionIdServerId), "fit in ConnectionIdServerIdLength (1) bytes")]
    [InlineData(nameof(TouOptions.ConnectionIdKey), "16, 24 or 32 bytes")]
    public void Invalid_settings_are_refused_with_a_clear_message(string setting, string message)
    {
        var options = setting switch
        {
            nameof(TouOptions.EnableConnectionIds) => new TouOptions { EnableConnectionIds = true, EnableIntegrity = false },
            nameof(TouOptions.ConnectionIdServerIdLength) => new TouOptions { ConnectionIdServerIdLength = 4 },
            nameof(TouOptions.ConnectionIdServerId) => new TouOptions { ConnectionIdServerId = 256, ConnectionIdServerIdLength = 1 },
            _ => new TouOptions { ConnectionIdKey = new byte[15] },
        };
        var ex = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Equal(setting, ex.ParamName);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void A_late_fin_of_a_closed_connection_with_ids_is_answered_from_the_recently_closed_record()
    {
        using var pair = new EnginePair(WithIds(0x1000), WithIds(0x2000));
        var (client, server) = pair.Establish();
        client.CloseSend();
        pair.RunUntil(() => client.IsWriteCompleted && server.IsReadCompleted);

        // The client's last ACKs are lost while it still holds the connection; the server's FIN then meets only its record.
        pair.Filter = p => !(p.ToServer && pair.Client.ConnectionCount > 0);
        server.CloseSend();
        pair.RunUntil(() => pair.Client.ConnectionCount == 0);
        pair.RunUntil(() => server.State == TouConnectionState.Closed, maxDurationUs: 30_000_000);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        Assert.True(pair.Client.Stats.LatePacketsAcknowledged >= 1);
        Assert.Equal(0, pair.Client.Stats.DroppedIntegrity);
    }
}
