using System.Net;
using System.Security.Cryptography;
using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>
/// One connection on a simulated path: the client uploads and the server downloads seeded pseudo-random
/// bytes at the same time, both read and hash everything, both close. Payloads are generated as they are
/// written, so tens of megabytes cost no memory.
/// </summary>
public static class TransferScenario
{
    /// <summary>The client's address in every run (until the run's own changes move it).</summary>
    public static SocketAddress ClientAddress => SimulatedNetwork.Address("10.0.0.1", 40000);

    /// <summary>The server's address in every run.</summary>
    public static SocketAddress ServerAddress => SimulatedNetwork.Address("10.0.0.2", 5000);

    private static TouOptions Seeded(TouOptions? options, int seed)
    {
        var seeded = options ?? new TouOptions();
        if (seeded.RandomSource is null)
        {
            var random = new Random(seed);
            seeded = seeded.Clone();
            seeded.RandomSource = random.NextBytes;
        }

        return seeded;
    }

    /// <summary>Runs one transfer on a fresh <see cref="SimulatedNetwork"/> and reports how it went; never throws for a
    /// transfer that fails (see <see cref="TransferResult.Failure"/>).</summary>
    /// <param name="seed">Seeds the network, the payloads and, unless an options' <see cref="TouOptions.RandomSource"/> is
    /// set, the engines' randomness: one seed, one run.</param>
    /// <param name="clientToServer">The link from client to server.</param>
    /// <param name="serverToClient">The link from server to client.</param>
    /// <param name="uploadBytes">Bytes the client writes.</param>
    /// <param name="downloadBytes">Bytes the server writes.</param>
    /// <param name="clientOptions">The client endpoint's settings (null: defaults).</param>
    /// <param name="serverOptions">The server endpoint's settings (null: defaults).</param>
    /// <param name="maxDurationUs">Virtual time allowed before the run counts as failed, µs (default one hour).</param>
    public static TransferResult Run(
        int seed,
        LinkProfile clientToServer,
        LinkProfile serverToClient,
        long uploadBytes,
        long downloadBytes,
        TouOptions? clientOptions = null,
        TouOptions? serverOptions = null,
        long maxDurationUs = 3_600_000_000) =>
        RunWith(static _ => { }, seed, clientToServer, serverToClient, uploadBytes, downloadBytes, clientOptions, serverOptions, maxDurationUs);

    /// <summary>As <see cref="Run"/>, with <paramref name="configure"/> called on the network once both nodes are on it
    /// and before the client connects: it may schedule changes during the transfer (<see cref="SimulatedNetwork.At"/>,
    /// <see cref="SimulatedNetwork.Rebind"/>) or watch and inject datagrams.</summary>
    /// <param name="configure">Sets up the network's changes during the run.</param>
    /// <param name="seed">As for <see cref="Run"/>.</param>
    /// <param name="clientToServer">The link from client to server.</param>
    /// <param name="serverToClient">The link from server to client.</param>
    /// <param name="uploadBytes">Bytes the client writes.</param>
    /// <param name="downloadBytes">Bytes the server writes.</param>
    /// <param name="clientOptions">The client endpoint's settings (null: defaults).</param>
    /// <param name="serverOptions">The server endpoint's settings (null: defaults).</param>
    /// <param name="maxDurationUs">Virtual time allowed before the run counts as failed, µs (default one hour).</param>
    public static TransferResult RunWith(
        Action<SimulatedNetwork> configure,
        int seed,
        LinkProfile clientToServer,
        LinkProfile serverToClient,
        long uploadBytes,
        long downloadBytes,
        TouOptions? clientOptions = null,
        TouOptions? serverOptions = null,
        long maxDurationUs = 3_600_000_000)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(clientToServer);
        ArgumentNullException.ThrowIfNull(serverToClient);
        var clientAddress = ClientAddress;
        var serverAddress = ServerAddress;
        // Unless the caller chose otherwise, the engines' randomness (ISNs, keys) comes from the seed too: one seed, one run.
        using var clientEndpoint = new TouEndpoint(Seeded(clientOptions, seed * 2 + 101)) { LocalPort = 40000 };
        using var serverEndpoint = new TouEndpoint(Seeded(serverOptions, seed * 2 + 102)) { LocalPort = 5000, IsListening = true };
        var network = new SimulatedNetwork(seed);
        network.AddNode(clientAddress, clientEndpoint);
        network.AddNode(serverAddress, serverEndpoint);
        network.SetLink(clientAddress, serverAddress, clientToServer);
        network.SetLink(serverAddress, clientAddress, serverToClient);
        configure(network);

