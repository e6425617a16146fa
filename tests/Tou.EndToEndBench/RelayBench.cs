using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Relay;
using Tou.Simulation;
using Tou.Transport;

namespace Tou.EndToEndBench;

/// <summary>The impairment relay's own figures: forwarding capacity, release timing, rate accuracy.</summary>
internal static class RelayBench
{
    private const int DatagramSize = 1452;

    /// <summary>What one blast through the relay measured at the receiving socket, and the relay's own accounting of it.</summary>
    public readonly record struct BlastResult(double DeliveredMbps, double ScheduledMbps, double ReleasedMbps, double ReleaseP50Us, double ReleaseP99Us, long Received, long Forwarded)
    {
        /// <summary>Datagrams the blaster sent (the relay's socket may have dropped some before the relay saw them).</summary>
        public long Sent { get; init; }
    }

    /// <summary>
    /// Blasts 1,452-byte datagrams (GSO batches, paced to <paramref name="offeredMbps"/>, 0 = as fast as the sender goes)
    /// through a relay with <paramref name="profile"/> one way, to a socket that drains with recvmmsg and GRO.
    /// </summary>
    public static async Task<BlastResult> BlastAsync(LinkProfile profile, double offeredMbps, TimeSpan duration)
    {
        using var sink = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20 };
        sink.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), (IPEndPoint)sink.LocalEndPoint!, profile, LinkProfile.Perfect);
        using var source = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 4 << 20 };
        source.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var counter = new SinkCounter();
        var receiving = Task.Run(() => ReceiveAsync(sink, counter, stop.Token));
        long sent = 0;
        var sending = new Thread(() => sent = Blast(source, relay.LocalEndPoint.Serialize(), offeredMbps, stop.Token)) { IsBackground = true };
        sending.Start();
        await Task.Delay(duration);
        stop.Cancel();
        sending.Join();
        await Task.Delay(200 + (int)profile.Delay.TotalMilliseconds); // what the relay still holds arrives
        sink.Dispose();
        await receiving;
        var up = relay.ClientToServer;
        return new BlastResult(counter.Mbps, up.ScheduledBitsPerSecond / 1e6, up.ReleasedBitsPerSecond / 1e6,
            up.ReleaseError(0.5).TotalMicroseconds, up.ReleaseError(0.99).TotalMicroseconds, up.Received, up.Forwarded) { Sent = sent };
    }

    private static long Blast(Socket socket, SocketAddress to, double offeredMbps, CancellationToken token)
    {
        var sender = new UdpDatagramSender(socket, useGso: true, DatagramSize, static (_, _, _) => { });
        long sentBytes = 0;
        var clock = Stopwatch.StartNew();
        while (!token.IsCancellationRequested)
        {
            if (offeredMbps > 0 && sentBytes * 8 / 1e6 > offeredMbps * clock.Elapsed.TotalSeconds)
            {
                Thread.Sleep(1);
                continue;
            }

            sender.Flush(new BlastSource(to, 32));
            sentBytes += 32 * DatagramSize;
        }

        return sender.DatagramsSent;
    }

    private static async Task ReceiveAsync(Socket socket, SinkCounter counter, CancellationToken token)
    {
        var receiver = new UdpDatagramReceiver(socket, useGro: true, 65_536);
        try
        {
            while (true)
            {
                await receiver.WaitAsync(CancellationToken.None);
                receiver.Drain(new CountingSink(counter), 1024);
            }
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>Bytes the sink received, and when the first and last came (rate over that span, after the first datagram).</summary>
    private sealed class SinkCounter
    {
        public long First { get; set; }

        public long Last { get; set; }

        public long BytesAfterFirst { get; set; }

        public double Mbps => Last > First ? BytesAfterFirst * 8 / ((Last - First) / (double)Stopwatch.Frequency) / 1e6 : 0;
    }

    private readonly struct CountingSink(SinkCounter counter) : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize)
        {
            long now = Stopwatch.GetTimestamp();
            if (counter.First == 0)
            {
                counter.First = now;
            }
            else
            {
                counter.BytesAfterFirst += datagram.Length;
            }

            counter.Last = now;
        }
    }

    private struct BlastSource(SocketAddress to, int count) : IDatagramSource
    {
        private int _left = count;

        public int Next(Span<byte> buffer, out SocketAddress? destination)
        {
            destination = to;
            if (_left-- <= 0)
            {
                return 0;
            }

            buffer[0] = (byte)_left;
            return DatagramSize;
        }
    }
}
