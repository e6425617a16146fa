using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Transport;

namespace Tou.EndToEndBench;

internal static class Setup
{
    /// <summary>Time from connect to an established connection, sequentially, over loopback.</summary>
    public static async Task<((double P50Us, double P99Us) Tou, (double P50Us, double P99Us) Tcp)> MeasureAsync(int count)
    {
        var tou = new List<double>();
        await using (var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: true))
        {
            var accepting = Task.Run(async () =>
            {
                while (await server.AcceptAsync() is { } c)
                {
                    c.Abort(null);
                }
            });
            for (int i = 0; i < count + 10; i++)
            {
                await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                long start = Stopwatch.GetTimestamp();
                var connection = await client.ConnectAsync(server.LocalEndPoint);
                long elapsed = Stopwatch.GetTimestamp() - start;
                if (i >= 10)
                {
                    tou.Add(elapsed * 1e6 / Stopwatch.Frequency);
                }

                connection.Abort(null);
            }

            server.StopListening();
            await accepting;
        }

        var tcp = new List<double>();
        using (var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1024);
            for (int i = 0; i < count + 10; i++)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                var accept = listener.AcceptAsync();
                long start = Stopwatch.GetTimestamp();
                await client.ConnectAsync(listener.LocalEndPoint!);
                long elapsed = Stopwatch.GetTimestamp() - start;
                (await accept).Dispose();
                if (i >= 10)
                {
                    tcp.Add(elapsed * 1e6 / Stopwatch.Frequency);
                }
            }
        }

        static (double, double) Percentiles(List<double> values)
        {
            values.Sort();
            return (values[values.Count / 2], values[(int)(values.Count * 0.99)]);
        }

        return (Percentiles(tou), Percentiles(tcp));
    }

    /// <summary>Managed heap growth per idle connection (client and server ends together) with <paramref name="count"/> open.</summary>
    public static async Task<(double Tou, double Tcp)> IdleMemoryAsync(int count)
    {
        // TCP first: TOU's handles are finalizable, and their finalization must not land inside TCP's figure.
        double tcp;
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1024);
            var sockets = new List<Socket>();
            long before = 0;
            const int WarmUp = 50;
            for (int i = 0; i < count + WarmUp; i++)
            {
                if (i == WarmUp)
                {
                    await Task.Delay(100);
                    before = Heap();
                }

                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                var accept = listener.AcceptAsync();
                await client.ConnectAsync(listener.LocalEndPoint!);
                sockets.Add(client);
                sockets.Add(await accept);
            }

            tcp = (double)(Heap() - before) / count;
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }

        double tou;
        {
            var options = new TouTransportOptions { SocketReceiveBufferSize = 0, SocketSendBufferSize = 0 };
            await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
            var endpoints = new List<TouSocketEndpoint>();
            var connections = new List<TouSocketConnection>();
            long before = 0;
            const int WarmUp = 50; // process-wide pools (receive buffers, GSO buffers, the thread pool) fill first, outside the figure
            for (int i = 0; i < count + WarmUp; i++)
            {
                if (i == WarmUp)
                {
                    await Task.Delay(100); // the warm-up's pumps settle
                    before = Heap();
                }

                var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
                endpoints.Add(client);
                var accept = server.AcceptAsync().AsTask();
                connections.Add(await client.ConnectAsync(server.LocalEndPoint));
                connections.Add((await accept)!);
            }

            tou = (double)(Heap() - before) / count;
            foreach (var c in connections)
            {
                c.Abort(null);
            }

            foreach (var e in endpoints)
            {
                await e.DisposeAsync();
            }

            await server.DisposeAsync();
            await Task.WhenAll(endpoints.Select(e => e.Completion).Append(server.Completion)); // nothing of TOU shrinks the heap under TCP's figure
        }

        return (tou, tcp);
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
