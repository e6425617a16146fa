namespace Tou.Transport;

/// <summary>
/// The buffers receivers drain into, shared by every socket of the process and held by none while it waits.
/// A few are kept between drains (drains run on thread-pool threads, about one per core at once); more at once
/// are allocated and left to the collector. Unlike <see cref="System.Buffers.ArrayPool{T}.Shared"/>, which keeps one
/// per thread that ever used one, what is kept here is bounded by the core count, not by the threads.
/// </summary>
internal static class ReceiveBufferPool
{
    /// <summary>Eight GRO buffers of 64 KiB, or many datagram-sized ones.</summary>
    public const int BufferSize = 512 * 1024;

    private static readonly byte[]?[] s_kept = new byte[]?[Math.Clamp(Environment.ProcessorCount, 2, 16)];

    /// <summary>Bytes kept between drains now (for tests and figures).</summary>
    public static long KeptBytes
    {
        get
        {
            long bytes = 0;
            for (int i = 0; i < s_kept.Length; i++)
            {
                bytes += Volatile.Read(ref s_kept[i]) is null ? 0 : BufferSize;
            }

            return bytes;
        }
    }

    public static byte[] Rent()
    {
        for (int i = 0; i < s_kept.Length; i++)
        {
            if (Interlocked.Exchange(ref s_kept[i], null) is { } buffer)
            {
                return buffer;
            }
        }

        // Uninitialised: the kernel writes what is read, nothing else is looked at.
        return GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    public static void Return(byte[] buffer)
    {
        for (int i = 0; i < s_kept.Length; i++)
        {
            if (Interlocked.CompareExchange(ref s_kept[i], buffer, null) is null)
            {
                return;
            }
        }
    }
}
