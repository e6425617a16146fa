using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace Tou.Kestrel.Tests;

/// <summary>Cancelling a send that the peer is not taking ends it promptly, and so does disposing after it.</summary>
public class CancellationTests(ITestOutputHelper output)
{
    /// <summary>A generous bound on a signal, not a measured figure (before the fix: 30 s for the POST, 25 s for the dispose).</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Cancelling_a_large_post_the_server_does_not_read_ends_it_promptly()
    {
        var handlerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouTestServer.StartAsync(app => app.MapPost("/sink", async (HttpContext context) =>
        {
            handlerStarted.TrySetResult();
            try
            {
                await release.Task.WaitAsync(context.RequestAborted); // never reads the body
            }
            catch (OperationCanceledException)
            {
            }

            return Results.Ok();
        }));
        try
        {
            using var http = server.CreateClient();
            using var cancel = new CancellationTokenSource();
            using var content = new ByteArrayContent(TouWire.Payload(64 * 1024 * 1024));
            var post = http.PostAsync("/sink", content, cancel.Token);

            await handlerStarted.Task.WaitAsync(Bound); // the request is under way; its body is stuck behind a closed window
            Assert.False(post.IsCompleted, "the 64 MB body cannot have gone through to a server that does not read it");

            // Not awaited yet: before the fix the handler's cancellation callback (which disposes the connection) blocks
            // the cancelling thread as long as the request itself.
            var cancelledAt = System.Diagnostics.Stopwatch.StartNew();
            var cancelling = cancel.CancelAsync();

            // Before the fix: the cancelled request goes on until the server gives up on it (30 s and more).
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => post.WaitAsync(Prompt));
            await cancelling.WaitAsync(Prompt);
            output.WriteLine($"the POST ended {cancelledAt.Elapsed.TotalMilliseconds:0.0} ms after its cancellation"); // reported, not asserted
        }
        finally
        {
            release.TrySetResult();
            await TouWire.ShutdownAsync(server);
        }
    }

    [Fact]
    public async Task Disposing_after_a_cancelled_write_to_a_peer_that_does_not_read_returns_promptly()
    {
        var listener = await TouWire.BindListenerAsync();
        var factory = new TouConnectionFactory();
        ConnectionContext? client = null;
        ConnectionContext? server = null;
        try
        {
            var accepting = listener.AcceptAsync().AsTask();
            client = await factory.ConnectAsync(listener.EndPoint).AsTask().WaitAsync(Bound);
            server = await accepting.WaitAsync(Bound);
            Assert.NotNull(server);

            // 32 MiB is far more than the pipes, send buffer and the peer's window hold, so the write waits.
            using var cancel = new CancellationTokenSource();
            var write = client.Transport.Output.WriteAsync(TouWire.Payload(32 * 1024 * 1024), cancel.Token).AsTask();

            // The peer sees data arrive (examined, never consumed) and then never reads again.
            var first = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
            Assert.False(first.Buffer.IsEmpty);
            server.Transport.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End);
            Assert.False(write.IsCompleted, "the write cannot have completed against a peer that does not read");

            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(Bound));

            // Before the fix: DisposeAsync waits ~25 s for the send pump to drain into a window that never opens.
            var disposing = System.Diagnostics.Stopwatch.StartNew();
            await client.DisposeAsync().AsTask().WaitAsync(Prompt);
            output.WriteLine($"DisposeAsync returned after {disposing.Elapsed.TotalMilliseconds:0.0} ms"); // reported, not asserted
        }
        finally
        {
            await TouWire.DisposeQuietlyAsync(client);
            await TouWire.DisposeQuietlyAsync(server);
            await listener.DisposeAsync();
        }
    }
}
