using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Tou.Samples.Messaging;

/// <summary>
/// A message protocol in the Bedrock style, written against System.IO.Pipelines: each message is a 4-byte
/// big-endian length and that many bytes. It knows nothing of TOU: it runs over any ConnectionContext.
/// </summary>
public sealed class LengthPrefixedProtocol(PipeReader input, PipeWriter output, int maxMessageSize = 16 * 1024 * 1024)
{
    /// <summary>Writes one message and flushes (waits while the transport applies backpressure).</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (message.Length > maxMessageSize)
        {
            throw new ArgumentException($"A message may have at most {maxMessageSize} bytes; this one has {message.Length}.", nameof(message));
        }

        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), message.Length);
        output.Advance(4);
        await output.WriteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the next message, or null when the peer closed the stream between messages.</summary>
    /// <exception cref="InvalidDataException">The peer sent a bad length or closed mid-message.</exception>
    public async ValueTask<byte[]?> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryParse(ref buffer, out var message))
            {
                input.AdvanceTo(buffer.Start);
                return message;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return buffer.IsEmpty ? null : throw new InvalidDataException($"The stream ended inside a message ({buffer.Length} bytes of it arrived).");
            }
        }
    }

    private bool TryParse(ref ReadOnlySequence<byte> buffer, out byte[]? message)
    {
        message = null;
        if (buffer.Length < 4)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        int length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length < 0 || length > maxMessageSize)
        {
            throw new InvalidDataException($"Message length {length} is outside 0..{maxMessageSize}.");
        }

        if (buffer.Length < 4 + length)
        {
            return false;
        }

        message = buffer.Slice(4, length).ToArray();
        buffer = buffer.Slice(4 + length);
        return true;
    }
}
