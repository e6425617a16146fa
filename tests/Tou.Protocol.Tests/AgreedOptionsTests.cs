using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests;

/// <summary>The handshake's agreement and what derives from it, without a connection.</summary>
public class AgreedOptionsTests
{
    private static readonly IntegrityKeys Keys = new(0x0123_4567_89AB_CDEF, 0x1122_3344_5566_7788);

    [Fact]
    public void Both_sides_reach_the_same_agreement_with_mirrored_shifts()
    {
        var client = new TouOptions { ReceiveBufferSize = 1 << 20 };
        var server = new TouOptions { ReceiveBufferSize = 1 << 24 };
        var offer = AgreedOptions.Offer(client);
        var serverSide = AgreedOptions.ForServer(server, offer, Keys);
        var answer = serverSide.Agreed; // what the SYN+ACK carries
        var clientSide = AgreedOptions.ForClient(client, answer);

        Assert.True(clientSide.Agreed.Extended && clientSide.Agreed.Sack && clientSide.Agreed.Integrity);
        Assert.Equal(Keys, clientSide.Agreed.Keys);
        Assert.Equal(5, AgreedOptions.LocalWindowShift(client));  // 1 MiB >> 4 is 65,536, one too many for 16 bits
        Assert.Equal(9, AgreedOptions.LocalWindowShift(server));  // 16 MiB >> 9
        Assert.Equal((5, 9), (serverSide.SendShift, serverSide.ReceiveShift));
        Assert.Equal((9, 5), (clientSide.SendShift, clientSide.ReceiveShift));
    }

    [Theory]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    [InlineData(true, true, false)]
    public void A_feature_either_side_turned_off_is_off_for_both(bool sack, bool integrity, bool scaling)
    {
        var client = new TouOptions();
        var server = new TouOptions { EnableSack = sack, EnableIntegrity = integrity, EnableWindowScaling = scaling };
        var serverSide = AgreedOptions.ForServer(server, AgreedOptions.Offer(client), Keys);
        var clientSide = AgreedOptions.ForClient(client, serverSide.Agreed);

        foreach (var side in new[] { serverSide, clientSide })
        {
            Assert.True(side.Agreed.Extended);
            Assert.Equal(sack, side.Agreed.Sack);
            Assert.Equal(integrity, side.Agreed.Integrity);
            Assert.Equal(scaling, side.Agreed.WindowShift >= 0);
            Assert.Equal(scaling ? 7 : 0, side.SendShift); // 4 MiB buffers: shift 7 each way
        }
    }

    [Fact]
    public void A_plain_peer_gets_nothing_and_the_seeds_segment_limit()
    {
        var server = AgreedOptions.ForServer(new TouOptions(), ExtensionSet.Plain, Keys);
        Assert.Equal(AgreedOptions.Plain, server);
        Assert.Equal(1024 - TouHeader.Size, AgreedOptions.SendMss(new TouOptions(), server.Agreed.Extended, peerMss: 1024));

        var client = AgreedOptions.ForClient(new TouOptions { EnableExtensions = false }, AgreedOptions.Accept(new TouOptions(), AgreedOptions.Offer(new TouOptions())));
        Assert.False(client.Agreed.Extended);
    }

    [Fact]
    public void An_integrity_answer_without_keys_is_not_an_agreement()
    {
        var answer = AgreedOptions.Accept(new TouOptions(), AgreedOptions.Offer(new TouOptions())); // Accept alone carries no keys
        Assert.True(answer.Integrity);
        Assert.False(AgreedOptions.ForClient(new TouOptions(), answer).Agreed.Integrity);
    }

    [Fact]
    public void A_cookie_restores_the_servers_own_shift_and_keeps_the_clients()
    {
        var cookie = new ExtensionSet { Extended = true, Sack = true, Integrity = true, WindowShift = 3, Keys = Keys };
        var restored = AgreedOptions.FromCookie(new TouOptions(), cookie);
        Assert.Equal((3, 7), (restored.SendShift, restored.ReceiveShift));
        Assert.Equal(7, restored.Agreed.WindowShift);
        Assert.Equal(Keys, restored.Agreed.Keys);
    }

    [Fact]
    public void The_segment_size_is_the_smallest_limit_and_never_tiny()
    {
        // Starting at 9,000 bytes (path MTU discovery starts from InitialDatagramSize, 1,452 unless set).
        var options = new TouOptions { MaxDatagramSize = 9000, InitialDatagramSize = 9000 };
        var extended = AgreedOptions.ForServer(options, AgreedOptions.Offer(options), Keys);
        Assert.Equal(9000 - TouHeader.Size - Extensions.TrailerSize, AgreedOptions.LocalMaxPayload(options));
        Assert.Equal(1427, AgreedOptions.SendMss(options, extended.Agreed.Extended, peerMss: 1427));
        Assert.Equal(8975, AgreedOptions.SendMss(options, extended.Agreed.Extended, peerMss: 60_000));
        Assert.Equal(64, AgreedOptions.SendMss(options, extended.Agreed.Extended, peerMss: 10));
        Assert.Equal(ushort.MaxValue, AgreedOptions.HandshakeWindow(new TouOptions()));
        Assert.Equal(TouHeader.Size + Extensions.MaxOfferSize + Extensions.TrailerSize, AgreedOptions.SynAckSize(extended.Agreed));
    }
}
