using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using Tou.Protocol;

namespace Tou.Transport.Tests;

public class LoopbackTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    private static async Task WriteAllAsync(PipeWriter writer, byte[] data, bool complete)
    {
        for (int offset = 0; offset < data.Length; offset += 100_000)
        {
            await writer.WriteAsync(data.AsMemory(offset, Math.Min(100_000, data.Length - offset)));
        }

        if (complete)
        {
            await writer.CompleteAsync();
        }
    }

    private static async Task<byte[]> ReadToEndHashAsync(PipeReader reader)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return hash.GetCurrentHash();
            }
        }
    }

    [Theory]
    [InlineData("127.0.0.1", 1, true, false)]
    [InlineData("127.0.0.1", 20_000_000, true, false)]
    [InlineData("127.0.0.1", 20_000_000, false, false)]
    [InlineData("::1", 5_000_000, true, false)]
    [InlineData("127.0.0.1", 20_000_000, true, true)]
    public async Task Transfers_both_ways_byte_exact_and_closes_gracefully(string address, int size, bool offload, bool portableIo)
    {
        var ip = IPAddress.Parse(address);
        var options = new TouTransportOptions { UseSegmentationOffload = offload, UsePortableIo = portableIo };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(ip, 0), options, listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(ip, 0), options);

        // On Linux an I/O loop thread drives the sockets; the portable driving (async receives, a timer) is what other
        // systems use, and tests keep it working.
        Assert.Equal(OperatingSystem.IsLinux() && !portableIo, server.UsesIoLoop);
        Assert.Equal(server.UsesIoLoop, client.UsesIoLoop);
        var upload = RandomNumberGenerator.GetBytes(size);
        var download = RandomNumberGenerator.GetBytes(size / 2 + 1);

        var acceptTask = server.AcceptAsync().AsTask();
        var clientConnection = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TestTimeout);
        var serverConnection = (await acceptTask.WaitAsync(TestTimeout))!;
        Assert.Equal(client.LocalEndPoint.Port, serverConnection.RemoteEndPoint.Port);

        var work = Task.WhenAll(
            WriteAllAsync(clientConnection.Transport.Output, upload, complete: true),
            WriteAllAsync(serverConnection.Transport.Output, download, complete: true));
        var serverReceived = ReadToEndHashAsync(serverConnection.Transport.Input);
        var clientReceived = ReadToEndHashAsync(clientConnection.Transport.Input);

        Assert.Equal(SHA256.HashData(upload), await serverReceived.WaitAsync(TestTimeout));
        Assert.Equal(SHA256.HashData(download), await clientReceived.WaitAsync(TestTimeout));
        await work.WaitAsync(TestTimeout);

        var closed = new TaskCompletionSource();
        clientConnection.Closed.Register(() => closed.TrySetResult());
        await closed.Task.WaitAsync(TestTimeout);
        Assert.Equal(TouCloseReason.Graceful, clientConnection.CloseReason);
        await clientConnection.DisposeAsync();
        await serverConnection.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connecting_to_a_closed_port_is_refused_as_soon_as_the_network_reports_it(bool portableIo)
    {
        // A port bound and closed again: the kernel answers a datagram to it with an ICMP port unreachable, which the
        // connection's own (connected) socket reports. The handshake timeout is far beyond the test's bound.
        int port;
        using (var closed = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp))
        {
            closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        }

        var options = new TouTransportOptions { UsePortableIo = portableIo, Protocol = new TouOptions { HandshakeTimeout = TimeSpan.FromMinutes(10) } };
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => TouSocketConnection.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), options).WaitAsync(TestTimeout));
        Assert.Equal(TouCloseReason.Refused, error.Reason);
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, Assert.IsType<System.Net.Sockets.SocketException>(error.InnerException).SocketErrorCode);
    }

    [Fact]
    public async Task Connecting_to_a_port_nobody_listens_on_fails_within_the_handshake_timeout()
    {
        var options = new TouTransportOptions { Protocol = new TouOptions { HandshakeTimeout = TimeSpan.FromSeconds(1), InitialRto = TimeSpan.FromMilliseconds(200) } };
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        using var nobody = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        nobody.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound but silent: nothing answers
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => client.ConnectAsync((IPEndPoint)nobody.LocalEndPoint!).WaitAsync(TestTimeout));
        Assert.Equal(TouCloseReason.HandshakeTimeout, error.Reason);
        Assert.Contains("handshake", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Connecting_to_an_endpoint_that_does_not_listen_is_refused()
    {
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: false);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => client.ConnectAsync(server.LocalEndPoint).WaitAsync(TestTimeout));
        Assert.Equal(TouCloseReason.Refused, error.Reason);
    }

    [Fact]
    public async Task Binding_a_port_in_use_fails_like_tcp()
    {
        await using var first = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: true);
        var error = Assert.Throws<System.Net.Sockets.SocketException>(() => TouSocketEndpoint.Bind(first.LocalEndPoint, listen: true));
        Assert.Equal(System.Net.Sockets.SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }

    [Fact]
    public async Task A_peer_that_vanishes_ends_the_connection_after_the_idle_timeout_with_an_error()
    {
        var options = new TouTransportOptions { Protocol = new TouOptions { IdleTimeout = TimeSpan.FromSeconds(1), KeepAliveInterval = TimeSpan.FromMilliseconds(300) } };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        var acceptTask = server.AcceptAsync().AsTask();
        await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TestTimeout);
        var serverConnection = (await acceptTask.WaitAsync(TestTimeout))!;

        // The client's socket goes away without a word (as if its machine lost power): its engine is dropped unflushed.
        client.SimulateCrashForTests();

        var read = serverConnection.Transport.Input.ReadAsync().AsTask();
        var error = await Assert.ThrowsAsync<TouConnectionException>(() => read.WaitAsync(TestTimeout));
        Assert.Equal(TouCloseReason.IdleTimeout, error.Reason);
    }

    [Fact]
    public async Task Abort_resets_the_peer()
    {
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var acceptTask = server.AcceptAsync().AsTask();
        var clientConnection = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TestTimeout);
        var serverConnection = (await acceptTask.WaitAsync(TestTimeout))!;
        clientConnection.Abort(null);
        var error = await Assert.ThrowsAsync<TouConnectionException>(async () =>
        {
            while (true)
            {
                var r = await serverConnection.Transport.Input.ReadAsync().AsTask().WaitAsync(TestTimeout);
                serverConnection.Transport.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted) return;
            }
        });
        Assert.Equal(TouCloseReason.ResetByPeer, error.Reason);
    }
}
