namespace Tou.Protocol.Buffers;

/// <summary>
/// Bytes of one stream direction addressed by 64-bit stream offset, held in chunks from a <see cref="ChunkPool"/> that are rented
/// when first written and returned as soon as the data below them is discarded, so an idle connection
/// holds no buffer memory at all. Offsets in [<see cref="Start"/>, <see cref="Start"/> + capacity) are
/// addressable; writes may land anywhere in that range (out-of-order data), reads go from the start.
/// </summary>
internal sealed class StreamBuffer : IDisposable
{
    internal const int ChunkShift = 14;
    internal const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;

    private readonly ChunkPool _pool;
    private readonly byte[]?[] _chunks;
    private readonly int _slotMask;
    private long _start;
    private int _rentedChunks;

    public StreamBuffer(int capacity, ChunkPool pool)
    {
        _pool = pool;
        // One spare chunk so a capacity that is not chunk-aligned still fits when Start is mid-chunk.
        int slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((capacity + ChunkSize - 1) / ChunkSize + 1));
        _chunks = new byte[]?[slots];
        _slotMask = slots - 1;
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Lowest offset still held.</summary>
    public long Start => _start;

    /// <summary>Bytes of pooled memory held now.</summary>
    public long RentedBytes => (long)_rentedChunks * ChunkSize;

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        while (!data.IsEmpty)
        {
            byte[] chunk = GetOrRentChunk(offset);
            int within = (int)(offset & ChunkMask);
            int n = Math.Min(ChunkSize - within, data.Length);
            data[..n].CopyTo(chunk.AsSpan(within));
            data = data[n..];
            offset += n;
        }
    }

    public void CopyTo(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            byte[] chunk = _chunks[(int)(offset >> ChunkShift) & _slotMask]
                ?? throw new InvalidOperationException("Read of stream bytes that were never written.");
            int within = (int)(offset & ChunkMask);
            int n = Math.Min(ChunkSize - within, destination.Length);
            chunk.AsSpan(within, n).CopyTo(destination);
            destination = destination[n..];
            offset += n;
        }
    }

    /// <summary>The contiguous bytes held at <paramref name="offset"/>, up to the end of their chunk and at most <paramref name="maxLength"/>.</summary>
    public ReadOnlySpan<byte> GetSpan(long offset, int maxLength)
    {
        CheckRange(offset, maxLength);
        byte[] chunk = _chunks[(int)(offset >> ChunkShift) & _slotMask]
            ?? throw new InvalidOperationException("Read of stream bytes that were never written.");
        int within = (int)(offset & ChunkMask);
        return chunk.AsSpan(within, Math.Min(ChunkSize - within, maxLength));
    }

    /// <summary>Forgets everything below <paramref name="offset"/> and returns the chunks that became empty.</summary>
    public void DiscardTo(long offset)
    {
        if (offset <= _start)
        {
            return;
        }

        long firstChunk = _start >> ChunkShift;
        long endChunk = offset >> ChunkShift; // chunks strictly below the one holding 'offset' are free
        for (long c = firstChunk; c < endChunk; c++)
        {
            ReturnSlot((int)c & _slotMask);
        }

        _start = offset;
    }

    public void Dispose()
    {
        for (int i = 0; i < _chunks.Length; i++)
        {
            ReturnSlot(i);
        }
    }

    private void ReturnSlot(int slot)
    {
        byte[]? chunk = _chunks[slot];
        if (chunk is not null)
        {
            _chunks[slot] = null;
            _rentedChunks--;
            _pool.Return(chunk);
        }
    }

    private byte[] GetOrRentChunk(long offset)
    {
        ref byte[]? slot = ref _chunks[(int)(offset >> ChunkShift) & _slotMask];
        if (slot is null)
        {
            slot = _pool.Rent();
            _rentedChunks++;
        }

        return slot;
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < _start || offset + length > _start + Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Bytes [{offset}, {offset + length}) lie outside the buffer's range [{_start}, {_start + Capacity}).");
        }
    }
}
