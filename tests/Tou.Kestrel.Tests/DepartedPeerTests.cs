using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace Tou.Kestrel.Tests;

/// <summary>When one side is gone for good, the other finds out promptly, as over TCP.</summary>
public class DepartedPeerTests(ITestOutputHelper output)
{
    /// <summary>
    /// A generous bound on a signal, not a measured figure. Before the fix the server's writes go on succeeding for
    /// 40–45 s after its reader left, and a client waits out timeouts of 10 s and more.
    /// </summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task When_the_reader_disposes_mid_response_the_servers_next_write_fails_promptly()
    {
        using var giveUp = new CancellationTokenSource();
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously); // null: the flush reported the pipe completed
        long written = 0;
        var server = await TouTestServer.StartAsync(_ => { }, configureListen: listen => listen.Run(async connection =>
        {
            var chunk = TouWire.Payload(TouWire.Chunk);
            try
            {
                streaming.TrySetResult();
                while (true)
                {
                    var flush = await connection.Transport.Output.WriteAsync(chunk, giveUp.Token); // an endless response
                    if (flush.IsCompleted)
                    {
                        ended.TrySetResult(null);
                        return;
                    }

                    Interlocked.Add(ref written, chunk.Length);
                }
            }
            catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
            {
                ended.TrySetCanceled(giveUp.Token);
            }
            catch (Exception ex)
            {
                ended.TrySetResult(ex);
            }
        }));
        ConnectionContext? client = null;
        try
        {
            client = await server.ConnectionFactory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Bound);
            await streaming.Task.WaitAsync(Bound);

            // Mid-response: read 1 MiB of it, then leave.
            long read = 0;
            while (read < 1024 * 1024)
            {
                var result = await client.Transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
                read += result.Buffer.Length;
                client.Transport.Input.AdvanceTo(result.Buffer.End);
                Assert.False(result.IsCompleted, "the server ended its endless response");
            }

            var disposedAt = System.Diagnostics.Stopwatch.StartNew();
            await client.DisposeAsync().AsTask().WaitAsync(Bound);

            // Before the fix the writes keep succeeding for 40–45 s.
            var outcome = await ended.Task.WaitAsync(Prompt);
            output.WriteLine($"the server's write failed {disposedAt.Elapsed.TotalMilliseconds:0.0} ms after the client disposed ({outcome?.GetType().Name ?? "pipe completed"})"); // reported, not asserted
            Assert.True(outcome is null or IOException or ConnectionAbortedException, $"the write failed with an unexpected {outcome}");
            Assert.True(Interlocked.Read(ref written) >= read, "the server had streamed what the client read");
        }
        finally
        {
            await giveUp.CancelAsync();
            await TouWire.DisposeQuietlyAsync(client);
            await TouWire.ShutdownAsync(server);
        }
    }

    [Fact]
    public async Task A_server_that_closed_and_then_stopped_gives_the_client_a_prompt_clean_end()
    {
        const int length = 256 * 1024;
        var handlerReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouWire.StartReplyServerAsync(handlerReturned);
        ConnectionContext? client = null;
        try
        {
            client = await server.ConnectionFactory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Bound);
            await TouWire.RequestAsync(client, length);
            await handlerReturned.Task.WaitAsync(Bound);
            await server.App.StopAsync().WaitAsync(Bound);

            // The server is gone. What it sent and its FIN are the client's to read: all of it, then end of
            // stream, not a reset (the reply fits the client's buffers, so nothing waits on the reader).
            // Before the fix: ConnectionResetException.
            var (received, sha256) = await TouWire.ReadToEndAsync(client.Transport.Input).WaitAsync(Prompt);
            Assert.Equal(length, received);
            Assert.Equal(TouWire.Sha256(TouWire.Payload(length)), sha256);
        }
        finally
        {
            await TouWire.DisposeQuietlyAsync(client);
            await TouWire.ShutdownAsync(server);
        }
    }
}
