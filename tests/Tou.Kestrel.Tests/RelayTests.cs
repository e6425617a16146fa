using System.Net;
using System.Net.Sockets;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Kestrel.Tests;

/// <summary>The impairment relay on its own: forwarding both ways, per-direction loss, corruption.</summary>
public class RelayTests
{
    [Fact]
    public async Task Forwards_both_ways_and_applies_each_directions_impairments()
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 * 1024 * 1024 };
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var up = new LinkProfile { LossRate = 0.2, Delay = TimeSpan.FromMilliseconds(2) };
        var down = new LinkProfile { CorruptRate = 1.0 };
        await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), (IPEndPoint)server.LocalEndPoint!, up, down, seed: 4);

        const int count = 2000;
        var payload = new byte[100];
        for (int i = 0; i < count; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            await client.SendToAsync(payload, relay.LocalEndPoint);
        }

        // Everything the relay admitted arrives; then the server answers each datagram once.
        var buffer = new byte[2048];
        var from = new IPEndPoint(IPAddress.Any, 0);
        int received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        EndPoint? upstream = null;
        while (received < count - relay.ClientToServer.Lost)
        {
            var r = await server.ReceiveFromAsync(buffer, from, timeout.Token);
            upstream = r.RemoteEndPoint;
            received++;
        }

        Assert.Equal(count, relay.ClientToServer.Received);
        Assert.InRange(relay.ClientToServer.Lost, count * 0.15, count * 0.25);
        Assert.Equal(count - relay.ClientToServer.Lost, received);

        var reply = new byte[100];
        await server.SendToAsync(reply, upstream!);
        var back = await client.ReceiveFromAsync(buffer, from, timeout.Token);
        Assert.Equal(100, back.ReceivedBytes);
        Assert.Contains(buffer.Take(100), b => b != 0); // the way back corrupts every datagram
        Assert.Equal(1, relay.ServerToClient.Corrupted);
    }
}
