using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Tou.Samples.Messaging;

namespace Tou.Kestrel.Tests;

public class KestrelFeatureTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task One_app_serves_tcp_and_tou_side_by_side()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTou();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.ListenTou(IPAddress.Loopback, 0);
        });
        await using var app = builder.Build();
        app.MapGet("/", (HttpContext c) => c.Connection.Id.StartsWith("tou-", StringComparison.Ordinal) ? "tou" : "tcp");
        await app.StartAsync();

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        var tcp = addresses.Single(a => !a.Contains("tou:", StringComparison.Ordinal));
        Assert.True(TouEndPoint.TryParse(addresses.Single(a => a.Contains("tou:", StringComparison.Ordinal)), out var tou));

        using var tcpClient = new HttpClient { BaseAddress = new Uri(tcp) };
        using var touClient = TouHttp.CreateClient(new Uri($"http://{tou.IPEndPoint}/"));
        Assert.Equal("tcp", await tcpClient.GetStringAsync("/").WaitAsync(Timeout));
        Assert.Equal("tou", await touClient.GetStringAsync("/").WaitAsync(Timeout));
        await app.StopAsync();
    }

    /// <summary>As over TCP, Kestrel speaks cleartext HTTP/2 (prior knowledge) on endpoints set to Http2 only.</summary>
    [Theory]
    [InlineData(HttpProtocols.Http2)]
    public async Task Http2_with_prior_knowledge_works(HttpProtocols protocols)
    {
        await using var server = await TouTestServer.StartAsync(
            app => app.MapGet("/v", (HttpContext c) => c.Request.Protocol),
            configureListen: listen => listen.Protocols = protocols);
        using var client = server.CreateClient();
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetAsync("/v"))).WaitAsync(Timeout);
        foreach (var response in responses)
        {
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal("HTTP/2", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Https_with_alpn_negotiates_http2()
    {
        using var certificate = CreateSelfSignedCertificate();
        await using var server = await TouTestServer.StartAsync(
            app => app.MapGet("/secure", (HttpContext c) => $"{c.Request.Protocol} {c.Request.IsHttps}"),
            configureListen: listen => listen.UseHttps(certificate));

        var handler = TouHttp.CreateHandler(server.ConnectionFactory);
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == certificate.GetCertHashString(),
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{server.EndPoint.IPEndPoint.Port}/") };
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
        var response = await client.GetAsync("/secure").WaitAsync(Timeout);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("HTTP/2 True", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Connection_middleware_runs_over_tou()
    {
        int connections = 0;
        EndPoint? seenRemote = null;
        await using var server = await TouTestServer.StartAsync(
            app => app.MapGet("/", () => "ok"),
            configureListen: listen => listen.Use(next => async context =>
            {
                Interlocked.Increment(ref connections);
                seenRemote = context.RemoteEndPoint;
                await next(context);
            }));
        using var client = server.CreateClient();
        Assert.Equal("ok", await client.GetStringAsync("/").WaitAsync(Timeout));
        Assert.Equal(1, connections);
        Assert.IsType<IPEndPoint>(seenRemote);
    }

    [Fact]
    public async Task Bedrock_style_protocol_runs_through_UseConnectionHandler()
    {
        await using var server = await TouTestServer.StartAsync(_ => { },
            configureListen: listen => listen.UseConnectionHandler<ReverseEchoConnectionHandler>());
        await using var connection = await server.ConnectionFactory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Timeout);
        var protocol = new LengthPrefixedProtocol(connection.Transport.Input, connection.Transport.Output);
        var rng = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            var message = new byte[i == 49 ? 2_000_000 : rng.Next(0, 5000)];
            rng.NextBytes(message);
            await protocol.WriteAsync(message).AsTask().WaitAsync(Timeout);
            var reply = await protocol.ReadAsync().AsTask().WaitAsync(Timeout);
            Array.Reverse(message);
            Assert.Equal(message, reply);
        }

        await connection.Transport.Output.CompleteAsync();
        Assert.Null(await protocol.ReadAsync().AsTask().WaitAsync(Timeout)); // the server closed its side after ours
    }

    [Fact]
    public async Task Kestrel_MaxConcurrentConnections_is_honoured()
    {
        await using var server = await TouTestServer.StartAsync(_ => { },
            configureBuilder: b => b.WebHost.ConfigureKestrel(k => k.Limits.MaxConcurrentConnections = 2),
            configureListen: listen => listen.UseConnectionHandler<ReverseEchoConnectionHandler>());
        var factory = server.ConnectionFactory;
        await using var first = await factory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Timeout);
        await using var second = await factory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Timeout);
        foreach (var c in new[] { first, second })
        {
            var p = new LengthPrefixedProtocol(c.Transport.Input, c.Transport.Output);
            await p.WriteAsync("ab"u8.ToArray()).AsTask().WaitAsync(Timeout);
            Assert.Equal("ba"u8.ToArray(), await p.ReadAsync().AsTask().WaitAsync(Timeout));
        }

        // The third is accepted by TOU and closed by Kestrel at once: its input ends without a reply.
        await using var third = await factory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Timeout);
        var protocol = new LengthPrefixedProtocol(third.Transport.Input, third.Transport.Output);
        await protocol.WriteAsync("ab"u8.ToArray()).AsTask().WaitAsync(Timeout);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var reply = await protocol.ReadAsync().AsTask().WaitAsync(Timeout);
            if (reply is null) throw new EndOfStreamException(); // closed without an answer
        });
    }

    [Fact]
    public async Task A_client_aborting_mid_request_is_seen_by_the_server()
    {
        ParityApp.AbortedRequests = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ParityApp.UploadStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TouTestServer.StartAsync(ParityApp.Map);
        await using var connection = await server.ConnectionFactory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(Timeout);
        var head = "POST /slow-upload-aware HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"u8.ToArray();
        await connection.Transport.Output.WriteAsync(head).AsTask().WaitAsync(Timeout);
        await connection.Transport.Output.WriteAsync(new byte[200_000]).AsTask().WaitAsync(Timeout);
        await ParityApp.UploadStarted.Task.WaitAsync(Timeout); // the server is reading the body now
        connection.Abort(new ConnectionAbortedException("client gives up"));
        var seen = await ParityApp.AbortedRequests.Task.WaitAsync(Timeout);
        Assert.False(string.IsNullOrEmpty(seen));
    }

    [Fact]
    public async Task Server_shutdown_with_connections_open_ends_them_without_hanging()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TouTestServer.StartAsync(app => app.MapGet("/forever", async (HttpContext c) =>
        {
            await c.Response.WriteAsync("first");
            await c.Response.Body.FlushAsync();
            started.TrySetResult();
            await Task.Delay(System.Threading.Timeout.Infinite, c.RequestAborted);
        }), configureBuilder: b => b.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2)));
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/forever", HttpCompletionOption.ResponseHeadersRead).WaitAsync(Timeout);
        var body = await response.Content.ReadAsStreamAsync();
        await started.Task.WaitAsync(Timeout);

        await server.DisposeAsync().AsTask().WaitAsync(Timeout);

        // The open response ends: either an error or the end of the stream, never a hang.
        var buffer = new byte[1024];
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            while (await body.ReadAsync(buffer).AsTask().WaitAsync(Timeout) > 0)
            {
            }

            throw new EndOfStreamException("ended cleanly");
        });
    }

    public sealed class ChatHub : Hub
    {
        public Task Send(string user, string message) => Clients.All.SendAsync("Message", user, message);
    }

    [Fact]
    public async Task SignalR_hub_over_tou_with_TouConnectionFactory()
    {
        await using var server = await TouTestServer.StartAsync(_ => { },
            configureBuilder: b => b.Services.AddSignalR(),
            configureListen: listen => listen.UseHub<ChatHub>());

        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = new HubConnectionBuilder();
        // What Bedrock's UseConnectionFactory does for SignalR: the connection factory and the endpoint it connects to.
        builder.Services.AddSingleton<IConnectionFactory>(server.ConnectionFactory);
        builder.Services.AddSingleton<EndPoint>(server.EndPoint);
        await using var hub = builder.Build();
        hub.On<string, string>("Message", (user, message) => received.TrySetResult($"{user}: {message}"));
        await hub.StartAsync().WaitAsync(Timeout);
        await hub.InvokeAsync("Send", "ada", "hello over TOU").WaitAsync(Timeout);
        Assert.Equal("ada: hello over TOU", await received.Task.WaitAsync(Timeout));
        await hub.StopAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Metrics_count_connections_packets_and_rtt()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Transport.TouMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => seen.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => seen.AddOrUpdate(i.Name, 1, (_, old) => old + 1));
        listener.Start();

        await using (var server = await TouTestServer.StartAsync(app => app.MapGet("/", () => "ok")))
        {
            using var client = server.CreateClient();
            Assert.Equal("ok", await client.GetStringAsync("/").WaitAsync(Timeout));
        }

        Assert.True(seen.GetValueOrDefault("tou.connections.opened") >= 2); // client and server side
        Assert.True(seen.GetValueOrDefault("tou.datagrams.sent") > 0);
        Assert.True(seen.GetValueOrDefault("tou.bytes.received") > 0);
        Assert.True(seen.GetValueOrDefault("tou.rtt") > 0);
        listener.RecordObservableInstruments();
        Assert.True(seen.ContainsKey("tou.endpoint.events"), "the endpoint events counter is observable");
    }

    private static X509Certificate2 CreateSelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}
