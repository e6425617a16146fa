using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Relay;
using Tou.Simulation;
using Tou.Transport;

namespace Tou.EndToEndBench;

/// <summary>One stream, one direction, 64 KiB writes, the same application code over TOU pipes and TCP.</summary>
internal static class Bulk
{
    private static readonly byte[] Chunk = CreateChunk();

    private static byte[] CreateChunk()
    {
        var chunk = new byte[64 * 1024];
        new Random(1).NextBytes(chunk);
        return chunk;
    }

    /// <summary>What one bulk run measured: goodput and the process's CPU time per gigabyte moved (both ends run in this process).</summary>
    public readonly record struct Result(double Gbps, double CpuSecondsPerGb)
    {
        /// <summary>Datagrams per send system call on the sending socket (TOU only).</summary>
        public double DatagramsPerSendCall { get; init; }

        /// <summary>Datagrams per receive system call on the receiving socket (TOU only).</summary>
        public double DatagramsPerReceiveCall { get; init; }

        /// <summary>Times a thread found a lock taken and had to wait, per megabyte moved (the whole process: the
        /// endpoint's lock between the receive loop and the application's writes shows up here).</summary>
        public double LockContentionsPerMb { get; init; }

        /// <summary>Pure ACKs the receiver sent per data segment it received (TOU only).</summary>
        public double AcksPerDataSegment { get; init; }
    }

    /// <param name="download">Server → client (the server writes); otherwise client → server.</param>
    /// <param name="integrity">The keyed integrity trailer (on by default); off measures what it costs.</param>
    /// <param name="pathMtuDiscovery">Discovery on (the default: 64 KB datagrams on loopback) or every datagram at the initial 1,452 bytes.</param>
    public static async Task<Result> TouAsync(long bytes, bool download = false, bool integrity = true, bool pathMtuDiscovery = true)
    {
        var options = new TouTransportOptions
        {
            Protocol = new Tou.Protocol.TouOptions { EnableIntegrity = integrity, EnablePathMtuDiscovery = pathMtuDiscovery },
        };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        var accept = server.AcceptAsync().AsTask();
        var clientConnection = await client.ConnectAsync(server.LocalEndPoint);
        var serverConnection = (await accept)!;
        var (sender, receiver) = download ? (serverConnection, clientConnection) : (clientConnection, serverConnection);
        var (sendingSocket, receivingSocket) = download ? (server, client) : (client, server);
        long sendCalls = sendingSocket.Sender.SendCalls, sent = sendingSocket.Sender.DatagramsSent;
        long receiveCalls = receivingSocket.Receiver.ReceiveCalls, receivedDatagrams = receivingSocket.Receiver.DatagramsReceived;
        var meter = Measure.Start();
        var sending = Task.Run(async () =>
        {
            for (long sent = 0; sent < bytes; sent += Chunk.Length)
            {
                await sender.Transport.Output.WriteAsync(Chunk);
            }

            await sender.Transport.Output.CompleteAsync();
        });
        long received = 0;
        while (true)
        {
            var r = await receiver.Transport.Input.ReadAsync();
            received += r.Buffer.Length;
            receiver.Transport.Input.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                break;
            }
        }

        var result = meter.Stop(received);
        await sending;
        var (acks, dataSegments) = receiver.ReadStats(static (s, _, _) => (s.AcksSent, s.DataPacketsReceived));
        result = result with
        {
            DatagramsPerSendCall = (double)(sendingSocket.Sender.DatagramsSent - sent) / Math.Max(1, sendingSocket.Sender.SendCalls - sendCalls),
            DatagramsPerReceiveCall = (double)(receivingSocket.Receiver.DatagramsReceived - receivedDatagrams) / Math.Max(1, receivingSocket.Receiver.ReceiveCalls - receiveCalls),
            AcksPerDataSegment = (double)acks / Math.Max(1, dataSegments),
        };
        await sender.DisposeAsync();
        await receiver.DisposeAsync();
        return result;
    }

    /// <param name="download">Server → client (the accepted socket writes); otherwise client → server.</param>
    public static async Task<Result> TcpAsync(long bytes, bool download = false)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await accept;
        var (sender, receiver) = download ? (server, client) : (client, server);
        var meter = Measure.Start();
        var sending = Task.Run(async () =>
        {
            for (long sent = 0; sent < bytes; sent += Chunk.Length)
            {
                await sender.SendAsync(Chunk);
            }

            sender.Shutdown(SocketShutdown.Send);
        });
        var buffer = new byte[64 * 1024];
        long received = 0;
        int n;
        while ((n = await receiver.ReceiveAsync(buffer)) > 0)
        {
            received += n;
        }

        var result = meter.Stop(received);
        await sending;
        return result;
    }

    /// <summary>Wall clock and the process's CPU time over one run.</summary>
    private readonly record struct Measure(long StartTimestamp, TimeSpan StartCpu, long StartContentions)
    {
        public static Measure Start() => new(Stopwatch.GetTimestamp(), Process.GetCurrentProcess().TotalProcessorTime, Monitor.LockContentionCount);

        public Result Stop(long bytes)
        {
            double seconds = Stopwatch.GetElapsedTime(StartTimestamp).TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - StartCpu).TotalSeconds;
            return new Result(bytes * 8 / seconds / 1e9, cpu / (bytes / 1e9))
            {
                LockContentionsPerMb = (Monitor.LockContentionCount - StartContentions) / (bytes / 1e6),
            };
        }
    }

    /// <summary>
    /// Bytes a TOU stream moves client → server through a relay with <paramref name="path"/> both ways in
    /// <paramref name="duration"/>, in Mbit/s, and the relay's accounting of the data direction.
    /// </summary>
    /// <param name="congestionControl">Null keeps the options' default controller.</param>
    public static async Task<(double Mbps, RelayDirectionStats Up)> TouThroughRelayAsync(LinkProfile path, TimeSpan duration, Tou.Protocol.CongestionControlAlgorithm? congestionControl)
    {
        var options = new TouTransportOptions();
        options.Protocol.IdleTimeout = TimeSpan.FromMinutes(5);
        if (congestionControl is { } cc)
        {
            options.Protocol.CongestionControl = cc;
        }

        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), server.LocalEndPoint, path, path, seed: 3);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        var accept = server.AcceptAsync().AsTask();
        var sender = await client.ConnectAsync(relay.LocalEndPoint);
        var receiver = (await accept)!;
        using var stop = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await sender.Transport.Output.WriteAsync(Chunk, stop.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        long received = 0;
        var stopwatch = Stopwatch.StartNew();
        stop.CancelAfter(duration);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var r = await receiver.Transport.Input.ReadAsync(stop.Token);
                received += r.Buffer.Length;
                receiver.Transport.Input.AdvanceTo(r.Buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
        }

        double seconds = stopwatch.Elapsed.TotalSeconds;
        await sending;
        sender.Abort(null);
        receiver.Abort(null);
        return (received * 8 / seconds / 1e6, relay.ClientToServer);
    }
}
