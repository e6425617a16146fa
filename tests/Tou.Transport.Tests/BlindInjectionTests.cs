using System.Diagnostics;
using System.Net;
using Tou.Protocol;
using Tou.Protocol.Wire;
using Xunit.Abstractions;

namespace Tou.Transport.Tests;

/// <summary>
/// An off-path attacker who knows both addresses and ports but sees no packet sends data, ACK-flagged data
/// and FINs "from the peer's address" (through <see cref="InjectingProxy"/>) into both directions of a
/// 128 MB-each-way transfer; not one byte may change and both streams must end gracefully.
/// dotnet test tests/Tou.Transport.Tests --filter FullyQualifiedName~BlindInjection --logger "console;verbosity=detailed"
/// </summary>
[Collection(nameof(ChurnTests))]
public class BlindInjectionTests(ITestOutputHelper output)
{
    private const long StreamBytes = 128L * 1024 * 1024;
    private const ulong UploadSeed = 0x5EED_0001;
    private const ulong DownloadSeed = 0x5EED_0002;
    private const int SweepPackets = 2048;          // 2 MiB apart: the whole 32-bit space
    private const uint SweepSpacing = 2u << 20;
    private const int AckSweeps = 8;
    private const int FinPackets = 1024;            // 4 MiB apart: the whole 32-bit space
    private const int FinSweeps = 4;                // each lands about one FIN in the window's free part
    private const uint FinSpacing = 4u << 20;
    private const int InjectedPayload = 1000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Blind_data_ack_and_fin_sweeps_from_the_peers_address_change_no_byte_and_end_no_stream()
    {
        int baseline = TouSocketEndpoint.OpenEndpoints;
        var stopwatch = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Deadline);
        using var upload = new StreamCheck(UploadSeed, StreamBytes);
        using var download = new StreamCheck(DownloadSeed, StreamBytes);
        var progress = new Milestones();
        byte[]? uploadSent = null, downloadSent = null;
        string uploadWriter = "not finished", downloadWriter = "not finished", attack = "not finished", closing = "not finished", disposing = "not run";
        TouCloseReason clientReason = TouCloseReason.None, serverReason = TouCloseReason.None;
        IPEndPoint? serverSeesClientAs = null;
        long injectedToServer, injectedToClient, forwardedToServer, forwardedToClient;

