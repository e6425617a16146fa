using System.Buffers;
using System.Net;
using Tou.Protocol;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>Thousands of connections on one UDP port, all open at once, then closed with nothing left behind.</summary>
public class ScaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ten_thousand_concurrent_connections_on_one_port()
    {
        int count = int.TryParse(Environment.GetEnvironmentVariable("TOU_SCALE_CONNECTIONS"), out int n) ? n : 10_000;
        var options = new TouTransportOptions
        {
            SocketReceiveBufferSize = 0, // system default per client socket; the server gets a large one
            SocketSendBufferSize = 0,
            // The handshake timeout is generous: with 10,000 sockets on 2 cores (and other test assemblies running) the
            // server's loop is sometimes starved for seconds, so a client's four SYNs within the default 10 s can all wait
            // unanswered; this test is about holding 10,000 connections, not about how fast they open.
            Protocol = new TouOptions { MaxConnections = count + 10, MaxPendingHandshakes = count, AcceptBacklog = count, HandshakeTimeout = TimeSpan.FromSeconds(60) },
        };
        var serverOptions = new TouTransportOptions { Protocol = options.Protocol };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), serverOptions, listen: true);

        // Server: echo one message per connection, keep the connection open until the client closes.
        var serving = Task.Run(async () =>
        {
            var handlers = new List<Task>();
            for (int i = 0; i < count; i++)
            {
                var connection = (await server.AcceptAsync())!;
                handlers.Add(Task.Run(async () =>
                {
                    var input = connection.Transport.Input;
                    while (true)
                    {
                        var r = await input.ReadAsync();
                        foreach (var segment in r.Buffer)
                        {
                            await connection.Transport.Output.WriteAsync(segment);
                        }

                        input.AdvanceTo(r.Buffer.End);
                        if (r.IsCompleted)
                        {
                            break;
                        }
                    }

                    await connection.DisposeAsync();
                    var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    using (connection.Closed.Register(() => closed.TrySetResult()))
                    {
                        await closed.Task;
                    }

                    Assert.Equal(TouCloseReason.Graceful, connection.CloseReason);
                }));
            }

            await Task.WhenAll(handlers);
        });

        var clients = new List<(TouSocketEndpoint Endpoint, TouSocketConnection Connection)>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(256);
        var connects = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var endpoint = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
                var connection = await endpoint.ConnectAsync(server.LocalEndPoint);
                var message = BitConverter.GetBytes(i);
                await connection.Transport.Output.WriteAsync(message);
                var reply = await connection.Transport.Input.ReadAtLeastAsync(4);
                Assert.Equal(i, BitConverter.ToInt32(reply.Buffer.FirstSpan.Length >= 4 ? reply.Buffer.FirstSpan : reply.Buffer.ToArray()));
                connection.Transport.Input.AdvanceTo(reply.Buffer.End);
                lock (clients)
                {
                    clients.Add((endpoint, connection));
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(connects).WaitAsync(TimeSpan.FromMinutes(5));
        output.WriteLine($"{count} connections established and echoed in {started.Elapsed.TotalSeconds:0.0} s");

        // All open at once.
        Assert.Equal(count, server.ConnectionCount);
        long memory = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"managed heap with {count} connections open: {memory / 1e6:0.0} MB");

        foreach (var (_, connection) in clients)
        {
            await connection.Transport.Output.CompleteAsync();
        }

        foreach (var (_, connection) in clients)
        {
            await connection.DisposeAsync();
        }

        await serving.WaitAsync(TimeSpan.FromMinutes(5));

        // Every connection closed gracefully on both sides (the server's handlers awaited their Closed signal).
        Assert.All(clients, c => Assert.Equal(TouCloseReason.Graceful, c.Connection.CloseReason));
        output.WriteLine($"all closed after {started.Elapsed.TotalSeconds:0.0} s");
        foreach (var (endpoint, _) in clients)
        {
            await endpoint.DisposeAsync();
        }
    }
}
