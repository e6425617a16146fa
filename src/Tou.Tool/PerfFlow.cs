using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Tou.Transport;

namespace Tou.Tool;

/// <summary>One perf connection, client or server side: its counters while it runs and its verified totals after.</summary>
internal sealed class PerfFlow(TouSocketConnection connection)
{
    public TouSocketConnection Connection { get; } = connection;

    /// <summary>Payload bytes this side wrote so far.</summary>
    public PerfCounter Sent { get; } = new();

    /// <summary>Payload bytes this side read so far.</summary>
    public PerfCounter Received { get; } = new();

    /// <summary>The peer's count of payload it sent (from its trailer), or -1 until known.</summary>
    public long PeerSent { get; private set; } = -1;

    /// <summary>The peer's count of payload it received (the server's trailer), or -1 until known.</summary>
    public long PeerReceived { get; private set; } = -1;

    /// <summary>Time from the start of the test to this side's last byte.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>The engine's figures at the end (kept, as the connection may be gone when the summary is written).</summary>
    public EngineSnapshot Final { get; private set; }

    /// <summary>Whether the payload counts on both sides agree.</summary>
    public bool Verified { get; private set; }

    private long _sentTotal;
    private long _receivedTotal;

    /// <summary>Client side: sends the header, then its payload and trailer while reading the server's stream to its end.</summary>
    public async Task RunClientAsync(PerfMode mode, TimeSpan duration, long byteLimit, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var output = Connection.Transport.Output;
        await output.WriteAsync(PerfProtocol.EncodeHeader(mode, duration, byteLimit), stop).ConfigureAwait(false);
        var sending = SendThenTrailerAsync(mode != PerfMode.Download, duration, byteLimit, stop, static _ => ValueTask.FromResult(Array.Empty<byte>()));
        var (payload, trailer) = await PerfProtocol.ReceiveToEndAsync(Connection.Transport.Input, PerfProtocol.ServerTrailerSize, Received, stop).ConfigureAwait(false);
        await sending.ConfigureAwait(false);
        _receivedTotal = payload;
        PeerSent = BinaryPrimitives.ReadInt64BigEndian(trailer);
        PeerReceived = BinaryPrimitives.ReadInt64BigEndian(trailer.AsSpan(8));
        Elapsed = clock.Elapsed;
        Verified = PeerSent == _receivedTotal && PeerReceived == _sentTotal;
        Final = EngineSnapshot.Take(Connection);
    }

    /// <summary>Server side: reads the header, then sends (if asked) while reading the client's stream to its end.</summary>
    public async Task<PerfMode> RunServerAsync(CancellationToken stop)
    {
        var input = Connection.Transport.Input;
        var read = await input.ReadAtLeastAsync(PerfProtocol.HeaderSize, stop).ConfigureAwait(false);
        var headerBytes = read.Buffer.Slice(0, Math.Min(read.Buffer.Length, PerfProtocol.HeaderSize)).ToArray();
        if (headerBytes.Length < PerfProtocol.HeaderSize || !PerfProtocol.TryDecodeHeader(headerBytes, out var mode, out var duration, out long byteLimit))
        {
            throw new InvalidDataException("not a tou perf client");
        }

        input.AdvanceTo(read.Buffer.GetPosition(PerfProtocol.HeaderSize));
        var clock = Stopwatch.StartNew();
        var receiving = PerfProtocol.ReceiveToEndAsync(input, PerfProtocol.ClientTrailerSize, Received, stop);

        // The server's trailer reports what it received, so it goes out only once the client's stream has ended.
        await SendThenTrailerAsync(mode != PerfMode.Upload, duration, byteLimit, stop, async sent =>
        {
            var (payload, trailer) = await receiving.ConfigureAwait(false);
            _receivedTotal = payload;
            PeerSent = BinaryPrimitives.ReadInt64BigEndian(trailer);
            var mine = new byte[PerfProtocol.ServerTrailerSize];
            BinaryPrimitives.WriteInt64BigEndian(mine, sent);
            BinaryPrimitives.WriteInt64BigEndian(mine.AsSpan(8), payload);
            return mine;
        }).ConfigureAwait(false);
        Elapsed = clock.Elapsed;
        Verified = PeerSent == _receivedTotal;
        Final = EngineSnapshot.Take(Connection);
        return mode;
    }

    public long SentTotal => _sentTotal;

    /// <summary>More than two congestion windows (at least 256 KiB) written and not yet acknowledged.</summary>
    private bool Backlogged() => Connection.Inspect(static c => c.UnacknowledgedBytes > Math.Max(2 * c.CongestionWindow, 256 * 1024));

    public long ReceivedTotal => _receivedTotal;

    private async Task SendThenTrailerAsync(bool send, TimeSpan duration, long byteLimit, CancellationToken stop, Func<long, ValueTask<byte[]>> trailer)
    {
        var output = Connection.Transport.Output;
        _sentTotal = send ? await PerfProtocol.SendPayloadAsync(output, duration, byteLimit, Sent, Backlogged, stop).ConfigureAwait(false) : 0;
        var bytes = await trailer(_sentTotal).ConfigureAwait(false);
        if (bytes.Length == 0)
        {
            bytes = new byte[PerfProtocol.ClientTrailerSize];
            BinaryPrimitives.WriteInt64BigEndian(bytes, _sentTotal);
        }

        await output.WriteAsync(bytes, CancellationToken.None).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false); // FIN: this side has said everything
    }
}
