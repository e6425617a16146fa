using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using Tou.Protocol;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// <see cref="TouSocketConnection.RebindAsync"/> on real sockets: a client connection moves to a new local socket in the
/// middle of a transfer both ways; the server follows once the new address answered its challenge, nothing is lost.
/// </summary>
public class RebindTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    private static TouTransportOptions Options(bool ids) => new() { Protocol = new TouOptions { EnableConnectionIds = ids } };

    [Fact]
    public async Task A_client_moved_to_a_new_socket_mid_transfer_keeps_its_connection_byte_exact()
    {
        await using var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(ids: true));
        var acceptTask = listener.AcceptAsync().AsTask();
        await using var client = await TouSocketConnection.ConnectAsync(listener.LocalEndPoint, Options(ids: true)).WaitAsync(TestTimeout);
        await using var server = (await acceptTask.WaitAsync(TestTimeout))!;
        Assert.True(client.Negotiation.Extensions);
        var upload = RandomNumberGenerator.GetBytes(8_000_000);
        var download = RandomNumberGenerator.GetBytes(8_000_000);
        var before = client.LocalEndPoint;

        var clientReads = ReadAllAsync(client.Transport.Input);
        var serverReads = ReadAllAsync(server.Transport.Input);
        var serverWrites = WriteAllAsync(server.Transport.Output, download, () => Task.CompletedTask);
        await WriteAllAsync(client.Transport.Output, upload, () => client.RebindAsync()).WaitAsync(TestTimeout);

        Assert.Equal(upload, await serverReads.WaitAsync(TestTimeout));
        await serverWrites.WaitAsync(TestTimeout);
        Assert.Equal(download, await clientReads.WaitAsync(TestTimeout));
        Assert.NotEqual(before.Port, client.LocalEndPoint.Port);
        Assert.Equal(1, client.ReadStats((s, _, _) => s.LocalMigrations));
        Assert.Equal(1, server.ReadStats((s, _, _) => s.PathMigrations));
        Assert.Equal(0, server.ReadStats((s, _, _) => s.PathResets)); // the same loopback address, another port
    }

    [Fact]
    public async Task Repeated_moves_against_a_sharded_listener_reach_the_shard_that_owns_the_connection()
    {
        // Each new port hashes to either shard of the port; the one that does not own the connection forwards to the one
        // that does. Eight moves: all but certainly some land on the other shard, and none may draw an RST.
        var options = Options(ids: true);
        options.ListenerShards = 2;
        await using var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        var acceptTask = listener.AcceptAsync().AsTask();
        await using var client = await TouSocketConnection.ConnectAsync(listener.LocalEndPoint, Options(ids: true)).WaitAsync(TestTimeout);
        await using var server = (await acceptTask.WaitAsync(TestTimeout))!;
        var upload = RandomNumberGenerator.GetBytes(4_000_000);
        var serverReads = ReadAllAsync(server.Transport.Input);
        for (int move = 0; move < 8; move++)
        {
            await client.Transport.Output.WriteAsync(upload.AsMemory(move * 500_000, 500_000));
            await client.RebindAsync();
        }

        await client.Transport.Output.CompleteAsync();
        Assert.Equal(upload, await serverReads.WaitAsync(TestTimeout));
        Assert.Equal(8, client.ReadStats((s, _, _) => s.LocalMigrations));
        // Moves in quick succession are followed to the newest address (a newer candidate replaces one being validated).
        long migrations = server.ReadStats((s, _, _) => s.PathMigrations);
        Assert.InRange(migrations, 1, 8);
        long forwarded = listener.Shards.Sum(shard => shard.ReadStats(s => s.DatagramsForwarded));
        output.WriteLine($"8 moves, {migrations} followed, {forwarded} datagrams forwarded between shards");
        Assert.Equal(0, listener.Shards.Sum(shard => shard.ReadStats(s => s.ResetsSent))); // no shard took the client for a stranger
    }

    [Fact]
    public async Task Rebinding_needs_connection_ids_and_a_socket_of_its_own()
    {
        await using var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(ids: false));
        var acceptTask = listener.AcceptAsync().AsTask();
        await using var client = await TouSocketConnection.ConnectAsync(listener.LocalEndPoint, Options(ids: true)).WaitAsync(TestTimeout);
        await using var server = (await acceptTask.WaitAsync(TestTimeout))!;
        var before = client.LocalEndPoint;
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.RebindAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.RebindAsync());
        Assert.Equal(before, client.LocalEndPoint);

        // The connection still works on its old socket.
        await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 });
        var read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(TestTimeout);
        Assert.Equal(3, read.Buffer.Length);
    }

    /// <summary>
    /// A NAT rebinding on real sockets: halfway through a transfer both ways, the client's traffic starts leaving from a
    /// new source port (the proxy swaps its upstream socket; what the server sends to the old port is lost). With
    /// connection IDs the server validates the new port and follows, and every byte arrives; without them the server
    /// does not know the new 4-tuple and resets it, as docs/protocol.md §5.7 says, and the client sees the reset.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_NAT_rebinding_mid_transfer_is_followed_with_connection_ids_and_resets_the_connection_without(bool ids)
    {
        await using var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(ids));
        await using var nat = new InjectingProxy(listener.LocalEndPoint);
        var acceptTask = listener.AcceptAsync().AsTask();
        await using var client = await TouSocketConnection.ConnectAsync(nat.FrontEndPoint, Options(ids)).WaitAsync(TestTimeout);
        await using var server = (await acceptTask.WaitAsync(TestTimeout))!;
        var upload = RandomNumberGenerator.GetBytes(4_000_000);
        var download = RandomNumberGenerator.GetBytes(4_000_000);
        var firstPort = nat.UpstreamEndPoint.Port;

        var clientReads = ReadAllAsync(client.Transport.Input);
        var serverReads = ReadAllAsync(server.Transport.Input);
        var serverWrites = WriteAllAsync(server.Transport.Output, download, () => Task.CompletedTask);
        var clientWrites = WriteAllAsync(client.Transport.Output, upload, () =>
        {
            nat.Rebind();
            return Task.CompletedTask;
        });
        Assert.NotEqual(firstPort, nat.UpstreamEndPoint.Port);

        if (ids)
        {
            await clientWrites.WaitAsync(TestTimeout);
            Assert.Equal(upload, await serverReads.WaitAsync(TestTimeout));
            await serverWrites.WaitAsync(TestTimeout);
            Assert.Equal(download, await clientReads.WaitAsync(TestTimeout));
            Assert.Equal(1, server.ReadStats((s, _, _) => s.PathMigrations));
            Assert.Equal(0, server.ReadStats((s, _, _) => s.PathResets)); // a new port only: the path's state is kept
            Assert.Equal(nat.UpstreamEndPoint, server.RemoteEndPoint); // the server's handle shows where the peer is now
        }
        else
        {
            await ConnectionTasks.ClosedAsync(client).WaitAsync(TestTimeout);
            Assert.Equal(TouCloseReason.ResetByPeer, client.CloseReason);
            await Assert.ThrowsAnyAsync<Exception>(() => clientReads.WaitAsync(TestTimeout));
        }
    }

    /// <summary>Writes <paramref name="data"/> in 64 KB pieces, calling <paramref name="halfway"/> after the first half; completes the writer.</summary>
    private static async Task WriteAllAsync(PipeWriter writer, byte[] data, Func<Task> halfway)
    {
        bool moved = false;
        for (int offset = 0; offset < data.Length; offset += 65_536)
        {
            await writer.WriteAsync(data.AsMemory(offset, Math.Min(65_536, data.Length - offset)));
            if (!moved && offset >= data.Length / 2)
            {
                moved = true;
                await halfway();
            }
        }

        await writer.CompleteAsync();
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        using var received = new MemoryStream();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return received.ToArray();
            }
        }
    }
}
