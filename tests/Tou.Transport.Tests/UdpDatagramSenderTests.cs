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
        var sender = new UdpDatagramSender(sending, useGso, datagramBufferSize: 2048, (_, e) => errors.Add(e.SocketErrorCode));
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
