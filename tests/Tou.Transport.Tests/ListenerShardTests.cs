using System.Net;
using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport.Tests;

/// <summary>
/// A listening port served by several SO_REUSEPORT sockets (<see cref="TouTransportOptions.ListenerShards"/>): connections
/// spread over the shards, every one moves its data byte-exact, and closing the listener closes every socket.
/// </summary>
public class ListenerShardTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static TouTransportOptions Options(int shards, int maxPendingHandshakes = 1_024) => new()
    {
        ListenerShards = shards,
        SocketReceiveBufferSize = 0, // many sockets at once: the system default is plenty for these transfers
        SocketSendBufferSize = 0,
        Protocol = new TouOptions { MaxPendingHandshakes = maxPendingHandshakes },
    };

    /// <summary>Each side writes its own pattern (seeded by the client's port) and reads the other's to the end.</summary>
    private static async Task<(StreamCheck Received, byte[] SentHash)> ExchangeAsync(TouSocketConnection connection, ulong sendSeed, ulong receiveSeed, long length, CancellationToken token)
    {
        var received = new StreamCheck(receiveSeed, length);
        var reading = PatternPipes.ReadAsync(connection.Transport.Input, received, null, token);
        var sentHash = await PatternPipes.WriteAsync(connection.Transport.Output, sendSeed, length, token);
        await reading;
        return (received, sentHash);
    }

    private static async Task<List<(TouSocketConnection Connection, StreamCheck Received, byte[] SentHash)>> ServeAsync(TouSocketListener listener, int count, long length, CancellationToken token)
    {
        var serving = new List<Task<(TouSocketConnection, StreamCheck, byte[])>>();
        for (int i = 0; i < count; i++)
        {
            var connection = await listener.AcceptAsync(token) ?? throw new InvalidOperationException("The listener stopped accepting.");
            ulong port = (ulong)connection.RemoteEndPoint.Port;
            serving.Add(Task.Run(async () =>
            {
                var (received, sent) = await ExchangeAsync(connection, 0xD0000 + port, 0xC0000 + port, length, token);
                return (connection, received, sent);
            }));
        }

        return [.. await Task.WhenAll(serving)];
    }

    private static async Task<(StreamCheck Received, byte[] SentHash, TouSocketConnection Connection)> ClientAsync(IPEndPoint server, TouTransportOptions options, long length, CancellationToken token)
    {
        var connection = await TouSocketConnection.ConnectAsync(server, options, cancellationToken: token); // its own socket: a 4-tuple of its own
        ulong port = (ulong)connection.LocalEndPoint.Port;
        var (received, sent) = await ExchangeAsync(connection, 0xC0000 + port, 0xD0000 + port, length, token);
        return (received, sent, connection);
    }

    [Theory]
    [InlineData(4, 64, 1_024)]
    [InlineData(4, 16, 0)] // every handshake stateless: SYN cookies under the shards' shared secret
    public async Task Connections_spread_over_the_shards_and_all_move_their_data_byte_exact(int shards, int connections, int maxPendingHandshakes)
    {
        const long Length = 256 * 1024;
        int baseline = TouSocketEndpoint.OpenEndpoints;
        using var deadline = new CancellationTokenSource(Timeout);
        var options = Options(shards, maxPendingHandshakes);
        var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        int expectedShards = OperatingSystem.IsLinux() ? shards : 1;
        Assert.Equal(expectedShards, listener.Shards.Count);
        Assert.Equal(baseline + expectedShards, TouSocketEndpoint.OpenEndpoints);
        Assert.All(listener.Shards, s => Assert.Equal(listener.LocalEndPoint, s.LocalEndPoint));
        var secret = listener.Shards[0].Options.Protocol.EndpointSecret;
        Assert.All(listener.Shards, s => Assert.Same(secret, s.Options.Protocol.EndpointSecret));

        var server = ServeAsync(listener, connections, Length, deadline.Token);
        var clients = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(() => ClientAsync(listener.LocalEndPoint, Options(1), Length, deadline.Token))));
        var served = await server;

        foreach (var (received, sentHash, connection) in clients)
        {
            Assert.True(received.EndedCleanly && received.WrongBytes == 0 && received.Length == Length, $"client {connection.LocalEndPoint}: {received}");
        }

        var clientSent = clients.ToDictionary(c => c.Connection.LocalEndPoint.Port, c => c.SentHash);
        foreach (var (connection, received, sentHash) in served)
        {
            Assert.True(received.EndedCleanly && received.WrongBytes == 0 && received.Length == Length, $"server side of {connection.RemoteEndPoint}: {received}");
            Assert.Equal(clientSent[connection.RemoteEndPoint.Port], received.Hash);
        }

        // Every shard's connections are its own: together they are all of them, and (on Linux) more than one shard has some.
        var perShard = served.GroupBy(s => s.Connection.Endpoint).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(perShard.Keys, shard => Assert.Contains(shard, listener.Shards));
        Assert.Equal(connections, perShard.Values.Sum());
        if (expectedShards > 1)
        {
            Assert.True(perShard.Count > 1, $"all {connections} connections landed on one shard");
        }

        foreach (var c in clients)
        {
            await c.Connection.DisposeAsync();
        }

        foreach (var s in served)
        {
            await s.Connection.DisposeAsync();
        }

        await listener.DrainAsync(deadline.Token);
        await listener.Completion.WaitAsync(deadline.Token);
        Assert.All(listener.Shards, s => Assert.True(s.Completion.IsCompleted));
        await WaitForEndpointsAsync(baseline, clients.Select(c => c.Connection), deadline.Token);
    }

    /// <summary>A client's own endpoint closes once its connection has ended; its Completion says when.</summary>
    private static async Task WaitForEndpointsAsync(int expected, IEnumerable<TouSocketConnection> clients, CancellationToken token)
    {
        await Task.WhenAll(clients.Select(c => c.Endpoint.Completion)).WaitAsync(token);
        Assert.Equal(expected, TouSocketEndpoint.OpenEndpoints);
    }

    /// <summary>
    /// The kernel picks a shard by hashing the 4-tuple modulo the group's size, so a shard that closed its socket early
    /// would move the others' peers onto sockets that do not know them, and connections still delivering their last
    /// bytes would lose their ACKs (and linger until they give up). A drained shard therefore keeps its socket until
    /// every shard is done.
    /// </summary>
    [Fact]
    public async Task A_drained_shard_keeps_its_socket_until_connections_on_other_shards_have_delivered_everything()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // one socket elsewhere: nothing to keep open together
        }

        const long Length = 512 * 1024; // more than the client's window and pipe take: the server's close has to linger
        int baseline = TouSocketEndpoint.OpenEndpoints;
        using var deadline = new CancellationTokenSource(Timeout);
        var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(4));
        var clientOptions = Options(1);
        clientOptions.Protocol.ReceiveBufferSize = 64 * 1024;
        clientOptions.InputPauseThreshold = 64 * 1024;

        // Connect until connections sit on three shards (each client's own port hashes on its own).
        var pairs = new List<(TouSocketConnection Client, TouSocketConnection Server)>();
        for (int i = 0; i < 64 && pairs.Select(p => p.Server.Endpoint).Distinct().Count() < 3; i++)
        {
            var client = await TouSocketConnection.ConnectAsync(listener.LocalEndPoint, clientOptions, cancellationToken: deadline.Token);
            var server = await listener.AcceptAsync(deadline.Token) ?? throw new InvalidOperationException("The listener stopped accepting.");
            pairs.Add((client, server));
        }

        // The first connection of two shards lingers; every other connection ends, so the third shard drains.
        var byShard = pairs.GroupBy(p => p.Server.Endpoint).ToList();
        Assert.True(byShard.Count >= 3, $"{pairs.Count} connections landed on {byShard.Count} shards");
        var lingering = new[] { byShard[0].First(), byShard[1].First() };
        var drainedShard = byShard[2].Key;
        foreach (var (client, server) in pairs.Except(lingering))
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
            await Task.WhenAll(ConnectionTasks.ClosedAsync(client), ConnectionTasks.ClosedAsync(server)).WaitAsync(deadline.Token);
        }

        // Each lingering server writes more than its client takes and closes; then the listener is disposed.
        var sentHashes = new List<byte[]>();
        foreach (var (_, server) in lingering)
        {
            sentHashes.Add(await PatternPipes.WriteAsync(server.Transport.Output, (ulong)server.RemoteEndPoint.Port, Length, deadline.Token));
            await server.DisposeAsync();
        }

        await listener.DisposeAsync();
        Assert.True(drainedShard.IsClosingSocket, "a shard without connections drains at once");
        Assert.All(listener.Shards, s => Assert.False(s.Completion.IsCompleted, "every socket of the group stays open while a shard delivers"));

        for (int i = 0; i < lingering.Length; i++)
        {
            var client = lingering[i].Client;
            using var received = new StreamCheck((ulong)client.LocalEndPoint.Port, Length);
            await PatternPipes.ReadAsync(client.Transport.Input, received, null, deadline.Token);
            Assert.True(received.EndedCleanly && received.WrongBytes == 0 && received.Length == Length, received.ToString());
            Assert.Equal(sentHashes[i], received.Hash);
            await client.DisposeAsync();
        }

        await listener.Completion.WaitAsync(deadline.Token);
        await WaitForEndpointsAsync(baseline, pairs.Select(p => p.Client), deadline.Token);
    }

    [Fact]
    public async Task A_listener_of_one_shard_is_one_socket_and_serves_as_before()
    {
        const long Length = 1024 * 1024;
        int baseline = TouSocketEndpoint.OpenEndpoints;
        using var deadline = new CancellationTokenSource(Timeout);
        var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(1));
        var shard = Assert.Single(listener.Shards);
        Assert.Null(shard.Options.Protocol.EndpointSecret); // one socket: its own random key, as a plain endpoint has
        Assert.Equal(baseline + 1, TouSocketEndpoint.OpenEndpoints);
        Assert.True(listener.IsListening);

        var server = ServeAsync(listener, 3, Length, deadline.Token);
        var clients = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ClientAsync(listener.LocalEndPoint, Options(1), Length, deadline.Token)));
        var served = await server;
        Assert.All(clients, c => Assert.True(c.Received.WrongBytes == 0 && c.Received.Length == Length, c.Received.ToString()));
        Assert.All(served, s => Assert.True(s.Received.WrongBytes == 0 && s.Received.Length == Length, s.Received.ToString()));
        Assert.All(served, s => Assert.Same(shard, s.Connection.Endpoint));

        listener.StopListening();
        Assert.False(listener.IsListening);
        Assert.Null(await listener.AcceptAsync(deadline.Token));
        foreach (var c in clients.Select(c => c.Connection).Concat(served.Select(s => s.Connection)))
        {
            await c.DisposeAsync();
        }

        await listener.DrainAsync(deadline.Token);
        await WaitForEndpointsAsync(baseline, clients.Select(c => c.Connection), deadline.Token);
    }

    [Fact]
    public async Task Disposing_a_sharded_listener_closes_every_socket_and_ends_accepting()
    {
        int baseline = TouSocketEndpoint.OpenEndpoints;
        using var deadline = new CancellationTokenSource(Timeout);
        var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(3));
        var pending = listener.AcceptAsync(deadline.Token).AsTask();
        await listener.DisposeAsync();
        Assert.Null(await pending.WaitAsync(deadline.Token));
        await listener.Completion.WaitAsync(deadline.Token);
        Assert.Equal(baseline, TouSocketEndpoint.OpenEndpoints);
    }

    [Fact]
    public async Task A_port_held_by_a_sharded_listener_cannot_be_bound_again()
    {
        using var deadline = new CancellationTokenSource(Timeout);
        await using var first = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), Options(2));
        var error = Assert.Throws<SocketException>(() => TouSocketListener.Bind(first.LocalEndPoint, Options(2)));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Throws<SocketException>(() => TouSocketEndpoint.Bind(first.LocalEndPoint, Options(1), listen: true));
        Assert.Equal(first.Shards.Count, first.Shards.Count(s => !s.Completion.IsCompleted));
    }

    [Fact]
    public async Task A_sharded_listener_binds_a_port_that_was_asked_for()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await using var listener = TouSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, port), Options(2));
        Assert.Equal(port, listener.LocalEndPoint.Port);
        Assert.All(listener.Shards, s => Assert.Equal(port, s.LocalEndPoint.Port));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(TouTransportOptions.MaxListenerShards + 1)]
    public void ListenerShards_out_of_range_is_refused_by_name(int shards)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TouTransportOptions { ListenerShards = shards }.Validate());
        Assert.Contains(nameof(TouTransportOptions.ListenerShards), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_is_one_shard_per_processor_where_the_kernel_spreads_load()
    {
        int expected = OperatingSystem.IsLinux() ? Math.Clamp(Environment.ProcessorCount, 1, TouTransportOptions.MaxListenerShards) : 1;
        Assert.Equal(expected, new TouTransportOptions().ResolveListenerShards());
        Assert.Equal(OperatingSystem.IsLinux() ? 5 : 1, new TouTransportOptions { ListenerShards = 5 }.ResolveListenerShards());
    }
}
