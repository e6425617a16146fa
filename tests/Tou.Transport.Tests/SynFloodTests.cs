using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Tou.Protocol;
using Tou.Protocol.Wire;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// A SYN flood over real sockets from spoofed 127.0.0.0/8 sources (sockets bound to many loopback addresses)
/// while a legitimate client uploads byte-exact and closes cleanly. Figures are printed, not asserted:
/// dotnet test tests/Tou.Transport.Tests --filter FullyQualifiedName~SynFlood --logger "console;verbosity=detailed"
/// </summary>
[Collection(nameof(ChurnTests))]
public class SynFloodTests(ITestOutputHelper output)
{
    private const int Sources = 500;
    private const int SynsPerSource = 60;

    [Fact]
    public async Task A_flood_from_spoofed_loopback_sources_does_not_stop_a_legitimate_transfer()
    {
        var options = new TouTransportOptions { Protocol = new TouOptions { MaxPendingHandshakes = 256 } };
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options, listen: true);
        var payload = RandomNumberGenerator.GetBytes(20_000_000);

        double baseline = await TransferAsync(server, payload);
        long memoryBefore = Heap();
        long received0 = server.ReadStats(s => s.DatagramsReceived);

        using var stop = new CancellationTokenSource();
        var attackers = Enumerable.Range(0, Sources).Select(i =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(new IPAddress([127, (byte)(10 + (i / 250)), (byte)((i % 250) + 1), 7]), 0));
            return socket;
        }).ToList();
        var flooding = Stopwatch.StartNew();
        var flood = Task.Run(async () =>
        {
            var syn = new byte[TouHeader.Size];
            var rng = new Random(3);
            for (int round = 0; round < SynsPerSource && !stop.IsCancellationRequested; round++)
            {
                foreach (var socket in attackers)
                {
                    new TouHeader { SourcePort = 1, DestinationPort = 2, SequenceNumber = (uint)rng.Next(), Flags = TouFlags.Syn, Window = 65535, Mss = 1400 }.Write(syn);
                    await socket.SendToAsync(syn, server.LocalEndPoint);
                }
            }
        });

        double during = await TransferAsync(server, payload);
        long memoryDuring = GC.GetTotalMemory(forceFullCollection: false);
        int connectionsDuring = server.ConnectionCount;
        await flood;
        double floodSeconds = flooding.Elapsed.TotalSeconds;
        long synsReceived = server.ReadStats(s => s.DatagramsReceived) - received0;
        long cookies = server.ReadStats(s => s.SynCookiesSent);
        foreach (var socket in attackers)
        {
            socket.Dispose();
        }

        long memoryAfter = Heap();
        output.WriteLine($"flood: {Sources * SynsPerSource:N0} SYNs sent from {Sources} loopback addresses in {floodSeconds:0.00} s; server took in {synsReceived:N0} datagrams ({synsReceived / floodSeconds:N0}/s), {cookies:N0} answered with cookies");
        output.WriteLine($"20 MB upload: {baseline:0.00} s without the flood, {during:0.00} s during it");
        output.WriteLine($"managed heap: {memoryBefore / 1e6:0.0} MB before, {memoryDuring / 1e6:0.0} MB during, {memoryAfter / 1e6:0.0} MB after; {connectionsDuring} connections held during");

        Assert.True(connectionsDuring <= 256 + 2, $"{connectionsDuring} connections held during the flood");
        Assert.True(cookies > 0, "the handshake table filled and cookies took over");
    }

    /// <summary>Uploads the payload on a new connection, checks it byte-exact and the graceful close; returns seconds.</summary>
    private static async Task<double> TransferAsync(TouSocketEndpoint server, byte[] payload)
    {
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var stopwatch = Stopwatch.StartNew();
        var accept = AcceptAsync(server);
        var connection = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TimeSpan.FromSeconds(60));
        var serverSide = await accept.WaitAsync(TimeSpan.FromSeconds(60));
        var writing = Task.Run(async () =>
        {
            await connection.Transport.Output.WriteAsync(payload);
            await connection.Transport.Output.CompleteAsync();
        });
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (true)
        {
            var r = await serverSide.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            foreach (var segment in r.Buffer)
            {
                hash.AppendData(segment.Span);
            }

            serverSide.Transport.Input.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                break;
            }
        }

        await writing;
        await serverSide.DisposeAsync();
        var closed = new TaskCompletionSource();
        connection.Closed.Register(() => closed.TrySetResult());
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        double seconds = stopwatch.Elapsed.TotalSeconds;
        Assert.Equal(SHA256.HashData(payload), hash.GetCurrentHash());
        Assert.Equal(TouCloseReason.Graceful, connection.CloseReason);
        await connection.DisposeAsync();
        return seconds;
    }

    /// <summary>The next connection the server accepts from its (only) legitimate client.</summary>
    private static async Task<TouSocketConnection> AcceptAsync(TouSocketEndpoint server) => (await server.AcceptAsync())!;

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
