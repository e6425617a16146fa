using System.Net;
using System.Runtime.CompilerServices;
using Tou.Protocol;

namespace Tou.Transport.Tests;

[CollectionDefinition(nameof(ChurnTests), DisableParallelization = true)]
public sealed class ChurnCollection;

/// <summary>Connect, transfer, and end every way an application can — nothing is left behind.</summary>
[Collection(nameof(ChurnTests))]
public class ChurnTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Thousands_of_connect_transfer_close_cycles_leak_no_socket_task_or_connection()
    {
        int baseline = TouSocketEndpoint.OpenEndpoints;
        var options = new TouTransportOptions
        {
            SocketReceiveBufferSize = 0,
            SocketSendBufferSize = 0,
            Protocol = new TouOptions { IdleTimeout = TimeSpan.FromSeconds(2), KeepAliveInterval = TimeSpan.FromMilliseconds(500), LingerTimeout = TimeSpan.FromSeconds(2) },
        };
        var weak = new List<WeakReference>();
        await RunCyclesAsync(options, 2000, weak);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(baseline, TouSocketEndpoint.OpenEndpoints);
        int alive = weak.Count(w => w.IsAlive);
        Assert.True(alive == 0, $"{alive} of {weak.Count} connections are still reachable");
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keep every strong reference inside this frame
    private static async Task RunCyclesAsync(TouTransportOptions options, int cycles, List<WeakReference> weak)
    {
        var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        var serverClosed = new List<Task>();
        var socketsClosed = new List<Task> { server.Completion }; // disposed endpoints close once their lingering connections end
        var serving = Task.Run(async () =>
        {
            while (await server.AcceptAsync() is { } connection)
            {
                lock (weak)
                {
                    weak.Add(new WeakReference(connection));
                }

                var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.Closed.Register(() => closed.TrySetResult());
                lock (serverClosed)
                {
                    serverClosed.Add(closed.Task);
                }

                _ = Task.Run(async () =>
                {
                    try
                    {
                        while (true)
                        {
                            var r = await connection.Transport.Input.ReadAsync();
                            connection.Transport.Input.AdvanceTo(r.Buffer.End);
                            if (r.IsCompleted) break;
                        }
                    }
                    catch (TouConnectionException)
                    {
                        // reset or timed out: expected for the abrupt endings
                    }

                    await connection.DisposeAsync();
                });
            }
        });

        var payload = new byte[50_000];
        using var gate = new SemaphoreSlim(64);
        var cyclesDone = Enumerable.Range(0, cycles).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var endpoint = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
                var connection = await endpoint.ConnectAsync(server.LocalEndPoint).WaitAsync(Timeout);
                lock (weak)
                {
                    weak.Add(new WeakReference(connection));
                }

                var write = connection.Transport.Output.WriteAsync(payload).AsTask();
                switch (i % 4)
                {
                    case 0: // graceful: finish writing, close, wait for the close to complete
                        await write.WaitAsync(Timeout);
                        await connection.DisposeAsync();
                        await WaitClosedAsync(connection);
                        break;
                    case 1: // abort mid-transfer
                        connection.Abort(null);
                        break;
                    case 2: // dispose mid-transfer without waiting
                        await connection.DisposeAsync();
                        break;
                    default: // drop the whole socket mid-transfer: the server must notice by itself
                        break;
                }

                await endpoint.DisposeAsync();
                lock (socketsClosed)
                {
                    socketsClosed.Add(endpoint.Completion);
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(cyclesDone).WaitAsync(TimeSpan.FromMinutes(3));

        // Every server-side connection ends (reset, graceful, or idle timeout) and is disposed.
        Task[] all;
        lock (serverClosed)
        {
            all = serverClosed.ToArray();
        }

        await Task.WhenAll(all).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(all.Length > cycles / 2 && all.Length <= cycles, $"{all.Length} accepted of {cycles}"); // an abort can beat the handshake's last ACK
        server.StopListening();
        await serving.WaitAsync(Timeout);
        await server.DisposeAsync();
        await Task.WhenAll(socketsClosed).WaitAsync(TimeSpan.FromMinutes(1));
    }

    private static Task WaitClosedAsync(TouSocketConnection connection)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed.Register(() => closed.TrySetResult());
        return closed.Task.WaitAsync(Timeout);
    }
}
