using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// The batched receive on its own: what was sent comes out byte for byte with its source, a queued burst in fewer
/// system calls than datagrams where the kernel batches, and no buffer is held between drains. Every datagram starts
/// with its index in the plan, so checks do not depend on the order loopback delivers in.
/// </summary>
public class UdpDatagramReceiverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Datagrams_of_varied_sizes_arrive_intact_with_their_sources(bool useRecvmmsg)
    {
        using var socket = BoundSocket();
        var receiver = new UdpDatagramReceiver(socket, useGro: false, datagramBufferSize: 2048, useRecvmmsg);
        using var a = BoundSocket();
        using var b = BoundSocket();
        var random = new Random(11);
        var plan = new List<(Socket From, byte[] Data)>();
        for (int i = 0; i < 300; i++)
        {
            int size = i switch { 0 => 4, 1 => 2048, _ => random.Next(4, 1500) };
            plan.Add((i % 3 == 0 ? b : a, Datagram(i, size, random)));
        }

        // All queued before the first receive, so a batching receiver takes several per call.
        foreach (var (from, data) in plan)
        {
            from.SendTo(data, socket.LocalEndPoint!);
        }

        var received = await ReceiveAsync(receiver, plan.Sum(p => p.Data.Length));

        Assert.Equal(plan.Count, received.Count);
        Check(received, plan.Select(p => (p.From.LocalEndPoint!.Serialize(), p.Data)).ToList());
        Assert.All(received, r => Assert.Equal(0, r.SegmentSize));
        Assert.Equal(plan.Count, receiver.DatagramsReceived);
        Assert.Equal(0, receiver.BuffersHeld);
        output.WriteLine($"{receiver.DatagramsReceived} datagrams in {receiver.ReceiveCalls} receive calls (batched: {receiver.Batched})");
        if (useRecvmmsg && OperatingSystem.IsLinux())
        {
            Assert.True(receiver.Batched);
            Assert.True(receiver.DatagramsReceived > receiver.ReceiveCalls, $"{receiver.DatagramsReceived} datagrams in {receiver.ReceiveCalls} calls");
        }
        else
        {
            Assert.False(receiver.Batched);
            Assert.True(receiver.ReceiveCalls >= receiver.DatagramsReceived);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Gso_bursts_come_out_datagram_by_datagram(bool useRecvmmsg)
    {
        using var socket = BoundSocket();
        var receiver = new UdpDatagramReceiver(socket, useGro: true, datagramBufferSize: 2048, useRecvmmsg);
        using var sending = BoundSocket();
        var to = socket.LocalEndPoint!.Serialize();

        // Full runs, runs ended by a shorter datagram, small equal ones (as acknowledgements go), lone ones.
        var random = new Random(5);
        var plan = new List<byte[]>();
        void Add(int size, int count)
        {
            for (int i = 0; i < count; i++)
            {
                plan.Add(Datagram(plan.Count, size, random));
            }
        }

        Add(1452, 44);
        Add(1452, 10);
        Add(600, 1);
        Add(60, 30);
        Add(1200, 25);
        Add(1400, 1);
        Add(1452, 70);

        var errors = new List<SocketError>();
        var sender = new UdpDatagramSender(sending, useGso: true, datagramBufferSize: 2048, (_, e, _) => errors.Add(e.SocketErrorCode));
        sender.Flush(new QueuedDatagrams(new Queue<byte[]>(plan), to));
        Assert.Empty(errors);

        var received = await ReceiveAsync(receiver, plan.Sum(p => p.Length));

        var source = sending.LocalEndPoint!.Serialize();
        Check(received, plan.Select(p => (source, p)).ToList());
        Assert.Equal(0, receiver.BuffersHeld);
        output.WriteLine($"GRO {receiver.GroEnabled}, GSO {sender.GsoEnabled}: {plan.Count} datagrams came as {received.Count} in {receiver.ReceiveCalls} receive calls");
        bool exact = useRecvmmsg && OperatingSystem.IsLinux();
        if (exact)
        {
            // The kernel's segment size split every coalesced buffer: one hand-over per datagram.
            Assert.Equal(plan.Count, received.Count);
            Assert.DoesNotContain(received, r => r.SegmentSize == UdpDatagramReceiver.UnknownSegmentSize);
            if (receiver.GroEnabled && sender.GsoEnabled)
            {
                Assert.Contains(received, r => r.SegmentSize == 1452);
                Assert.True(receiver.ReceiveCalls * 4 < plan.Count, $"{plan.Count} datagrams in {receiver.ReceiveCalls} receive calls");
            }
        }
        else if (receiver.GroEnabled)
        {
            Assert.All(received, r => Assert.Equal(UdpDatagramReceiver.UnknownSegmentSize, r.SegmentSize));
        }
    }

    [Fact]
    public async Task A_receiver_keeps_no_buffer_and_allocates_nothing_per_datagram()
    {
        using var socket = BoundSocket();

        // All an idle receiver holds is what its constructor allocated: no receive buffer, GRO or not.
        long beforeConstruction = GC.GetAllocatedBytesForCurrentThread();
        var receiver = new UdpDatagramReceiver(socket, useGro: true, datagramBufferSize: 2048);
        long constructed = GC.GetAllocatedBytesForCurrentThread() - beforeConstruction;
        output.WriteLine($"a receiver (GRO {receiver.GroEnabled}) holds {constructed} bytes");
        Assert.InRange(constructed, 1, 1024);
        Assert.Equal(0, receiver.BuffersHeld);

        using var sending = BoundSocket();
        const int count = 400;
        var datagram = new byte[1000];
        for (int i = 0; i < count; i++)
        {
            sending.SendTo(datagram, socket.LocalEndPoint!);
        }

        var counter = new Counter();
        long allocated = 0, measured = 0;
        using var timeout = new CancellationTokenSource(Bound);
        while (counter.Datagrams < count)
        {
            await receiver.WaitAsync(timeout.Token);
            Assert.Equal(0, receiver.BuffersHeld);

            // One datagram first, on this thread, so that what is measured next is the steady state.
            receiver.Drain(new CountingSink(counter), 1);
            long before = GC.GetAllocatedBytesForCurrentThread();
            int drained = receiver.Drain(new CountingSink(counter), count);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            measured += drained;
            Assert.Equal(0, receiver.BuffersHeld);
        }

        Assert.Equal(count, counter.Datagrams);
        output.WriteLine($"{allocated} bytes allocated draining {measured} datagrams (batched: {receiver.Batched})");
        if (receiver.Batched)
        {
            Assert.Equal(0, allocated);
        }
        else
        {
            // The portable path ends each drain with one WouldBlock exception, never an object per datagram.
            Assert.True(measured == 0 || allocated < measured * 24, $"{allocated} bytes for {measured} datagrams");
        }
    }

    private static Socket BoundSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 * 1024 * 1024 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>Random bytes after the datagram's index in the plan.</summary>
    private static byte[] Datagram(int index, int size, Random random)
    {
        var data = new byte[size];
        random.NextBytes(data);
        BinaryPrimitives.WriteInt32LittleEndian(data, index);
        return data;
    }

    /// <summary>Waits and drains until <paramref name="bytes"/> have come (bounded by <see cref="Bound"/>).</summary>
    private static async Task<List<Received>> ReceiveAsync(UdpDatagramReceiver receiver, int bytes)
    {
        var received = new List<Received>();
        using var timeout = new CancellationTokenSource(Bound);
        while (received.Sum(r => r.Data.Length) < bytes)
        {
            await receiver.WaitAsync(timeout.Token);
            receiver.Drain(new ListSink(received), 64);
        }

        return received;
    }

    /// <summary>
    /// Every planned datagram came once, intact, from its sender. A buffer of unknown segment size (GRO on the portable
    /// path) is cut with the plan's sizes, which is what the engine does with its headers.
    /// </summary>
    private static void Check(List<Received> received, List<(SocketAddress Source, byte[] Data)> plan)
    {
        var seen = new bool[plan.Count];
        foreach (var r in received)
        {
            for (int offset = 0; offset < r.Data.Length;)
            {
                int index = BinaryPrimitives.ReadInt32LittleEndian(r.Data.AsSpan(offset));
                Assert.InRange(index, 0, plan.Count - 1);
                Assert.False(seen[index], $"datagram {index} came twice");
                seen[index] = true;
                var (source, data) = plan[index];
                Assert.True(r.Data.AsSpan(offset, Math.Min(data.Length, r.Data.Length - offset)).SequenceEqual(data), $"datagram {index} of {data.Length} bytes came different");
                Assert.True(r.Source.AsSpan().SequenceEqual(source.Buffer.Span[..source.Size]), $"datagram {index} came from another source");
                offset += data.Length;
                Assert.True(offset == r.Data.Length || r.SegmentSize == UdpDatagramReceiver.UnknownSegmentSize, "several datagrams in one hand-over");
            }
        }

        Assert.True(seen.All(s => s), $"missing: {string.Join(", ", Enumerable.Range(0, seen.Length).Where(i => !seen[i]))}");
    }

    private sealed record Received(byte[] Data, byte[] Source, int SegmentSize);

    private sealed class Counter
    {
        public int Datagrams;
    }

    private readonly struct ListSink(List<Received> into) : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize) =>
            into.Add(new Received(datagram.ToArray(), source.Buffer.Span[..source.Size].ToArray(), segmentSize));
    }

    private readonly struct CountingSink(Counter counter) : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize) => counter.Datagrams++;
    }
}
