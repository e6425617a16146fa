using System.Net;
using System.Net.Sockets;

namespace Tou.Transport.Tests;

/// <summary>The UDP batching on its own: what goes in comes out, datagram for datagram, in fewer system calls with GSO.</summary>
public class UdpDatagramSenderTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_datagram_arrives_intact_and_in_order_per_destination(bool useGso)
    {
        using var a = Receiver();
        using var b = Receiver();
        using var sending = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sending.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var toA = a.LocalEndPoint!.Serialize();
        var toB = b.LocalEndPoint!.Serialize();

        // Runs of equal sizes to one peer (batchable), a shorter one ending a run, interleaved peers, a lone large one.
        var random = new Random(7);
        var plan = new List<(SocketAddress To, byte[] Data)>();
        void Add(SocketAddress to, int size, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var data = new byte[size];
                random.NextBytes(data);
                plan.Add((to, data));
            }
        }

        Add(toA, 1200, 60);
        Add(toA, 300, 1);
        Add(toB, 1200, 10);
        Add(toA, 1200, 5);
        Add(toB, 800, 1);
        Add(toA, 1400, 1);
        Add(toB, 1200, 50);

        var errors = new List<SocketError>();
        var sender = new UdpDatagramSender(sending, useGso, datagramBufferSize: 2048, (_, e, _) => errors.Add(e.SocketErrorCode));
        sender.Flush(new ListSource(new Queue<(SocketAddress, byte[])>(plan)));

        Assert.Empty(errors);
        Assert.Equal(plan.Count, sender.DatagramsSent);
        if (useGso && sender.GsoEnabled)
        {
            Assert.True(sender.SendCalls < plan.Count / 4, $"{sender.SendCalls} system calls for {plan.Count} datagrams");
        }
        else
        {
            Assert.Equal(plan.Count, sender.SendCalls);
        }

        await ExpectAsync(a, plan.Where(p => p.To.Equals(toA)).Select(p => p.Data).ToList());
        await ExpectAsync(b, plan.Where(p => p.To.Equals(toB)).Select(p => p.Data).ToList());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Datagrams_up_to_64_KB_arrive_intact_and_a_batch_never_exceeds_64_KB(bool useGso)
    {
        using var receiver = Receiver();
        using var sending = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 4 * 1024 * 1024 };
        sending.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var to = receiver.LocalEndPoint!.Serialize();
        var random = new Random(11);
        var plan = new List<(SocketAddress To, byte[] Data)>();
        foreach (var (size, count) in new[] { (65_507, 3), (40_000, 2), (20_000, 4), (1452, 10), (65_000, 1) })
        {
            for (int i = 0; i < count; i++)
            {
                var data = new byte[size];
                random.NextBytes(data);
                plan.Add((to, data));
            }
        }

        var errors = new List<SocketError>();
        var sender = new UdpDatagramSender(sending, useGso, datagramBufferSize: 65_536, (_, e, _) => errors.Add(e.SocketErrorCode));
        sender.Flush(new ListSource(new Queue<(SocketAddress, byte[])>(plan)));

        Assert.Empty(errors); // two of the 40,000s or four of the 20,000s in one batch would be refused (over 64 KB)
        Assert.Equal(plan.Count, sender.DatagramsSent);
        Assert.True(sender.SendCalls >= 7, $"{sender.SendCalls} calls: datagrams over 32 KB go one per call");
        await ExpectAsync(receiver, plan.Select(p => p.Data).ToList());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_datagram_too_large_to_send_is_reported_with_its_length_and_the_others_still_leave(bool useGso)
    {
        using var receiver = Receiver();
        using var sending = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sending.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Equal(OperatingSystem.IsLinux(), PathMtuSocketOptions.TryEnable(sending));
        var to = receiver.LocalEndPoint!.Serialize();
        var small = new byte[1200];
        var plan = new List<(SocketAddress, byte[])> { (to, small), (to, small), (to, new byte[65_508]), (to, small) }; // 65,508: over IPv4's UDP limit

        var errors = new List<(SocketError Error, int Length)>();
        var sender = new UdpDatagramSender(sending, useGso, datagramBufferSize: 65_536, (_, e, length) => errors.Add((e.SocketErrorCode, length)));
        sender.Flush(new ListSource(new Queue<(SocketAddress, byte[])>(plan)));

        Assert.Equal([(SocketError.MessageSize, 65_508)], errors);
        await ExpectAsync(receiver, [small, small, small]);
    }

    [Fact]
    public void The_interface_limit_of_loopback_is_its_mtu_less_the_headers()
    {
        var v4 = PathMtuSocketOptions.DatagramLimit(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2).Serialize());
        var v6 = PathMtuSocketOptions.DatagramLimit(new IPEndPoint(IPAddress.IPv6Loopback, 1), new IPEndPoint(IPAddress.IPv6Loopback, 2).Serialize());
        var mapped = PathMtuSocketOptions.DatagramLimit(new IPEndPoint(IPAddress.IPv6Any, 1), new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 2).Serialize());
        Assert.InRange(v4, 16_384, 65_507); // 65,536 - 28, capped at 65,507 where loopback's MTU is 64 KiB
        Assert.InRange(v6, 16_384 - 20, 65_488);
        Assert.Equal(v4, mapped);
        Assert.True(v6 <= v4);
    }

    private static Socket Receiver()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 * 1024 * 1024 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static async Task ExpectAsync(Socket receiver, List<byte[]> expected)
    {
        var buffer = new byte[65_536];
        using var timeout = new CancellationTokenSource(Bound);
        foreach (var datagram in expected)
        {
            int n = await receiver.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(datagram), $"a datagram of {datagram.Length} bytes arrived as {n} different bytes");
        }
    }

    /// <summary>Writes the planned datagrams one by one, as the engine's transmit queue does.</summary>
    private readonly struct ListSource(Queue<(SocketAddress To, byte[] Data)> plan) : IDatagramSource
    {
        public int Next(Span<byte> buffer, out SocketAddress? destination)
        {
            if (!plan.TryDequeue(out var next))
            {
                destination = null;
                return 0;
            }

            next.Data.CopyTo(buffer);
            destination = next.To;
            return next.Data.Length;
        }
    }
}
