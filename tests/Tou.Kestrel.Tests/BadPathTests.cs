using System.Net;
using System.Security.Cryptography;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Kestrel.Tests;

/// <summary>Kestrel over TOU through the impairment relay: large payloads stay byte-exact on a bad path.</summary>
public class BadPathTests
{
    [Theory]
    [InlineData(0.02, 20, 0.0, 0.0, 2_000_000)]
    [InlineData(0.05, 20, 0.02, 0.01, 1_000_000)]
    public async Task Large_uploads_and_downloads_survive_loss_delay_reordering_and_duplication(double loss, int rttMs, double reorder, double duplicate, int size)
    {
        var server = await TouTestServer.StartAsync(ParityApp.Map, configureTransport: t => t.Protocol.IdleTimeout = TimeSpan.FromMinutes(5));
        var path = new LinkProfile
        {
            Delay = TimeSpan.FromMilliseconds(rttMs / 2.0),
            Jitter = TimeSpan.FromMilliseconds(2),
            LossRate = loss,
            ReorderRate = reorder,
            DuplicateRate = duplicate,
        };
        var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), server.EndPoint.IPEndPoint, path, path, seed: 7);
        try
        {
            using var client = TouHttp.CreateClient(new Uri($"http://{relay.LocalEndPoint}/"), server.ConnectionFactory);
            client.Timeout = TimeSpan.FromMinutes(3);

            var upload = ParityApp.Bytes(21, size);
            var response = await client.PostAsync("/upload", new ByteArrayContent(upload));
            Assert.Equal($"{upload.Length}:{Convert.ToHexString(SHA256.HashData(upload))}", await response.Content.ReadAsStringAsync());

            var download = await client.GetByteArrayAsync($"/download/{size}");
            Assert.Equal(SHA256.HashData(ParityApp.Bytes(size, size)), SHA256.HashData(download));

            Assert.True(relay.ClientToServer.Lost + relay.ServerToClient.Lost > 0, "the path must actually have lost packets");
        }
        finally
        {
            // The path stays up while the server stops: its closing connections deliver their last packets through it.
            await server.DisposeAsync();
            await relay.DisposeAsync();
        }
    }
}
