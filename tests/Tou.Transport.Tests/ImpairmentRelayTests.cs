using System.Net;
using System.Net.Sockets;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Transport.Tests;

/// <summary>
/// The impairment relay's own behaviour on real sockets: datagram boundaries and bytes kept through its batched I/O
/// (GRO-coalesced input split per datagram, GSO output), and the rate limiter checked against the relay's own accounting.
/// </summary>
public class ImpairmentRelayTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Without_impairment_every_datagram_arrives_byte_exact_and_in_order_both_ways()
    {
        using var server = UdpSocket();
        using var client = UdpSocket();
        var unlimited = new LinkProfile { MaxDatagramSize = 0 };
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), (IPEndPoint)server.LocalEndPoint!, unlimited, unlimited);

        // GSO batches from the client (the relay's socket receives them coalesced), odd sizes, one over a 1,500-byte MTU.
        var random = new Random(5);
        byte[] Datagram(int size)
        {
            var data = new byte[size];
            random.NextBytes(data);
            return data;
        }

        var groups = new List<List<byte[]>>
        {
            Enumerable.Range(0, 40).Select(_ => Datagram(1200)).ToList(),
            new() { Datagram(300) },
            Enumerable.Range(0, 10).Select(_ => Datagram(1452)).Append(Datagram(100)).ToList(),
            new() { Datagram(9000) },
            Enumerable.Range(0, 30).Select(_ => Datagram(1000)).ToList(),
            Enumerable.Range(1, 50).Select(Datagram).ToList(),
        };
        int total = groups.Sum(g => g.Count);
        using var timeout = new CancellationTokenSource(Bound);
        var echo = Task.Run(async () =>
        {
            // The server checks each datagram in order and sends it back the way it came.
            var buffer = new byte[65_536];
            foreach (var expected in groups.SelectMany(g => g))
            {
                var r = await server.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
                Assert.True(buffer.AsSpan(0, r.ReceivedBytes).SequenceEqual(expected), $"{expected.Length} bytes sent, {r.ReceivedBytes} different bytes arrived");
                await server.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, timeout.Token);
            }
        });

        var sender = new UdpDatagramSender(client, useGso: true, datagramBufferSize: 65_536, (_, e, _) => Assert.Fail(e.Message));
        var back = new byte[65_536];
        foreach (var group in groups)
        {
            // One group at a time, its echoes awaited before the next: nothing overflows a socket buffer on a loaded machine.
            sender.Flush(new QueuedDatagrams(new Queue<byte[]>(group), relay.LocalEndPoint.Serialize()));
            foreach (var expected in group)
            {
                int n = await client.ReceiveAsync(back, SocketFlags.None, timeout.Token);
                Assert.True(back.AsSpan(0, n).SequenceEqual(expected), $"{expected.Length} bytes echoed, {n} different bytes came back");
            }
        }

        await echo;
        long bytes = groups.Sum(g => g.Sum(d => (long)d.Length));
        foreach (var direction in new[] { relay.ClientToServer, relay.ServerToClient })
        {
            Assert.Equal(total, direction.Received);
            Assert.Equal(total, direction.Forwarded);
            Assert.Equal(bytes, direction.ForwardedBytes);
        }
    }

    [Fact]
    public async Task The_rate_limit_schedules_deliveries_at_the_configured_rate_within_5_percent()
    {
        using var server = UdpSocket();
        using var client = UdpSocket();
        const long rate = 2_000_000;
        var limited = new LinkProfile { RateBitsPerSecond = rate, QueueLimitBytes = 1 << 20, Delay = TimeSpan.FromMilliseconds(5) };
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), (IPEndPoint)server.LocalEndPoint!, limited, LinkProfile.Perfect);

        // Three GSO bursts of 44 × 1,400 bytes, each about 250 ms on the link: the later ones are queued long before the
        // first has left, so the link never idles and its schedule must add up to the configured rate.
        const int bursts = 3, perBurst = 44, size = 1400;
        var sender = new UdpDatagramSender(client, useGso: true, datagramBufferSize: 2048, (_, e, _) => Assert.Fail(e.Message));
        for (int b = 0; b < bursts; b++)
        {
            sender.Flush(new QueuedDatagrams(new Queue<byte[]>(Enumerable.Range(0, perBurst).Select(_ => new byte[size])), relay.LocalEndPoint.Serialize()));
        }

        using var timeout = new CancellationTokenSource(Bound);
        var buffer = new byte[2048];
        for (int i = 0; i < bursts * perBurst; i++)
        {
            Assert.Equal(size, await server.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));
        }

        var up = relay.ClientToServer;
        Assert.Equal(0, up.QueueDrops);
        Assert.Equal(bursts * perBurst, up.Forwarded);
        Assert.Equal(bursts * perBurst * size, up.ForwardedBytes);
        Assert.InRange(up.ScheduledBitsPerSecond, rate * 0.95, rate * 1.05);
        Assert.True(up.ReleaseError(0.5) >= TimeSpan.Zero && up.ReleaseError(0.5) <= up.ReleaseError(1.0));
    }

    [Theory]
    [InlineData(1_000_000_000L, 1452)]
    [InlineData(100_000_000L, 1452)]
    [InlineData(10_000_000_000L, 100)]
    public void The_link_model_serialises_at_the_configured_rate_whatever_a_datagram_takes_in_microseconds(long rate, int size)
    {
        // 1,452 bytes at 1 Gbit/s take 11.6 µs, 100 bytes at 10 Gbit/s 0.08 µs: whole microseconds would be 5% or 12x off.
        var stats = new ImpairmentStats();
        var link = new ImpairedLink(new LinkProfile { RateBitsPerSecond = rate, QueueLimitBytes = int.MaxValue, MaxDatagramSize = 0 }, new Random(1), stats);
        Span<long> arrivals = stackalloc long[2];
        var datagram = new byte[size];
        long first = 0, last = 0;
        const int count = 10_000;
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(1, link.Admit(0, datagram, arrivals));
            (first, last) = (i == 0 ? arrivals[0] : first, arrivals[0]);
        }

        double bitsPerSecond = (count - 1) * size * 8e6 / (last - first);
        Assert.InRange(bitsPerSecond, rate * 0.99, rate * 1.01);
    }

    private static Socket UdpSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20, SendBufferSize = 4 << 20 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }
}
