using System.Diagnostics;
using System.Net;
using Tou.Protocol;
using Tou.Relay;
using Tou.Simulation;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// Real sockets through <see cref="ImpairmentRelay"/> flipping bytes in 1% of the datagrams each way, after
/// UDP's checksum (as a broken middlebox or NIC would): with default options every transfer must still arrive
/// byte-exact and end gracefully. (The engine-level corruption scenarios are in Tou.Protocol.Tests.)
/// dotnet test tests/Tou.Transport.Tests --filter FullyQualifiedName~RealSocketCorruption --logger "console;verbosity=detailed"
/// </summary>
[Collection(nameof(ChurnTests))]
public class RealSocketCorruptionTests(ITestOutputHelper output)
{
    private const int Transfers = 70;
    private const int Concurrency = 5;
    private const int MinSize = 128 * 1024;
    private const int MaxSize = 1024 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(55);
    private static readonly TimeSpan TransferDeadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Transfers_through_a_path_corrupting_one_datagram_in_a_hundred_arrive_byte_exact_with_default_options()
    {
        int baseline = TouSocketEndpoint.OpenEndpoints;
        var stopwatch = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Deadline);
        var random = new Random(20_261);
        var plan = Enumerable.Range(0, Transfers)
            .Select(i => (Upload: random.Next(MinSize, MaxSize + 1), Download: random.Next(MinSize, MaxSize + 1)))
            .ToArray();
        var results = new TransferResult[Transfers];
        int next = -1;
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Transfers && !deadline.IsCancellationRequested)
            {
                results[i] = await TransferAsync(i, plan[i].Upload, plan[i].Download, deadline.Token);
            }
        })).ToArray();
        await Task.WhenAll(workers);

        var run = results.Where(r => r is not null).ToArray();
        var bad = run.Where(r => r.Problem is not null).ToArray();
        long corrupted = run.Sum(r => r.Corrupted);
        long datagrams = run.Sum(r => r.Datagrams);
        output.WriteLine($"{run.Length} of {Transfers} transfers run in {stopwatch.Elapsed.TotalSeconds:0.0} s, {Concurrency} at a time; relays corrupted {corrupted:N0} of {datagrams:N0} datagrams");
        output.WriteLine($"{bad.Length} transfers failed: {bad.Count(r => r.WrongData)} with wrong data ({run.Sum(r => r.WrongBytes):N0} wrong bytes in all), {bad.Count(r => !r.WrongData)} otherwise");
        foreach (var r in bad)
        {
            output.WriteLine($"  #{r.Index}: {r.Problem}");
        }

        Assert.Equal(baseline, TouSocketEndpoint.OpenEndpoints);
        Assert.True(run.Length == Transfers, $"only {run.Length} of {Transfers} transfers ran before the deadline");
        Assert.True(corrupted > 0, "the path must actually have corrupted datagrams");
        Assert.True(bad.Length == 0, $"{bad.Length} of {Transfers} transfers failed ({bad.Count(r => r.WrongData)} with wrong data): " +
            string.Join("; ", bad.Take(8).Select(r => $"#{r.Index}: {r.Problem}")));
    }

    /// <summary>One connection through its own corrupting relay: <paramref name="uploadSize"/> bytes up and <paramref name="downloadSize"/> down at once, then a graceful close.</summary>
    private static async Task<TransferResult> TransferAsync(int index, int uploadSize, int downloadSize, CancellationToken testDeadline)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(testDeadline);
        cts.CancelAfter(TransferDeadline);
        var token = cts.Token;
        ulong uploadSeed = 0xC0_0000UL + ((ulong)index * 2), downloadSeed = uploadSeed + 1;
        using var upload = new StreamCheck(uploadSeed, uploadSize);
        using var download = new StreamCheck(downloadSeed, downloadSize);
        var problems = new List<string>();
        var corrupting = new LinkProfile { CorruptRate = 0.01 };
        var result = new TransferResult { Index = index };

        var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new TouTransportOptions(), listen: true);
        var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new TouTransportOptions());
        var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), server.LocalEndPoint, corrupting, corrupting, seed: 1_000 + index);
        try
        {
            var accept = server.AcceptAsync(token).AsTask();
            TouSocketConnection clientConnection;
            try
            {
                clientConnection = await client.ConnectAsync(relay.LocalEndPoint, token);
            }
            catch (Exception ex) when (ex is TouConnectionException or OperationCanceledException)
            {
                await cts.CancelAsync();
                await ConnectionTasks.Outcome(accept, CancellationToken.None);
                problems.Add($"connect failed: {ex.Message}");
                return result;
            }

            TouSocketConnection serverConnection;
            try
            {
                serverConnection = (await accept)!;
            }
            catch (OperationCanceledException)
            {
                problems.Add("the server accepted nothing");
                await ConnectionTasks.DisposeBoundedAsync(clientConnection, abort: true);
                return result;
            }

            var clientClosed = ConnectionTasks.ClosedAsync(clientConnection);
            var serverClosed = ConnectionTasks.ClosedAsync(serverConnection);
            byte[]? uploadSent = null, downloadSent = null;
            var uploading = Task.Run(async () => uploadSent = await PatternPipes.WriteAsync(clientConnection.Transport.Output, uploadSeed, uploadSize, token));
            var downloading = Task.Run(async () => downloadSent = await PatternPipes.WriteAsync(serverConnection.Transport.Output, downloadSeed, downloadSize, token));
            await Task.WhenAll(
                PatternPipes.ReadAsync(serverConnection.Transport.Input, upload, null, token),
                PatternPipes.ReadAsync(clientConnection.Transport.Input, download, null, token));
            string uploadWriter = await ConnectionTasks.Outcome(uploading, token), downloadWriter = await ConnectionTasks.Outcome(downloading, token);
            string closing = await ConnectionTasks.Outcome(Task.WhenAll(clientClosed, serverClosed), token);
            var clientReason = clientConnection.CloseReason;
            var serverReason = serverConnection.CloseReason;
            bool stuck = closing != "done";
            string disposing = $"client {await ConnectionTasks.DisposeBoundedAsync(clientConnection, stuck)}, server {await ConnectionTasks.DisposeBoundedAsync(serverConnection, stuck)}";

            result.WrongBytes = upload.WrongBytes + download.WrongBytes;
            result.WrongData = result.WrongBytes > 0 || (upload.EndedCleanly && upload.Length != uploadSize) || (download.EndedCleanly && download.Length != downloadSize);
            if (upload.WrongBytes > 0 || upload.Length != uploadSize || !upload.EndedCleanly || uploadSent is null || !uploadSent.AsSpan().SequenceEqual(upload.Hash))
            {
                problems.Add($"upload {upload}, writer {uploadWriter}");
            }

            if (download.WrongBytes > 0 || download.Length != downloadSize || !download.EndedCleanly || downloadSent is null || !downloadSent.AsSpan().SequenceEqual(download.Hash))
            {
                problems.Add($"download {download}, writer {downloadWriter}");
            }

            if (clientReason != TouCloseReason.Graceful || serverReason != TouCloseReason.Graceful)
            {
                problems.Add($"closed {clientReason} (client), {serverReason} (server); closing {closing}");
            }

            if (disposing != "client done, server done")
            {
                problems.Add($"dispose: {disposing}");
            }

            return result;
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
            await relay.DisposeAsync();
            result.Corrupted = relay.ClientToServer.Corrupted + relay.ServerToClient.Corrupted;
            result.Datagrams = relay.ClientToServer.Received + relay.ServerToClient.Received;
            result.Problem = problems.Count == 0 ? null : string.Join("; ", problems);
        }
    }

    private sealed class TransferResult
    {
        public int Index { get; init; }

        public string? Problem { get; set; }

        public bool WrongData { get; set; }

        public long WrongBytes { get; set; }

        public long Corrupted { get; set; }

        public long Datagrams { get; set; }
    }
}
