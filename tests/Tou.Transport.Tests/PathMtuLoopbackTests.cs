using System.Diagnostics;
using System.Net;
using Tou.Protocol;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// Path MTU discovery on real sockets: loopback carries 64 KB datagrams (its MTU is 65,536), so with discovery on a
/// connection's datagrams grow far beyond the initial 1,452 bytes, and with it off they stay there; either way both
/// directions at once arrive byte-exact.
/// dotnet test tests/Tou.Transport.Tests --filter FullyQualifiedName~PathMtuLoopback --logger "console;verbosity=detailed"
/// </summary>
public class PathMtuLoopbackTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_hundred_megabytes_each_way_at_once_arrive_byte_exact(bool discovery)
    {
        const long size = 100_000_000;
        var (client, server) = await TransferBothWaysAsync(IPAddress.Loopback, size, discovery);
        if (discovery)
        {
            Assert.True(client.DatagramSize > 16_384, $"the client sent datagrams of {client.DatagramSize} bytes");
            Assert.True(server.DatagramSize > 16_384, $"the server sent datagrams of {server.DatagramSize} bytes");
            Assert.True(client.Negotiation.PathMtuDiscovery && server.Negotiation.PathMtuDiscovery);
            Assert.True(client.Stats.PathMtuProbesAcknowledged >= 1 && server.Stats.PathMtuProbesAcknowledged >= 1);
        }
        else
        {
            Assert.Equal(1452, client.DatagramSize);
            Assert.Equal(1452, server.DatagramSize);
            Assert.False(client.Negotiation.PathMtuDiscovery || server.Negotiation.PathMtuDiscovery);
            Assert.Equal(0, client.Stats.PathMtuProbesSent + server.Stats.PathMtuProbesSent);
        }

        Assert.Equal(65_507, client.Negotiation.PeerMaxDatagramSize); // what each side announced it accepts
        Assert.Equal(65_507, server.Negotiation.PeerMaxDatagramSize);
        Assert.Equal(0, client.Stats.PathMtuBlackHoles + server.Stats.PathMtuBlackHoles);
    }

    [Fact]
    public async Task Over_IPv6_loopback_the_datagrams_stop_at_the_interface_limit()
    {
        // IPv6 loopback: a 65,536-byte MTU less 48 bytes of IPv6 and UDP headers is 65,488 (IPv4's is 65,507).
        var (client, server) = await TransferBothWaysAsync(IPAddress.IPv6Loopback, 10_000_000, discovery: true);
        Assert.InRange(client.DatagramSize, 16_385, 65_488);
        Assert.InRange(server.DatagramSize, 16_385, 65_488);
    }

    private async Task<(Side Client, Side Server)> TransferBothWaysAsync(IPAddress address, long size, bool discovery)
    {
        var options = new TouTransportOptions();
        options.Protocol.EnablePathMtuDiscovery = discovery;
        await using var serverEndpoint = TouSocketEndpoint.Bind(new IPEndPoint(address, 0), options, listen: true);
        await using var clientEndpoint = TouSocketEndpoint.Bind(new IPEndPoint(address, 0), options);
        using var deadline = new CancellationTokenSource(Bound);
        var accepting = serverEndpoint.AcceptAsync(deadline.Token).AsTask();
        var client = await clientEndpoint.ConnectAsync(serverEndpoint.LocalEndPoint, deadline.Token);
        var server = (await accepting)!;

        var stopwatch = Stopwatch.StartNew();
        using var up = new StreamCheck(seed: 101, size);
        using var down = new StreamCheck(seed: 202, size);
        var writes = Task.WhenAll(
            PatternPipes.WriteAsync(client.Transport.Output, 101, size, deadline.Token),
            PatternPipes.WriteAsync(server.Transport.Output, 202, size, deadline.Token));
        await Task.WhenAll(
            PatternPipes.ReadAsync(server.Transport.Input, up, null, deadline.Token),
            PatternPipes.ReadAsync(client.Transport.Input, down, null, deadline.Token));
        var sentHashes = await writes;
        double seconds = stopwatch.Elapsed.TotalSeconds;

        var sides = (Client: Side.Of(client), Server: Side.Of(server));
        output.WriteLine($"{address}, discovery {(discovery ? "on" : "off")}: {2 * size / 1e6:N0} MB in {seconds:0.00} s; upload {up}; download {down}");
        output.WriteLine($"client: {sides.Client}");
        output.WriteLine($"server: {sides.Server}");
        Assert.True(up.EndedCleanly && up.Length == size && up.WrongBytes == 0, $"upload: {up}");
        Assert.True(down.EndedCleanly && down.Length == size && down.WrongBytes == 0, $"download: {down}");
        Assert.Equal(sentHashes[0], up.Hash);
        Assert.Equal(sentHashes[1], down.Hash);

        await client.DisposeAsync();
        await server.DisposeAsync();
        return sides;
    }

    private sealed record Side(int DatagramSize, TouNegotiation Negotiation, TouConnectionStats Stats)
    {
        public static Side Of(TouSocketConnection connection) =>
            new(connection.ReadStats((s, _, _) => s.DatagramSize), connection.Negotiation, connection.ReadStats((s, _, _) => s));

        public override string ToString() =>
            $"datagrams of {DatagramSize} bytes (segments of {Negotiation.SendMss}), probes sent {Stats.PathMtuProbesSent}, " +
            $"acknowledged {Stats.PathMtuProbesAcknowledged}, lost {Stats.PathMtuProbesLost}; packets sent {Stats.PacketsSent:N0}, " +
            $"retransmissions {Stats.Retransmissions:N0}, RTOs {Stats.RetransmissionTimeouts}";
    }
}
