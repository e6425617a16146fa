using Tou.Protocol.Tests.Harness;
using Xunit.Abstractions;

namespace Tou.Protocol.Tests;

public class QuickSweepTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(1, 400).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_impairments(int seed)
    {
        var rng = new Random(seed);
        double loss = rng.NextDouble() * 0.3;
        double dup = rng.NextDouble() * 0.05;
        double reorder = rng.NextDouble() * 0.1;
        bool ext = rng.Next(4) != 0;
        bool sack = rng.Next(3) != 0;
        int size = (int)Math.Pow(10, 1 + (rng.NextDouble() * 5)); // 10 B .. 1 MB
        long delay = rng.Next(0, 100_000);
        var opts = new TouOptions { EnableExtensions = ext, EnableSack = sack, HandshakeTimeout = TimeSpan.FromSeconds(60), MaxRetransmissions = 30, MaxRto = TimeSpan.FromSeconds(10), IdleTimeout = TimeSpan.FromMinutes(10) };
        using var pair = new EnginePair(opts, opts, delay);
        EnginePair p = pair;
        pair.Filter = packet =>
        {
            if (rng.NextDouble() < loss) return false;
            if (rng.NextDouble() < dup) p.Inject(packet.ToServer, packet.Datagram, delay + rng.Next(0, 20_000));
            if (rng.NextDouble() < reorder) { p.Inject(packet.ToServer, packet.Datagram, delay + rng.Next(1_000, 30_000)); return false; }
            return true;
        };
        var client = pair.Connect();
        TouConnection? server = null;
        StreamApp? clientApp = null, serverApp = null;
        var clientPayload = StreamApp.RandomPayload(seed, size);
        var serverPayload = StreamApp.RandomPayload(seed + 1000, size / 3);
        pair.Application = () =>
        {
            server ??= pair.Server.Accept();
            if (server is not null) { serverApp ??= new StreamApp(server, serverPayload); serverApp.Run(); }
            if (client.State != TouConnectionState.Connecting) { clientApp ??= new StreamApp(client, clientPayload); clientApp.Run(); }
        };
        try
        {
            pair.RunUntil(() => clientApp is not null && serverApp is not null && client.State == TouConnectionState.Closed && server!.State == TouConnectionState.Closed
                && clientApp.ReceiveCompleted && serverApp.ReceiveCompleted, maxDurationUs: 3_600_000_000);
        }
        finally
        {
            foreach (var w in pair.Trace.TakeLast(25)) output.WriteLine($"{w.SentUs} {w}");
            output.WriteLine($"server rx {server?.Stats.PacketsReceived} dropped {server?.Stats.PacketsDropped} ep {pair.Server.Stats.DatagramsReceived} unknown {pair.Server.Stats.DroppedUnknownConnection}; client rx {client.Stats.PacketsReceived} ep {pair.Client.Stats.DatagramsReceived}");
            output.WriteLine($"seed {seed} loss {loss:P1} dup {dup:P1} reorder {reorder:P1} ext {ext} sack {sack} size {size} delay {delay}; t={(pair.NowUs - 1_000_000) / 1e6:F2}s client {client.State}/{client.CloseReason} server {server?.State}/{server?.CloseReason} rto {client.Stats.RetransmissionTimeouts} retx {client.Stats.Retransmissions}");
        }

        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server!.CloseReason);
        Assert.Equal(clientApp!.ExpectedHashOfSent, serverApp!.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
    }
}
