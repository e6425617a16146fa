using System.Buffers;
using System.Collections.Concurrent;

namespace Tou.Relay;

/// <summary>
/// The arrays queued datagrams wait in. Receive loops rent on thread-pool threads and the release threads return,
/// so <see cref="ArrayPool{T}.Shared"/> (which caches per thread) would let the returns pile up on one side and allocate
/// on the other, a collection's worth of garbage a second at 1 Gbit/s. One shared queue of 2 KiB arrays instead (a
/// datagram on a 1,500-byte MTU fits), bounded; larger datagrams go to the shared pool.
/// </summary>
internal static class DatagramBufferPool
{
    private const int SmallSize = 2048;
    private const int MaxKept = 16_384; // 32 MiB: a 1 Gbit/s link with 100 ms of delay holds about 8,600 datagrams

    private static readonly ConcurrentQueue<byte[]> s_small = new();

    public static byte[] Rent(int length)
    {
        if (length > SmallSize)
        {
            return ArrayPool<byte>.Shared.Rent(length);
        }

        return s_small.TryDequeue(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(SmallSize);
    }

    public static void Return(byte[] buffer)
    {
        if (buffer.Length != SmallSize)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else if (s_small.Count < MaxKept)
        {
            s_small.Enqueue(buffer);
        }
    }
}
