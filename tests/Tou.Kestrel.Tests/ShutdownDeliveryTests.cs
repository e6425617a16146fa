using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Kestrel.Tests;

/// <summary>
/// What the application wrote before it let go of a connection is delivered byte-exact with a clean end,
/// even when the server stops (or the listener is disposed) right after — as a TCP socket's close lingers in
/// the kernel — and a graceful close may take as long as it keeps making progress.
/// </summary>
public class ShutdownDeliveryTests
{
    /// <summary>A generous bound on each step, never a measured figure: loopback moves these sizes in well under a second.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(1024)]
    [InlineData(64 * 1024)]
    [InlineData(2 * 1024 * 1024)]
    [InlineData(20 * 1024 * 1024)]
    public Task Last_reply_on_a_raw_connection_survives_app_stop(int length) => RawReplyThenStopAsync(length, loss: 0);

    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(2 * 1024 * 1024)]
    public Task Last_reply_survives_app_stop_through_a_relay_losing_5_percent_each_way(int length) => RawReplyThenStopAsync(length, loss: 0.05);

    [Theory]
    [InlineData(1024)]
    [InlineData(64 * 1024)]
    [InlineData(2 * 1024 * 1024)]
    [InlineData(20 * 1024 * 1024)]
    public async Task Last_http_response_survives_app_stop(int length)
    {
        var handlerReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouTestServer.StartAsync(app => app.MapGet("/blob/{n:int}", async (HttpContext context, int n) =>
        {
            context.Response.ContentLength = n;
            await context.Response.Body.WriteAsync(TouWire.Payload(n));
            handlerReturned.TrySetResult();
        }));
        try
        {
            using var http = server.CreateClient();
            var download = Task.Run(async () =>
            {
                using var response = await http.GetAsync($"/blob/{length}", HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                await using var body = await response.Content.ReadAsStreamAsync();
                return await TouWire.ReadToEndAsync(body);
            });

            await handlerReturned.Task.WaitAsync(Bound);
            await server.App.StopAsync().WaitAsync(Bound); // right after the handler returned

            // Before the fix: HttpRequestException/HttpIOException over ConnectionResetException for the larger sizes.
            var (received, sha256) = await download.WaitAsync(Bound);
            Assert.Equal(length, received);
            Assert.Equal(TouWire.Sha256(TouWire.Payload(length)), sha256);
        }
        finally
        {
            await TouWire.ShutdownAsync(server);
        }
    }

    /// <summary>Bedrock-style: the listener used directly; the connection is disposed and the listener unbound and disposed at once.</summary>
    [Theory]
    [InlineData(1024)]
    [InlineData(64 * 1024)]
    [InlineData(2 * 1024 * 1024)]
    [InlineData(20 * 1024 * 1024)]
    public async Task Last_write_survives_disposing_the_listener_right_after_the_connection(int length)
    {
        var expected = TouWire.Payload(length);
        var listener = await TouWire.BindListenerAsync();
        var factory = new TouConnectionFactory();
        ConnectionContext? client = null;
        try
        {
            var accepting = listener.AcceptAsync().AsTask();
            client = await factory.ConnectAsync(listener.EndPoint).AsTask().WaitAsync(Bound);
            var receiving = TouWire.ReadToEndAsync(client.Transport.Input);
            var server = await accepting.WaitAsync(Bound);
            Assert.NotNull(server);

            Assert.True(await TouWire.WriteAllAsync(server.Transport.Output, expected).WaitAsync(Bound), "the client stopped reading");
            await server.DisposeAsync().AsTask().WaitAsync(Bound);
            await listener.UnbindAsync().AsTask().WaitAsync(Bound);
            await listener.DisposeAsync().AsTask().WaitAsync(Bound);

            // Before the fix: ConnectionResetException (the listener's disposal resets what was still in flight).
            var (received, sha256) = await receiving.WaitAsync(Bound);
            Assert.Equal(length, received);
            Assert.Equal(TouWire.Sha256(expected), sha256);
        }
        finally
        {
            await TouWire.DisposeQuietlyAsync(client);
            await listener.DisposeAsync();
        }
    }

    /// <summary>
    /// 4 MB through a 2 Mbit/s link takes about 17 s, far past the 10 s the old orphan timeout allowed after a
    /// dispose; the close keeps making progress all along, so it must not be aborted (before the fix it was reset
    /// about 10 s after the dispose; now the linger clock counts from the last progress).
    /// This is the one slow test here (~20 s).
    /// </summary>
    [Fact]
    public async Task A_slow_graceful_close_that_keeps_making_progress_delivers_everything()
    {
        const int length = 4_000_000;
        var expected = ParityApp.Bytes(length, length);
        var listener = await TouWire.BindListenerAsync();
        var down = new LinkProfile { RateBitsPerSecond = 2_000_000 };
        var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), TouWire.IPEndPointOf(listener), LinkProfile.Perfect, down, seed: 3);
        var factory = new TouConnectionFactory();
        ConnectionContext? client = null;
        try
        {
            var accepting = listener.AcceptAsync().AsTask();
            client = await factory.ConnectAsync(relay.LocalEndPoint).AsTask().WaitAsync(Bound);
            var receiving = TouWire.ReadToEndAsync(client.Transport.Input);
            var server = await accepting.WaitAsync(Bound);
            Assert.NotNull(server);

            // The pipes and the send buffer take all of it at once: the application is done long before the link is.
            Assert.True(await TouWire.WriteAllAsync(server.Transport.Output, expected).WaitAsync(Bound), "the client stopped reading");
            await server.DisposeAsync().AsTask().WaitAsync(Bound);

            var (received, sha256) = await receiving.WaitAsync(TimeSpan.FromSeconds(60)); // before the fix: ConnectionResetException after ~10 s
            Assert.Equal(length, received);
            Assert.Equal(TouWire.Sha256(expected), sha256);
            Assert.True(relay.ServerToClient.Forwarded * 1452L >= length, "the data went through the rate-limited relay");
        }
        finally
        {
            await TouWire.DisposeQuietlyAsync(client);
            await listener.DisposeAsync();
            await relay.DisposeAsync();
        }
    }

    /// <summary>Kestrel connection handler: read the length, write that many bytes, return; then the app stops.</summary>
    private static async Task RawReplyThenStopAsync(int length, double loss)
    {
        var handlerReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouWire.StartReplyServerAsync(handlerReturned);
        ImpairmentRelay? relay = null;
        ConnectionContext? client = null;
        try
        {
            var target = server.EndPoint.IPEndPoint;
            if (loss > 0)
            {
                var path = new LinkProfile { LossRate = loss };
                relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), target, path, path, seed: 5);
                target = relay.LocalEndPoint;
            }

            client = await server.ConnectionFactory.ConnectAsync(target).AsTask().WaitAsync(Bound);
            var receiving = TouWire.ReadToEndAsync(client.Transport.Input);
            await TouWire.RequestAsync(client, length);
            await handlerReturned.Task.WaitAsync(Bound);
            await server.App.StopAsync().WaitAsync(Bound); // right after the handler returned

            // Before the fix: ConnectionResetException (the stop resets what was still in flight).
            var (received, sha256) = await receiving.WaitAsync(Bound);
            Assert.Equal(length, received);
            Assert.Equal(TouWire.Sha256(TouWire.Payload(length)), sha256);
            if (relay is not null)
            {
                Assert.True(relay.ClientToServer.Lost + relay.ServerToClient.Lost > 0, "the path must actually have lost packets");
            }
        }
        finally
        {
            await TouWire.DisposeQuietlyAsync(client);
            await TouWire.ShutdownAsync(server);
            if (relay is not null)
            {
                await relay.DisposeAsync();
            }
        }
    }
}