        long start = network.NowUs;
        var client = clientEndpoint.Connect(start, serverAddress);
        TouConnection? server = null;
        var clientSide = new StreamSide(seed * 2 + 1, uploadBytes);
        var serverSide = new StreamSide(seed * 2 + 2, downloadBytes);
        long transferEnd = -1;
        network.BeforeStep = () =>
        {
            server ??= serverEndpoint.Accept();
            clientSide.Run(client);
            if (server is not null)
            {
                serverSide.Run(server);
            }

            if (transferEnd < 0 && clientSide.ReadBytes == downloadBytes && serverSide.ReadBytes == uploadBytes && client.IsReadCompleted && server is not null && server.IsReadCompleted)
            {
                transferEnd = network.NowUs;
            }
        };

        string? failure = null;
        try
        {
            network.RunUntil(() => transferEnd >= 0 && client.State == TouConnectionState.Closed && server!.State == TouConnectionState.Closed, maxDurationUs);
        }
        catch (TimeoutException ex)
        {
            failure = $"{ex.Message} client {client.State}/{client.CloseReason} read {clientSide.ReadBytes}/{downloadBytes}, server {server?.State}/{server?.CloseReason} read {serverSide.ReadBytes}/{uploadBytes}";
        }

        bool exact = transferEnd >= 0
            && clientSide.WrittenHash().AsSpan().SequenceEqual(serverSide.ReadHash())
            && serverSide.WrittenHash().AsSpan().SequenceEqual(clientSide.ReadHash());
        return new TransferResult
        {
            Completed = failure is null,
            BytesExact = exact,
            ClientCloseReason = client.CloseReason,
            ServerCloseReason = server?.CloseReason ?? TouCloseReason.None,
            TransferUs = transferEnd >= 0 ? transferEnd - start : -1,
            TotalUs = network.NowUs - start,
            UploadBytes = uploadBytes,
            DownloadBytes = downloadBytes,
            ClientStats = client.Stats,
            ServerStats = server?.Stats ?? new TouConnectionStats(),
            Network = network.Stats,
            Failure = failure,
        };
    }

    /// <summary>One side's application: writes its generated payload as the send buffer allows, reads and hashes what arrives.</summary>
    private sealed class StreamSide(int seed, long length)
    {
        private readonly Random _generator = new(seed);
        private readonly byte[] _chunk = new byte[64 * 1024];
        private readonly byte[] _readBuffer = new byte[64 * 1024];
        private readonly IncrementalHash _written = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly IncrementalHash _read = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private int _chunkLength;
        private int _chunkOffset;
        private long _generated;
        private bool _closed;

        public long WrittenBytes { get; private set; }

        public long ReadBytes { get; private set; }

        public byte[] WrittenHash() => _written.GetCurrentHash();

        public byte[] ReadHash() => _read.GetCurrentHash();

        public void Run(TouConnection connection)
        {
            if (connection.State == TouConnectionState.Connecting)
            {
                return;
            }

            while (connection.State == TouConnectionState.Established && WrittenBytes < length)
            {
                if (_chunkOffset == _chunkLength)
                {
                    _chunkLength = (int)Math.Min(_chunk.Length, length - _generated);
                    _generator.NextBytes(_chunk.AsSpan(0, _chunkLength));
                    _written.AppendData(_chunk, 0, _chunkLength);
                    _generated += _chunkLength;
                    _chunkOffset = 0;
                }

                int n = connection.Write(_chunk.AsSpan(_chunkOffset, _chunkLength - _chunkOffset));
                if (n == 0)
                {
                    break;
                }

                _chunkOffset += n;
                WrittenBytes += n;
            }

            if (!_closed && WrittenBytes == length && connection.State == TouConnectionState.Established)
            {
                connection.CloseSend();
                _closed = true;
            }

            int read;
            while ((read = connection.Read(_readBuffer)) > 0)
            {
                _read.AppendData(_readBuffer, 0, read);
                ReadBytes += read;
            }
        }
    }
}
