using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace Tou.Transport.Tests;

/// <summary>
/// Deterministic pseudo-random content (SplitMix64, emitted as little-endian 8-byte words): the byte at a
/// given position depends only on the seed, never on how the stream is cut into chunks, so a receiver can
/// regenerate what the sender wrote and count wrong bytes without holding the whole payload.
/// </summary>
internal sealed class PatternStream(ulong seed)
{
    private ulong _state = seed;
    private ulong _word;
    private int _left;

    public void Fill(Span<byte> destination)
    {
        int i = 0;
        while (true)
        {
            while (_left > 0 && i < destination.Length)
            {
                destination[i++] = (byte)_word;
                _word >>= 8;
                _left--;
            }

            while (destination.Length - i >= 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(destination[i..], Next());
                i += 8;
            }

            if (i == destination.Length)
            {
                return;
            }

            _word = Next();
            _left = 8;
        }
    }

    private ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>What a receiver got, compared position by position with what the sender wrote.</summary>
internal sealed class StreamCheck : IDisposable
{
    private readonly PatternStream _expected;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _scratch = new byte[64 * 1024];

    public StreamCheck(ulong seed, long expectedLength)
    {
        _expected = new PatternStream(seed);
        ExpectedLength = expectedLength;
    }

    public long ExpectedLength { get; }

    /// <summary>Bytes received so far.</summary>
    public long Length { get; private set; }

    /// <summary>Received bytes (within the expected length) that differ from what was sent.</summary>
    public long WrongBytes { get; private set; }

    public long FirstWrongOffset { get; private set; } = -1;

    /// <summary>How the stream ended: "end of stream", or the exception that ended it.</summary>
    public string Ending { get; set; } = "not ended";

    public bool EndedCleanly { get; set; }

    public byte[] Hash => _hash.GetCurrentHash();

    public void Append(ReadOnlySpan<byte> data)
    {
        _hash.AppendData(data);
        while (!data.IsEmpty)
        {
            int n = (int)Math.Min(data.Length, _scratch.Length);
            long inRange = Math.Clamp(ExpectedLength - Length, 0, n);
            if (inRange > 0)
            {
                var expected = _scratch.AsSpan(0, (int)inRange);
                _expected.Fill(expected);
                var actual = data[..(int)inRange];
                if (!actual.SequenceEqual(expected))
                {
                    for (int i = 0; i < actual.Length; i++)
                    {
                        if (actual[i] != expected[i])
                        {
                            if (FirstWrongOffset < 0)
                            {
                                FirstWrongOffset = Length + i;
                            }

                            WrongBytes++;
                        }
                    }
                }
            }

            Length += n;
            data = data[n..];
        }
    }

    public override string ToString() =>
        $"{Length:N0} of {ExpectedLength:N0} bytes, {WrongBytes:N0} wrong" +
        (FirstWrongOffset >= 0 ? $" (first at {FirstWrongOffset:N0})" : string.Empty) + $", ended: {Ending}";

    public void Dispose() => _hash.Dispose();
}

internal static class PatternPipes
{
    /// <summary>Writes <paramref name="length"/> bytes of the seed's content, completes the writer and returns their SHA-256.</summary>
    public static async Task<byte[]> WriteAsync(PipeWriter writer, ulong seed, long length, CancellationToken cancellationToken)
    {
        var pattern = new PatternStream(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        while (written < length)
        {
            int n = (int)Math.Min(64 * 1024, length - written);
            var memory = writer.GetMemory(n)[..n];
            pattern.Fill(memory.Span);
            hash.AppendData(memory.Span);
            writer.Advance(n);
            written += n;
            var flush = await writer.FlushAsync(cancellationToken);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                throw new IOException($"The connection stopped taking data after {written:N0} of {length:N0} bytes.");
            }
        }

        await writer.CompleteAsync();
        return hash.GetCurrentHash();
    }

    /// <summary>Reads to the end of the stream (or an error or cancellation, noted in <see cref="StreamCheck.Ending"/>) into <paramref name="check"/>.</summary>
    public static async Task ReadAsync(PipeReader reader, StreamCheck check, Action<long>? progress, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                foreach (var segment in result.Buffer)
                {
                    check.Append(segment.Span);
                }

                reader.AdvanceTo(result.Buffer.End);
                progress?.Invoke(check.Length);
                if (result.IsCompleted)
                {
                    check.Ending = "end of stream";
                    check.EndedCleanly = true;
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            check.Ending = ex is OperationCanceledException ? "stalled until the deadline" : $"{ex.GetType().Name}: {ex.Message}";
        }
    }
}

internal static class ConnectionTasks
{
    private static readonly TimeSpan DisposeBound = TimeSpan.FromSeconds(10);

    /// <summary>Completes when the connection has ended, gracefully or not.</summary>
    public static Task ClosedAsync(TouSocketConnection connection)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed.Register(() => closed.TrySetResult());
        return closed.Task;
    }

    /// <summary>"done", or how the task failed, or that it was still running when <paramref name="deadline"/> fired.</summary>
    public static async Task<string> Outcome(Task task, CancellationToken deadline)
    {
        try
        {
            await task.WaitAsync(deadline);
            return "done";
        }
        catch (OperationCanceledException)
        {
            return "stalled until the deadline";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>
    /// Disposes a connection without letting a stuck one hang the test: one that has not closed is aborted
    /// first (DisposeAsync of a connection whose peer stopped acknowledging waits for its send pump, i.e.
    /// until the retransmission limit), and the dispose itself is bounded.
    /// </summary>
    public static async Task<string> DisposeBoundedAsync(TouSocketConnection connection, bool abort)
    {
        if (abort)
        {
            connection.Abort(null);
        }

        using var bound = new CancellationTokenSource(DisposeBound);
        return await Outcome(connection.DisposeAsync().AsTask(), bound.Token);
    }
}
