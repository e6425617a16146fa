using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests;

/// <summary>A path that flips bytes: with the negotiated CRC32C no wrong byte reaches the application.</summary>
public class CorruptionTests
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(1, 40).Select(i => new object[] { i });

    private static void Corrupt(Random rng, byte[] datagram)
    {
        int flips = rng.Next(1, 4);
        for (int i = 0; i < flips; i++)
        {
            datagram[rng.Next(datagram.Length)] ^= (byte)rng.Next(1, 256);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void With_checksum_a_corrupting_path_delivers_byte_exact(int seed)
    {
        var rng = new Random(seed);
        double corruptRate = 0.02 + (rng.NextDouble() * 0.1);
        var options = new TouOptions { EnableIntegrity = true, MaxRto = TimeSpan.FromSeconds(5), IdleTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(1) };
        using var pair = new EnginePair(options, options, oneWayDelayUs: rng.Next(1_000, 50_000));
        long corrupted = 0;
        pair.Filter = packet =>
        {
            if (rng.NextDouble() < corruptRate)
            {
                Corrupt(rng, packet.Datagram); // the delivered copy is the same array
                corrupted++;
            }

            return true;
        };

        var client = pair.Connect();
        TouConnection? server = null;
        StreamApp? clientApp = null, serverApp = null;
        var clientPayload = StreamApp.RandomPayload(seed, rng.Next(1, 400_000));
        var serverPayload = StreamApp.RandomPayload(seed + 1, rng.Next(1, 400_000));
        pair.Application = () =>
        {
            server ??= pair.Server.Accept();
            if (server is not null) { serverApp ??= new StreamApp(server, serverPayload); serverApp.Run(); }
            if (client.State != TouConnectionState.Connecting) { clientApp ??= new StreamApp(client, clientPayload); clientApp.Run(); }
        };
        pair.RunUntil(() => clientApp is not null && serverApp is not null && clientApp.ReceiveCompleted && serverApp.ReceiveCompleted
            && client.State == TouConnectionState.Closed && server!.State == TouConnectionState.Closed, maxDurationUs: 3_600_000_000);

        Assert.True(client.IntegrityNegotiated);
        Assert.True(server!.IntegrityNegotiated);
        Assert.True(corrupted > 0);
        Assert.Equal(clientApp!.ExpectedHashOfSent, serverApp!.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        long checksumDrops = client.Stats.PacketsDropped + server.Stats.PacketsDropped + pair.Server.Stats.DroppedIntegrity
            + pair.Server.Stats.DroppedMalformed + pair.Client.Stats.DroppedMalformed + pair.Server.Stats.DroppedUnknownConnection + pair.Client.Stats.DroppedUnknownConnection;
        Assert.True(checksumDrops > 0, "corrupted packets must have been dropped somewhere");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Without_checksum_corruption_never_throws_and_the_connection_ends(int seed)
    {
        var rng = new Random(seed);
        var options = new TouOptions { MaxRto = TimeSpan.FromSeconds(2), IdleTimeout = TimeSpan.FromSeconds(30), MaxRetransmissions = 8 };
        using var pair = new EnginePair(options, options, oneWayDelayUs: 5_000);
        pair.Filter = packet =>
        {
            if (rng.NextDouble() < 0.2)
            {
                Corrupt(rng, packet.Datagram);
            }

            return true;
        };

        var client = pair.Connect();
        TouConnection? server = null;
        StreamApp? clientApp = null, serverApp = null;
        pair.Application = () =>
        {
            server ??= pair.Server.Accept();
            if (server is not null) { serverApp ??= new StreamApp(server, StreamApp.RandomPayload(seed, 200_000)); serverApp.Run(); }
            if (client.State != TouConnectionState.Connecting) { clientApp ??= new StreamApp(client, StreamApp.RandomPayload(seed + 1, 200_000)); clientApp.Run(); }
        };

        // Whatever the flipped bytes do, the engine neither throws nor hangs: both ends reach Closed.
        pair.RunUntil(() => client.State == TouConnectionState.Closed && (server is null || server.State == TouConnectionState.Closed), maxDurationUs: 3_600_000_000);
        Assert.NotEqual(TouCloseReason.None, client.CloseReason);
    }
}
