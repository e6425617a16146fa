using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.EndToEndBench;

/// <summary>
/// kcptun (the system's package, installed by build/bench.sh) tunnelling one TCP stream over KCP through the same
/// impairment relay as TOU: TCP sender → kcptun-client → relay → kcptun-server → TCP sink, all on loopback.
/// kcptun's default profile ("--mode fast", Reed-Solomon FEC 10+3, AES, compression on, which random data defeats),
/// with both windows raised to 1,024 packets so a 100 Mbit/s × 100 ms path (≈ 930 packets in flight) is not window-bound.
/// </summary>
internal static class Kcptun
{
    private static readonly string[] Tuning = ["--mode", "fast", "--sndwnd", "1024", "--rcvwnd", "1024", "--key", "tou-bench", "--quiet"];

    /// <summary>The kcptun-client and kcptun-server executables, or null when they are not installed.</summary>
    public static (string Client, string Server)? Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':');
        string? client = dirs.Select(d => Path.Combine(d, "kcptun-client")).FirstOrDefault(File.Exists);
        string? server = dirs.Select(d => Path.Combine(d, "kcptun-server")).FirstOrDefault(File.Exists);
        return client is null || server is null ? null : (client, server);
    }

    /// <summary>
    /// TCP goodput through the tunnel over <paramref name="duration"/>, in Mbit/s, with <paramref name="path"/> both ways.
    /// A run in which kcptun exited early (a port taken between picking and binding it) is run again once.
    /// </summary>
    public static async Task<double> ThroughRelayAsync((string Client, string Server) exe, LinkProfile path, TimeSpan duration)
    {
        var (mbps, healthy, log) = await RunAsync(exe, path, duration);
        if (!healthy)
        {
            Console.WriteLine($"kcptun exited during a run ({log.Trim()}); running it again");
            (mbps, _, _) = await RunAsync(exe, path, duration);
        }

        return mbps;
    }

    private static async Task<(double Mbps, bool Healthy, string Log)> RunAsync((string Client, string Server) exe, LinkProfile path, TimeSpan duration)
    {
        using var sink = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        sink.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        sink.Listen();
        int kcpPort = FreePort(SocketType.Dgram, ProtocolType.Udp);
        int tunnelPort = FreePort(SocketType.Stream, ProtocolType.Tcp);
        using var server = Start(exe.Server, ["-l", $"127.0.0.1:{kcpPort}", "-t", sink.LocalEndPoint!.ToString()!]);
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Loopback, kcpPort), path, path, seed: 3);
        using var client = Start(exe.Client, ["-l", $"127.0.0.1:{tunnelPort}", "-r", relay.LocalEndPoint.ToString()]);
        try
        {
            using var sender = await ConnectAsync(tunnelPort);
            var accept = sink.AcceptAsync();
            using var stop = new CancellationTokenSource();
            var chunk = new byte[64 * 1024];
            new Random(1).NextBytes(chunk);
            var sending = Task.Run(async () =>
            {
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        await sender.SendAsync(chunk, SocketFlags.None, stop.Token);
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                {
                }
            });
            var stopwatch = Stopwatch.StartNew();
            stop.CancelAfter(duration);
            Socket receiver;
            try
            {
                receiver = await accept.WaitAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                await sending;
                return (0, false, "the tunnel never reached the sink");
            }

            using var accepted = receiver;
            long received = 0;
            var buffer = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = await receiver.ReceiveAsync(buffer, SocketFlags.None, stop.Token)) > 0)
                {
                    received += n;
                }
            }
            catch (OperationCanceledException)
            {
            }

            double seconds = stopwatch.Elapsed.TotalSeconds;
            await sending;
            bool healthy = !client.HasExited && !server.HasExited;
            return (received * 8 / seconds / 1e6, healthy, healthy ? "" : $"{client.StandardError.ReadToEnd()} {server.StandardError.ReadToEnd()}");
        }
        finally
        {
            Stop(client);
            Stop(server);
        }
    }

    private static Process Start(string exe, string[] args)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = false, UseShellExecute = false };
        foreach (string arg in args.Concat(Tuning))
        {
            info.ArgumentList.Add(arg);
        }

        // --quiet keeps kcptun's stderr to a few lines (read only when it exited early), far below a pipe's buffer.
        return Process.Start(info)!;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(5_000);
        }
    }

    /// <summary>Connects to the tunnel's local port once kcptun-client listens (it takes a moment to start).</summary>
    private static async Task<Socket> ConnectAsync(int port)
    {
        for (int attempt = 0; ; attempt++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return socket;
            }
            catch (SocketException) when (attempt < 100)
            {
                socket.Dispose();
                await Task.Delay(50);
            }
        }
    }

    private static int FreePort(SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
