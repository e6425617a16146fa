using System.Net;
using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests.Migration;

/// <summary>
/// Listener shards (SO_REUSEPORT sockets of one port, each with its own engine): the kernel steers a client's new
/// address to any shard, so a shard that gets a datagram whose connection ID names another shard hands it over
/// (<see cref="TouEndpoint.ShardForwarder"/>) instead of answering with an RST that would kill the connection.
/// </summary>
public class ShardForwardingTests
{
    private const long OneWayUs = 10_000;
    private static readonly SocketAddress ServerAddress = new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5000).Serialize();
    private static readonly SocketAddress OldClient = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize();
    private static readonly SocketAddress NewClient = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 41234).Serialize();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_rebound_client_steered_to_another_shard_reaches_the_shard_that_owns_its_connection(bool forward)
    {
        var secret = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        TouOptions ShardOptions() => new() { EnableConnectionIds = true, ConnectionIdServerId = 5, ConnectionIdServerIdLength = 1, EndpointSecret = secret, EnablePathMtuDiscovery = false };
        using var clientEndpoint = new TouEndpoint(new TouOptions { EnableConnectionIds = true, EnablePathMtuDiscovery = false }) { LocalPort = 40000 };
        using var shard0 = new TouEndpoint(ShardOptions()) { IsListening = true, LocalPort = 5000, ListenerShard = 0 };
        using var shard1 = new TouEndpoint(ShardOptions()) { IsListening = true, LocalPort = 5000, ListenerShard = 1 };
        var shards = new[] { shard0, shard1 };
        var inFlight = new PriorityQueue<(TouEndpoint To, SocketAddress From, byte[] Data), (long, long)>();
        long now = 1_000_000, seq = 0;
        var clientAddress = OldClient;
        if (forward)
        {
            foreach (var shard in shards)
            {
                // The owning shard gets it through its own queue, later: a shard never takes another's lock while holding its own.
                shard.ShardForwarder = (index, remote, datagram) =>
                {
                    if (index >= shards.Length)
                    {
                        return false;
                    }

                    inFlight.Enqueue((shards[index], remote, datagram.ToArray()), (now, seq++));
                    return true;
                };
            }
        }

        var client = clientEndpoint.Connect(now, ServerAddress);
        TouConnection? server = null;
        var buffer = new byte[65_536];
        var upload = StreamApp.RandomPayload(1, 400_000);
        var download = StreamApp.RandomPayload(2, 400_000);
        int written = 0, serverWritten = 0;
        var receivedByServer = new MemoryStream();
        var receivedByClient = new MemoryStream();
        for (int step = 0; step < 200_000 && !(receivedByServer.Length == upload.Length && receivedByClient.Length == download.Length); step++)
        {
            server ??= shard0.Accept();
            Assert.Null(shard1.Accept()); // the kernel keeps the client's first address on shard 0
            if (client.State == TouConnectionState.Established)
            {
                written += client.Write(upload.AsSpan(written));
                Drain(client, receivedByClient, buffer);
            }

            if (server is { State: TouConnectionState.Established })
            {
                serverWritten += server.Write(download.AsSpan(serverWritten));
                Drain(server, receivedByServer, buffer);
            }

            if (clientAddress == OldClient && receivedByServer.Length > upload.Length / 2)
            {
                clientAddress = NewClient; // the NAT rebinds; the kernel's hash now picks shard 1
            }

            if (client.State == TouConnectionState.Closed)
            {
                break;
            }

            int n;
            while ((n = clientEndpoint.PollTransmit(now, buffer, out _)) > 0)
            {
                inFlight.Enqueue((clientAddress == OldClient ? shard0 : shard1, clientAddress, buffer[..n]), (now + OneWayUs, seq++));
            }

            foreach (var shard in shards)
            {
                while ((n = shard.PollTransmit(now, buffer, out var to)) > 0)
                {
                    if (to!.Equals(clientAddress))
                    {
                        inFlight.Enqueue((clientEndpoint, ServerAddress, buffer[..n]), (now + OneWayUs, seq++));
                    }
                }
            }

            long next = Math.Min(clientEndpoint.NextDeadline, Math.Min(shard0.NextDeadline, shard1.NextDeadline));
            if (inFlight.TryPeek(out _, out var at))
            {
                next = Math.Min(next, at.Item1);
            }

            now = Math.Max(now, next);
            while (inFlight.TryPeek(out var d, out at) && at.Item1 <= now)
            {
                inFlight.Dequeue();
                d.To.HandleDatagram(now, d.From, d.Data);
            }

            clientEndpoint.HandleTimeouts(now);
            shard0.HandleTimeouts(now);
            shard1.HandleTimeouts(now);
        }

        Assert.NotNull(server);
        Assert.Equal(NewClient, clientAddress);
        if (forward)
        {
            Assert.Equal(upload, receivedByServer.ToArray());
            Assert.Equal(download, receivedByClient.ToArray());
            Assert.True(shard1.Stats.DatagramsForwarded > 0);
            Assert.Equal(0, shard1.Stats.ResetsSent);
            Assert.Equal(1, server.Stats.PathMigrations);
            Assert.Equal(NewClient, server.RemoteAddress);
        }
        else
        {
            // Without forwarding shard 1 knows nothing of the connection and resets it.
            Assert.True(shard1.Stats.ResetsSent > 0);
            Assert.Equal(TouCloseReason.ResetByPeer, client.CloseReason);
        }
    }

    private static void Drain(TouConnection connection, MemoryStream into, byte[] buffer)
    {
        int n;
        while ((n = connection.Read(buffer)) > 0)
        {
            into.Write(buffer, 0, n);
        }
    }
}
