using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;

namespace Tou.Transport.Tests;

/// <summary>
/// Connecting through <see cref="TouSocketEndpoint"/>: a cancelled attempt leaves <c>tou.connections.active</c>
/// where it was, and a destination nobody can answer from is refused at once.
/// </summary>
public class ConnectAccountingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_cancelled_connect_does_not_move_active_connections()
    {
        // This test's endpoints record to a meter of their own, so connections other tests left closing do not count.
        using var meterFactory = new TestMeterFactory();
        var options = new TouTransportOptions { MeterFactory = meterFactory };
        long active = 0;
        using var meter = new MeterListener();
        meter.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Name == "tou.connections.active")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meter.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref active, value));
        meter.Start();

        // A UDP port where nothing answers: it takes the SYN and says nothing.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var synArrived = silent.ReceiveFromAsync(new byte[2048], new IPEndPoint(IPAddress.Any, 0));
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        using (var cancel = new CancellationTokenSource())
        {
            var connecting = client.ConnectAsync((IPEndPoint)silent.LocalEndPoint!, cancel.Token);
            await synArrived.WaitAsync(Bound);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting.WaitAsync(Bound));
        }

        Assert.Equal(0, Interlocked.Read(ref active)); // before the fix: -1 (the abort counts a close of a connection never counted open)

        // Control: the listener sees this flow's connections (client and server side) open and close.
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        var accepting = server.AcceptAsync().AsTask();
        var outbound = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(Bound);
        var inbound = await accepting.WaitAsync(Bound);
        Assert.NotNull(inbound);
        Assert.Equal(2, Interlocked.Read(ref active));

        var closed = new[] { Closed(outbound), Closed(inbound) };
        await outbound.DisposeAsync();
        await inbound.DisposeAsync();
        await Task.WhenAll(closed).WaitAsync(Bound);
        Assert.Equal(0, Interlocked.Read(ref active));
    }

    [Theory]
    [InlineData("0.0.0.0", 5000)]
    [InlineData("255.255.255.255", 5000)]
    [InlineData("127.0.0.1", 0)]
    [InlineData("::", 5000)]
    public async Task Connecting_to_an_address_nobody_can_answer_from_fails_at_once_naming_it(string address, int port)
    {
        var remote = new IPEndPoint(IPAddress.Parse(address), port);
        var local = remote.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(local, 0));

        // Before the fix the attempt waits out the 10 s handshake timeout and fails with TouConnectionException.
        // 3 s is a generous bound on "at once", not a measured figure.
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => client.ConnectAsync(remote).WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Contains(remote.Address.ToString(), error.Message, StringComparison.Ordinal);

        // The same through the connection with a socket of its own (what TouConnectionFactory uses), which binds nothing.
        int endpoints = TouSocketEndpoint.OpenEndpoints;
        error = await Assert.ThrowsAnyAsync<ArgumentException>(() => TouSocketConnection.ConnectAsync(remote).WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Contains(remote.Address.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Equal(endpoints, TouSocketEndpoint.OpenEndpoints);
    }

    private static Task Closed(TouSocketConnection connection)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed.Register(() => closed.TrySetResult());
        return closed.Task;
    }
}
