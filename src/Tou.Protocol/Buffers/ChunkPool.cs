namespace Tou.Protocol.Buffers;

/// <summary>
/// Free list of the fixed-size chunks that stream buffers hold, owned by one endpoint (single owner, so no
/// locks). It keeps at most <see cref="MaxRetained"/> free chunks and lets the GC have the rest, so a burst
/// does not pin memory forever; within that bound a steady transfer allocates nothing.
/// </summary>
internal sealed class ChunkPool
{
    private readonly Stack<byte[]> _free = new();

    public ChunkPool(int maxRetained) => MaxRetained = maxRetained;

    public int MaxRetained { get; }

    public int FreeCount => _free.Count;

    public byte[] Rent() => _free.TryPop(out var chunk) ? chunk : new byte[StreamBuffer.ChunkSize];

    public void Return(byte[] chunk)
    {
        if (_free.Count < MaxRetained)
        {
            _free.Push(chunk);
        }
    }
}
