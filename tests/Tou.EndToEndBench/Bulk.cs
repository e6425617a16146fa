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

    /// <param name="integrity">The keyed integrity trailer (on by default); off measures what it costs.</param>
    public static async Task<double> TouAsync(long bytes, bool integrity = true)
    {
        var options = new TouTransportOptions { Protocol = new Tou.Protocol.TouOptions { EnableIntegrity = integrity } };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        var accept = server.AcceptAsync().AsTask();
        var sender = await client.ConnectAsync(server.LocalEndPoint);
        var receiver = (await accept)!;
        var stopwatch = Stopwatch.StartNew();
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

        stopwatch.Stop();
        await sending;
        await sender.DisposeAsync();
        await receiver.DisposeAsync();
        return received * 8 / stopwatch.Elapsed.TotalSeconds / 1e9;
    }

    public static async Task<double> TcpAsync(long bytes)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await accept;
        var stopwatch = Stopwatch.StartNew();
        var sending = Task.Run(async () =>
        {
            for (long sent = 0; sent < bytes; sent += Chunk.Length)
            {
                await client.SendAsync(Chunk);
            }

            client.Shutdown(SocketShutdown.Send);
        });
        var buffer = new byte[64 * 1024];
        long received = 0;
        int n;
        while ((n = await server.ReceiveAsync(buffer)) > 0)
        {
            received += n;
        }

        stopwatch.Stop();
        await sending;
        return received * 8 / stopwatch.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>Bytes a TOU stream moves through the relay in <paramref name="duration"/>, in Mbit/s.</summary>
    public static async Task<double> TouThroughRelayAsync(TimeSpan rtt, double loss, TimeSpan duration, Tou.Protocol.CongestionControlAlgorithm congestionControl)
    {
        var options = new TouTransportOptions();
        options.Protocol.IdleTimeout = TimeSpan.FromMinutes(5);
        options.Protocol.CongestionControl = congestionControl;
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        var path = LinkProfile.Path(rtt, loss, rateBitsPerSecond: 0);
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
        return received * 8 / seconds / 1e6;
    }
}
