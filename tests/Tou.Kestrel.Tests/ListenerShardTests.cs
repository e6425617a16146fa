using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Tou.Kestrel.Tests;

/// <summary>Kestrel on a TOU port served by several SO_REUSEPORT sockets (TouTransportOptions.ListenerShards).</summary>
public class ListenerShardTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public async Task Requests_from_many_clients_are_echoed_byte_exact_and_stopping_closes_every_socket(int shards)
    {
        var server = await TouTestServer.StartAsync(
            app => app.MapPost("/echo", (HttpContext context) => context.Request.Body.CopyToAsync(context.Response.Body)),
            configureTransport: options => options.ListenerShards = shards);
        var transport = server.Services.GetServices<IConnectionListenerFactory>().OfType<TouTransportFactory>().Single();
        Assert.Equal(OperatingSystem.IsLinux() ? shards : 1, transport.OpenSockets);

        // Each HttpClient dials from its own UDP socket, so the kernel hashes each to a shard on its own.
        var clients = Enumerable.Range(0, 24).Select(_ => server.CreateClient()).ToList();
        await Task.WhenAll(clients.Select(async (client, i) =>
        {
            var body = RandomNumberGenerator.GetBytes(40_000 + i);
            using var response = await client.PostAsync("/echo", new ByteArrayContent(body)).WaitAsync(Bound);
            response.EnsureSuccessStatusCode();
            Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
        }));

        clients.ForEach(c => c.Dispose());
        await server.App.StopAsync().WaitAsync(Bound);
        Assert.Equal(0, transport.OpenSockets); // the hosted drain closed every shard's socket
        await server.DisposeAsync();
    }
}
