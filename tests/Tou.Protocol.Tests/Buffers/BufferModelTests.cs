using FsCheck.Xunit;
using Tou.Protocol.Buffers;

namespace Tou.Protocol.Tests.Buffers;

/// <summary>The buffers against trivially correct models.</summary>
public class BufferModelTests
{
    [Property(MaxTest = 500)]
    public bool RangeSet_matches_a_set_of_offsets(byte[] operations)
    {
        var set = new RangeSet(6);
        var model = new HashSet<long>();
        for (int i = 0; i + 2 < operations.Length; i += 3)
        {
            long a = operations[i] % 120, b = operations[i + 1] % 120;
            if (operations[i + 2] % 5 == 0)
            {
                set.RemoveBelow(a);
                model.RemoveWhere(x => x < a);
            }
            else
            {
                long start = Math.Min(a, b), end = Math.Max(a, b);
                var before = Snapshot(set);
                if (set.Add(start, end))
                {
                    for (long x = start; x < end; x++) model.Add(x);
                }
                else if (!before.SequenceEqual(Snapshot(set)) || set.Count != set.MaxCount)
                {
                    return false; // a refused add must change nothing, and only happens when full
                }
            }

            // Same coverage; ranges sorted, disjoint and not touching.
            var covered = new HashSet<long>();
            for (int r = 0; r < set.Count; r++)
            {
                if (set.StartAt(r) >= set.EndAt(r) || (r > 0 && set.StartAt(r) <= set.EndAt(r - 1))) return false;
                for (long x = set.StartAt(r); x < set.EndAt(r); x++) covered.Add(x);
            }

            if (!covered.SetEquals(model)) return false;
        }

        return true;
    }

    private static List<(long, long)> Snapshot(RangeSet set) => Enumerable.Range(0, set.Count).Select(i => (set.StartAt(i), set.EndAt(i))).ToList();

    [Fact]
    public void StreamBuffer_is_byte_exact_over_many_times_its_capacity_with_scattered_writes()
    {
        var pool = new ChunkPool(64);
        using var buffer = new StreamBuffer(100_000, pool); // not a multiple of the chunk size
        var rng = new Random(3);
        var model = new byte[3_000_000];
        rng.NextBytes(model);
        long written = 0, read = 0;
        var scratch = new byte[70_000];
        while (read < model.Length)
        {
            // Write a few segments out of order inside the window, then the gap before them.
            long windowEnd = Math.Min(buffer.Start + buffer.Capacity, model.Length);
            if (written < windowEnd)
            {
                int len = (int)Math.Min(rng.Next(1, 40_000), windowEnd - written);
                int half = len / 2;
                buffer.Write(written + half, model.AsSpan((int)(written + half), len - half));
                buffer.Write(written, model.AsSpan((int)written, half));
                written += len;
            }

            int n = (int)Math.Min(rng.Next(1, scratch.Length), written - read);
            buffer.CopyTo(read, scratch.AsSpan(0, n));
            Assert.True(scratch.AsSpan(0, n).SequenceEqual(model.AsSpan((int)read, n)));
            read += n;
            buffer.DiscardTo(read);
        }

        buffer.DiscardTo(read);
        Assert.True(buffer.RentedBytes <= StreamBuffer.ChunkSize, "only the chunk holding the read position may stay");
    }

    [Fact]
    public void StreamBuffer_returns_every_chunk_and_rejects_out_of_range_access()
    {
        var pool = new ChunkPool(64);
        var buffer = new StreamBuffer(64 * 1024, pool);
        buffer.Write(0, new byte[50_000]);
        Assert.True(buffer.RentedBytes >= 50_000);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Write(60_000, new byte[10_000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.CopyTo(-1, new byte[1]));
        buffer.Dispose();
        Assert.Equal(0, buffer.RentedBytes);
        Assert.True(pool.FreeCount >= 4, "chunks went back to the pool");
    }
}