        var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: true);
        var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var proxy = new InjectingProxy(server.LocalEndPoint);
        try
        {
            var accept = server.AcceptAsync(deadline.Token).AsTask();
            var clientConnection = await client.ConnectAsync(proxy.FrontEndPoint, deadline.Token);
            var serverConnection = (await accept)!;
            serverSeesClientAs = serverConnection.RemoteEndPoint;
            var clientClosed = ConnectionTasks.ClosedAsync(clientConnection);
            var serverClosed = ConnectionTasks.ClosedAsync(serverConnection);

            var writers = new[]
            {
                Task.Run(async () => uploadSent = await PatternPipes.WriteAsync(clientConnection.Transport.Output, UploadSeed, StreamBytes, deadline.Token)),
                Task.Run(async () => downloadSent = await PatternPipes.WriteAsync(serverConnection.Transport.Output, DownloadSeed, StreamBytes, deadline.Token)),
            };
            var readers = new[]
            {
                Task.Run(() => PatternPipes.ReadAsync(serverConnection.Transport.Input, upload, n => progress.Report(0, n), deadline.Token)),
                Task.Run(() => PatternPipes.ReadAsync(clientConnection.Transport.Input, download, n => progress.Report(1, n), deadline.Token)),
            };
            var attacking = Task.Run(() => AttackAsync(proxy, (ushort)server.LocalEndPoint.Port, (ushort)client.LocalEndPoint.Port, progress, deadline.Token));

            await Task.WhenAll(readers); // each ends by itself: end of stream, error, or the deadline
            attack = await ConnectionTasks.Outcome(attacking, deadline.Token);
            uploadWriter = await ConnectionTasks.Outcome(writers[0], deadline.Token);
            downloadWriter = await ConnectionTasks.Outcome(writers[1], deadline.Token);
            closing = await ConnectionTasks.Outcome(Task.WhenAll(clientClosed, serverClosed), deadline.Token);
            clientReason = clientConnection.CloseReason;
            serverReason = serverConnection.CloseReason;
            bool stuck = closing != "done";
            disposing = $"client {await ConnectionTasks.DisposeBoundedAsync(clientConnection, stuck)}, server {await ConnectionTasks.DisposeBoundedAsync(serverConnection, stuck)}";
        }
        finally
        {
            injectedToServer = proxy.InjectedToServer;
            injectedToClient = proxy.InjectedToClient;
            forwardedToServer = proxy.ForwardedToServer;
            forwardedToClient = proxy.ForwardedToClient;
            await client.DisposeAsync();
            await server.DisposeAsync();
            await proxy.DisposeAsync();
        }

        output.WriteLine($"{stopwatch.Elapsed.TotalSeconds:0.0} s; attack: {attack}; injected {injectedToServer:N0} datagrams into the server and {injectedToClient:N0} into the client; proxy forwarded {forwardedToServer:N0} up and {forwardedToClient:N0} down");
        output.WriteLine($"upload (client -> server): {upload}; writer: {uploadWriter}; server's close: {serverReason}");
        output.WriteLine($"download (server -> client): {download}; writer: {downloadWriter}; client's close: {clientReason}");
        output.WriteLine($"closing: {closing}; dispose: {disposing}");

        int perDirection = SweepPackets * (1 + AckSweeps) + (FinPackets * FinSweeps);
        Assert.Equal(proxy.UpstreamEndPoint, serverSeesClientAs); // the injected datagrams come from the address the server knows
        Assert.True(upload.WrongBytes == 0 && upload.Length == StreamBytes && upload.EndedCleanly, $"upload: {upload}");
        Assert.True(download.WrongBytes == 0 && download.Length == StreamBytes && download.EndedCleanly, $"download: {download}");
        Assert.Equal(uploadSent, upload.Hash);
        Assert.Equal(downloadSent, download.Hash);
        Assert.True(uploadWriter == "done" && downloadWriter == "done", $"writers: upload {uploadWriter}, download {downloadWriter}");
        Assert.True(attack == "done", $"attack: {attack}");
        Assert.Equal(perDirection, injectedToServer);
        Assert.Equal(perDirection, injectedToClient);
        Assert.Equal(TouCloseReason.Graceful, clientReason);
        Assert.Equal(TouCloseReason.Graceful, serverReason);
        Assert.True(disposing == "client done, server done", $"dispose: {disposing}");
        Assert.Equal(baseline, TouSocketEndpoint.OpenEndpoints);
    }

    /// <summary>
    /// The blind attack, in bursts at points of the transfer's progress (signals, not time): one sweep of
    /// flagless data across the whole sequence space, eight sweeps of ACK-flagged data with random
    /// acknowledgement numbers, four sweeps of FINs without ACK — each into both directions.
    /// </summary>
    private static async Task AttackAsync(InjectingProxy proxy, ushort serverPort, ushort clientPort, Milestones progress, CancellationToken cancellationToken)
    {
        var random = new Random(7_1234);
        var datagram = new byte[TouHeader.Size + InjectedPayload];
        await proxy.ClientKnown.WaitAsync(cancellationToken);

        void Sweep(TouFlags flags, int count, uint spacing, int payload, bool randomAck)
        {
            uint toServerBase = (uint)random.NextInt64(0, 1L << 32), toClientBase = (uint)random.NextInt64(0, 1L << 32);
            for (int i = 0; i < count; i++)
            {
                random.NextBytes(datagram.AsSpan(TouHeader.Size, payload));
                Build(datagram, (ushort)proxy.UpstreamEndPoint.Port, serverPort, unchecked(toServerBase + ((uint)i * spacing)), flags, payload, randomAck ? (uint)random.NextInt64(0, 1L << 32) : 0);
                proxy.InjectToServer(datagram.AsSpan(0, TouHeader.Size + payload));
                Build(datagram, (ushort)proxy.FrontEndPoint.Port, clientPort, unchecked(toClientBase + ((uint)i * spacing)), flags, payload, randomAck ? (uint)random.NextInt64(0, 1L << 32) : 0);
                proxy.InjectToClient(datagram.AsSpan(0, TouHeader.Size + payload));
            }
        }

        const long step = StreamBytes / 16;
        await progress.WhenBothReach(step).WaitAsync(cancellationToken);
        Sweep(TouFlags.None, SweepPackets, SweepSpacing, InjectedPayload, randomAck: false);
        for (int s = 0; s < AckSweeps; s++)
        {
            await progress.WhenBothReach((2 + s) * step).WaitAsync(cancellationToken);
            Sweep(TouFlags.Ack, SweepPackets, SweepSpacing, InjectedPayload, randomAck: true);
        }

        for (int s = 0; s < FinSweeps; s++)
        {
            await progress.WhenBothReach((2 + AckSweeps + s) * step).WaitAsync(cancellationToken);
            Sweep(TouFlags.Fin, FinPackets, FinSpacing, payload: 0, randomAck: false);
        }
    }

    private static void Build(byte[] datagram, ushort sourcePort, ushort destinationPort, uint seq, TouFlags flags, int payload, uint ack) =>
        new TouHeader
        {
            SourcePort = sourcePort,
            DestinationPort = destinationPort,
            SequenceNumber = seq,
            AcknowledgementNumber = ack,
            Flags = flags,
            Window = 65535,
            PayloadLength = (ushort)payload,
            Mss = 1427,
        }.Write(datagram);

    /// <summary>Signals when both receivers have passed a byte count.</summary>
    private sealed class Milestones
    {
        private readonly object _lock = new();
        private readonly long[] _received = new long[2];
        private readonly List<(long Bytes, TaskCompletionSource Reached)> _waiting = [];

        public Task WhenBothReach(long bytes)
        {
            lock (_lock)
            {
                if (Math.Min(_received[0], _received[1]) >= bytes)
                {
                    return Task.CompletedTask;
                }

                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add((bytes, reached));
                return reached.Task;
            }
        }

        public void Report(int stream, long bytes)
        {
            lock (_lock)
            {
                _received[stream] = bytes;
                long both = Math.Min(_received[0], _received[1]);
                for (int i = _waiting.Count - 1; i >= 0; i--)
                {
                    if (_waiting[i].Bytes <= both)
                    {
                        _waiting[i].Reached.TrySetResult();
                        _waiting.RemoveAt(i);
                    }
                }
            }
        }
    }
}
