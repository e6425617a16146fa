using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Tou.Tool;

/// <summary>
/// The perf wire format. The client opens with a 24-byte header (magic "TOUPERF1", mode, 3 reserved bytes, duration in
/// ms, byte limit or 0); each side then sends its payload and ends its stream with a trailer: the client's 8 bytes hold
/// how many payload bytes it sent, the server's 16 bytes how many it sent and how many it received. A reader holds back
/// the trailer's length at the end of the stream, so byte counts are checked on both sides without any other framing.
/// </summary>
internal static class PerfProtocol
{
    public const int HeaderSize = 24;
    public const int ClientTrailerSize = 8;
    public const int ServerTrailerSize = 16;
    private static ReadOnlySpan<byte> Magic => "TOUPERF1"u8;

    /// <summary>64 KiB of a fixed pattern: what every payload write sends.</summary>
    public static ReadOnlyMemory<byte> Chunk { get; } = CreateChunk();

    public static byte[] EncodeHeader(PerfMode mode, TimeSpan duration, long byteLimit)
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        header[8] = (byte)mode;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), (int)Math.Clamp(duration.TotalMilliseconds, 0, int.MaxValue));
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(16), byteLimit);
        return header;
    }

    public static bool TryDecodeHeader(ReadOnlySpan<byte> header, out PerfMode mode, out TimeSpan duration, out long byteLimit)
    {
        mode = (PerfMode)header[8];
        duration = TimeSpan.FromMilliseconds(BinaryPrimitives.ReadInt32BigEndian(header[12..]));
        byteLimit = BinaryPrimitives.ReadInt64BigEndian(header[16..]);
        return header[..8].SequenceEqual(Magic) && Enum.IsDefined(mode) && byteLimit >= 0;
    }

    /// <summary>
    /// Writes payload until <paramref name="duration"/> has passed or <paramref name="byteLimit"/> bytes are out (0: no
    /// limit), or until <paramref name="stop"/> fires; counts what was written into <paramref name="counter"/>. While
    /// <paramref name="backlogged"/> says the connection holds plenty unacknowledged, it waits: a timed test's data should
    /// leave within its time, not fill megabytes of buffers that take a slow path long after to drain.
    /// </summary>
    public static async Task<long> SendPayloadAsync(PipeWriter output, TimeSpan duration, long byteLimit, PerfCounter counter, Func<bool> backlogged, CancellationToken stop)
    {
        long sent = 0;
        long deadline = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        while (!stop.IsCancellationRequested && (byteLimit > 0 ? sent < byteLimit : Environment.TickCount64 < deadline))
        {
            if (byteLimit == 0 && backlogged())
            {
                await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            var chunk = byteLimit > 0 ? Chunk[..(int)Math.Min(Chunk.Length, byteLimit - sent)] : Chunk;
            var flush = await output.WriteAsync(chunk, CancellationToken.None).ConfigureAwait(false);
            sent += chunk.Length;
            counter.Add(chunk.Length);
            if (flush.IsCompleted)
            {
                throw new IOException("the peer stopped reading");
            }
        }

        return sent;
    }

    /// <summary>Reads to the end of the stream, counting payload and returning the trailer (the last <paramref name="trailerSize"/> bytes).</summary>
    public static async Task<(long Payload, byte[] Trailer)> ReceiveToEndAsync(PipeReader input, int trailerSize, PerfCounter counter, CancellationToken cancellationToken)
    {
        long payload = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            long consumable = Math.Max(0, buffer.Length - trailerSize);
            payload += consumable;
            counter.Add(consumable);
            if (result.IsCompleted)
            {
                if (buffer.Length - consumable != trailerSize)
                {
                    throw new IOException($"the stream ended without its {trailerSize}-byte trailer");
                }

                var trailer = buffer.Slice(consumable).ToArray();
                input.AdvanceTo(buffer.End);
                return (payload, trailer);
            }

            // Hold the last bytes back: they may be the trailer.
            input.AdvanceTo(buffer.GetPosition(consumable), buffer.End);
        }
    }

    private static byte[] CreateChunk()
    {
        var chunk = new byte[64 * 1024];
        for (int i = 0; i < chunk.Length; i++)
        {
            chunk[i] = (byte)(i * 31 + (i >> 8));
        }

        return chunk;
    }
}
