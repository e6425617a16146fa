namespace Tou.Protocol.Buffers;

/// <summary>
/// Bytes of one stream direction addressed by 64-bit stream offset, held in chunks from a <see cref="ChunkPool"/>
/// that are taken when first written and given back as soon as the data in them is discarded, so a drained
/// buffer holds no chunk at all. Offsets in [<see cref="Start"/>, <see cref="Start"/> + capacity) are
/// addressable; writes may land anywhere in that range (out-of-order data), reads go from the start. The
/// ring of chunk slots grows by doubling as far as data reaches, so an idle connection costs a few pointers.
/// </summary>
internal sealed class StreamBuffer : IDisposable
{
    internal const int ChunkShift = 14;
    internal const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;
    private const int InitialSlots = 4;

    private readonly ChunkPool _pool;
    private readonly int _maxSlots;
    private byte[]?[] _chunks = new byte[]?[InitialSlots];
    private long _start;
    private long _writtenEnd;
    private int _rentedChunks;

    public StreamBuffer(int capacity, ChunkPool pool)
    {
        _pool = pool;
        Capacity = capacity;

        // One spare chunk so a capacity that is not chunk-aligned still fits when Start is mid-chunk.
        _maxSlots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((capacity + ChunkSize - 1) / ChunkSize + 1));
    }

    public int Capacity { get; }

    /// <summary>Lowest offset still held.</summary>
    public long Start => _start;

    /// <summary>Bytes of pooled memory held now.</summary>
    public long RentedBytes => (long)_rentedChunks * ChunkSize;

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        if (data.IsEmpty)
        {
            return;
        }

        EnsureSlots(offset + data.Length);
        _writtenEnd = Math.Max(_writtenEnd, offset + data.Length);
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
            byte[] chunk = ChunkAt(offset);
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
        byte[] chunk = ChunkAt(offset);
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

        // Chunks wholly below the offset are free; once nothing was written at or beyond it, all of them are.
        long firstChunk = _start >> ChunkShift;
        long endChunk = offset >= _writtenEnd ? (_writtenEnd + ChunkSize - 1) >> ChunkShift : offset >> ChunkShift;
        for (long c = firstChunk; c < endChunk; c++)
        {
            ReturnSlot((int)(c & (_chunks.Length - 1)));
        }

        _start = offset;
        _writtenEnd = Math.Max(_writtenEnd, offset);
    }

    public void Dispose()
    {
        for (int i = 0; i < _chunks.Length; i++)
        {
            ReturnSlot(i);
        }
    }

    private void EnsureSlots(long end)
    {
        long needed = ((end - 1) >> ChunkShift) - (_start >> ChunkShift) + 1;
        if (needed <= _chunks.Length)
        {
            return;
        }

        // Re-place the live chunks in a larger ring (chunk index modulo ring size).
        int size = Math.Min(_maxSlots, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)needed));
        var grown = new byte[]?[size];
        long first = _start >> ChunkShift;
        long last = Math.Max(first, (_writtenEnd - 1) >> ChunkShift);
        for (long c = first; c <= last; c++)
        {
            grown[(int)(c & (size - 1))] = _chunks[(int)(c & (_chunks.Length - 1))];
        }

        _chunks = grown;
    }

    private byte[] ChunkAt(long offset) =>
        _chunks[(int)((offset >> ChunkShift) & (_chunks.Length - 1))]
        ?? throw new InvalidOperationException("Read of stream bytes that were never written.");

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
        ref byte[]? slot = ref _chunks[(int)((offset >> ChunkShift) & (_chunks.Length - 1))];
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
