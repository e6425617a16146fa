using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>What a handshake agreed is on both sides' connection features, so an application can require it.</summary>
public class NegotiationFeatureTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Both_sides_see_what_was_agreed_integrity_included(bool clientWantsIntegrity)
    {
        var seenByServer = new TaskCompletionSource<ITouConnectionFeature?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouTestServer.StartAsync(_ => { }, configureListen: listen => listen.Run(connection =>
        {
            seenByServer.TrySetResult(connection.Features.Get<ITouConnectionFeature>());
            return Task.CompletedTask;
        }));
        try
        {
            var options = new TouTransportOptions();
            options.Protocol.EnableIntegrity = clientWantsIntegrity;
            options.Protocol.EnablePathMtuDiscovery = false; // the client keeps its initial datagram size (the server still probes)
            var factory = new TouConnectionFactory(Options.Create(options));
            await using var client = await factory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Bound);

            var clientSide = client.Features.Get<ITouConnectionFeature>()!.Negotiation;
            var serverSide = (await seenByServer.Task.WaitAsync(Bound))!.Negotiation;
            Assert.True(clientSide.Extensions && serverSide.Extensions);
            Assert.True(clientSide.Sack && serverSide.Sack);
            Assert.Equal(clientWantsIntegrity, clientSide.Integrity);
            Assert.Equal(clientWantsIntegrity, serverSide.Integrity);
            Assert.Equal(clientSide.SendWindowShift, serverSide.ReceiveWindowShift);
            Assert.Equal(1452 - 21 - 4, clientSide.SendMss);
        }
        finally
        {
            await TouWire.ShutdownAsync(server);
        }
    }

    [Fact]
    public async Task A_stopping_host_returns_once_the_last_reply_is_delivered_and_closes_the_listener()
    {
        const int length = 8 * 1024 * 1024;
        var handlerReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouTestServer.StartAsync(app => app.MapGet("/blob", async (HttpContext context) =>
        {
            context.Response.ContentLength = length;
            await context.Response.Body.WriteAsync(TouWire.Payload(length));
            handlerReturned.TrySetResult();
        }));
        using var http = server.CreateClient();
        var download = Task.Run(async () =>
        {
            using var response = await http.GetAsync("/blob", HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            return await TouWire.ReadToEndAsync(body);
        });
        await handlerReturned.Task.WaitAsync(Bound);

        await server.App.StopAsync().WaitAsync(Bound);

        // The hosted drain ran after Kestrel stopped: the listener's socket is closed, so the reply was acknowledged.
        var transport = server.Services.GetServices<IConnectionListenerFactory>().OfType<TouTransportFactory>().Single();
        Assert.Equal(0, transport.OpenSockets);
        var (received, sha256) = await download.WaitAsync(Bound);
        Assert.Equal(length, received);
        Assert.Equal(TouWire.Sha256(TouWire.Payload(length)), sha256);
        await server.DisposeAsync();
    }
}
