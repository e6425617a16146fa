using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tou.Protocol;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>
/// The transport driven as Bedrock.Framework's <c>ServerBuilder</c> and <c>ClientBuilder</c> drive one: constructed
/// without dependency injection, bound to a plain <see cref="IPEndPoint"/>, connections that report their real local
/// address, connect failures that socket retry code recognises, and <c>ListenLocalhostTou</c> on both loopbacks.
/// </summary>
public class BedrockStyleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_transport_factory_made_without_DI_binds_a_plain_IPEndPoint_and_accepts()
    {
        var transport = new TouTransportFactory();
        Assert.False(transport.CanBind(new IPEndPoint(IPAddress.Loopback, 0))); // Kestrel's selector still gives it TouEndPoints only
        Assert.True(transport.CanBind(new TouEndPoint(IPAddress.Loopback, 0)));

        await using var listener = await transport.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var bound = Assert.IsType<IPEndPoint>(listener.EndPoint);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        Assert.NotEqual(0, bound.Port);

        var clients = new TouConnectionFactory();
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await clients.ConnectAsync(bound).AsTask().WaitAsync(Bound);
        await using var server = await accepting.WaitAsync(Bound);
        Assert.NotNull(server);

        await client.Transport.Output.WriteAsync("ping"u8.ToArray());
        var read = await server.Transport.Input.ReadAtLeastAsync(4).AsTask().WaitAsync(Bound);
        Assert.Equal("ping"u8.ToArray(), read.Buffer.Slice(0, 4).ToArray());
        server.Transport.Input.AdvanceTo(read.Buffer.GetPosition(4));
    }

    [Fact]
    public async Task BindAsync_still_refuses_endpoints_that_are_not_IP()
    {
        var transport = new TouTransportFactory();
        await Assert.ThrowsAsync<NotSupportedException>(() => transport.BindAsync(new UnixDomainSocketEndPoint("/tmp/tou-not-ip")).AsTask());
    }

    [Fact]
    public async Task A_client_connection_reports_the_local_address_its_peer_sees()
    {
        await using var listener = await new TouTransportFactory().BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await new TouConnectionFactory().ConnectAsync(listener.EndPoint).AsTask().WaitAsync(Bound);
        await using var server = await accepting.WaitAsync(Bound);

        var local = Assert.IsType<IPEndPoint>(client.LocalEndPoint);
        Assert.Equal(IPAddress.Loopback, local.Address); // not 0.0.0.0
        Assert.Equal(server!.RemoteEndPoint, local);
        Assert.Equal(listener.EndPoint, client.RemoteEndPoint);
    }

    [Fact]
    public async Task An_IPv6_client_connection_reports_its_IPv6_local_address()
    {
        await using var listener = await new TouTransportFactory().BindAsync(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await new TouConnectionFactory().ConnectAsync(listener.EndPoint).AsTask().WaitAsync(Bound);
        await using var server = await accepting.WaitAsync(Bound);
        Assert.Equal(IPAddress.IPv6Loopback, Assert.IsType<IPEndPoint>(client.LocalEndPoint).Address);
        Assert.Equal(server!.RemoteEndPoint, client.LocalEndPoint);
    }

    [Fact]
    public async Task A_refused_connect_carries_a_ConnectionRefused_SocketException()
    {
        // A TOU endpoint that does not listen answers a SYN with RST.
        await using var notListening = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: false);
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => new TouConnectionFactory().ConnectAsync(notListening.LocalEndPoint).AsTask().WaitAsync(Bound));
        Assert.Equal(TouCloseReason.Refused, error.Reason);
        var socketError = Assert.IsType<SocketException>(error.GetBaseException());
        Assert.Equal(SocketError.ConnectionRefused, socketError.SocketErrorCode);
    }

    [Fact]
    public async Task A_connect_to_a_closed_port_is_refused_when_the_network_reports_it_not_after_the_handshake_timeout()
    {
        int port;
        using (var closed = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            closed.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound and closed again: the port answers with ICMP
            port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        }

        var options = new TouTransportOptions { Protocol = { HandshakeTimeout = TimeSpan.FromMinutes(10) } };
        var clients = new TouConnectionFactory(Options.Create(options));
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => clients.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).AsTask().WaitAsync(Bound));
        Assert.Equal(TouCloseReason.Refused, error.Reason);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(error.GetBaseException()).SocketErrorCode);
    }

    [Fact]
    public async Task An_unanswered_connect_carries_a_TimedOut_SocketException()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // takes the SYNs, says nothing
        var options = new TouTransportOptions { Protocol = { HandshakeTimeout = TimeSpan.FromSeconds(1), InitialRto = TimeSpan.FromMilliseconds(200) } };
        var clients = new TouConnectionFactory(Options.Create(options));
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => clients.ConnectAsync(silent.LocalEndPoint!).AsTask().WaitAsync(Bound));
        Assert.Equal(TouCloseReason.HandshakeTimeout, error.Reason);
        Assert.Equal(SocketError.TimedOut, Assert.IsType<SocketException>(error.InnerException).SocketErrorCode);
    }

    [Fact]
    public async Task HttpClient_over_TOU_reports_a_refused_connect_with_the_socket_error_underneath()
    {
        await using var notListening = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: false);
        using var http = TouHttp.CreateClient(new Uri($"http://{notListening.LocalEndPoint}/"));
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync("/").WaitAsync(Bound));
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(error.GetBaseException()).SocketErrorCode);
    }

    [Fact]
    public async Task ListenLocalhostTou_serves_IPv4_and_IPv6_loopback_on_one_port()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions().ListenLocalhostTou(0));

        // A fixed port is what ListenLocalhostTou takes; another process may take the one picked here, so try a few.
        for (int attempt = 1; ; attempt++)
        {
            int port = FreeUdpPortOnBothLoopbacks();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseTou();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhostTou(port));
            await using var app = builder.Build();
            app.MapGet("/", (HttpContext context) => context.Connection.LocalIpAddress!.ToString());
            try
            {
                await app.StartAsync();
            }
            catch (IOException) when (attempt < 5)
            {
                continue; // AddressInUseException: the port was taken meanwhile
            }

            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            Assert.Contains($"http://tou:127.0.0.1:{port}", addresses);
            Assert.Contains($"http://tou:[::1]:{port}", addresses);
            using var v4 = TouHttp.CreateClient(new Uri($"http://127.0.0.1:{port}/"));
            using var v6 = TouHttp.CreateClient(new Uri($"http://[::1]:{port}/"));
            Assert.Equal("127.0.0.1", await v4.GetStringAsync("/").WaitAsync(Bound));
            Assert.Equal("::1", await v6.GetStringAsync("/").WaitAsync(Bound));
            await app.StopAsync();
            return;
        }
    }

    private static int FreeUdpPortOnBothLoopbacks()
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            v4.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)v4.LocalEndPoint!).Port;
            using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                v6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }

        throw new InvalidOperationException("No UDP port free on both 127.0.0.1 and [::1].");
    }
}
