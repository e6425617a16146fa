namespace Tou.Protocol.Buffers;

/// <summary>
/// A small sorted set of disjoint, non-adjacent [start, end) ranges of stream offsets with a fixed
/// maximum count, used for out-of-order data on receive and for SACKed data on send. Adding a range
/// that would exceed the maximum fails instead of growing.
/// </summary>
internal sealed class RangeSet
{
    private long[] _starts;
    private long[] _ends;

    /// <summary>A set that starts small and grows by doubling up to <paramref name="maxRanges"/>.</summary>
    public RangeSet(int maxRanges)
    {
        MaxCount = maxRanges;
        int initial = Math.Min(maxRanges, 8);
        _starts = new long[initial];
        _ends = new long[initial];
    }

    public int Count { get; private set; }

    public int MaxCount { get; }

    public long StartAt(int index) => _starts[index];

    public long EndAt(int index) => _ends[index];

    public long HighestEnd => Count == 0 ? long.MinValue : _ends[Count - 1];

    public void Clear() => Count = 0;

    /// <summary>Adds [start, end), merging with what it touches. Returns false (and changes nothing) when
    /// the range would need a new slot and the set is full.</summary>
    public bool Add(long start, long end)
    {
        if (end <= start)
        {
            return true;
        }

        // First range whose end reaches start (touching counts as overlap), and one past the last whose start <= end.
        int first = 0;
        while (first < Count && _ends[first] < start)
        {
            first++;
        }

        int last = first;
        while (last < Count && _starts[last] <= end)
        {
            last++;
        }

        int merged = last - first;
        if (merged == 0)
        {
            if (Count == _starts.Length)
            {
                if (Count == MaxCount)
                {
                    return false;
                }

                int size = Math.Min(MaxCount, _starts.Length * 2);
                Array.Resize(ref _starts, size);
                Array.Resize(ref _ends, size);
            }

            Array.Copy(_starts, first, _starts, first + 1, Count - first);
            Array.Copy(_ends, first, _ends, first + 1, Count - first);
            _starts[first] = start;
            _ends[first] = end;
            Count++;
            return true;
        }

        _starts[first] = Math.Min(start, _starts[first]);
        _ends[first] = Math.Max(end, _ends[last - 1]);
        int removed = merged - 1;
        if (removed > 0)
        {
            Array.Copy(_starts, last, _starts, first + 1, Count - last);
            Array.Copy(_ends, last, _ends, first + 1, Count - last);
            Count -= removed;
        }

        return true;
    }

    /// <summary>Drops everything below <paramref name="offset"/>.</summary>
    public void RemoveBelow(long offset)
    {
        int drop = 0;
        while (drop < Count && _ends[drop] <= offset)
        {
            drop++;
        }

        if (drop > 0)
        {
            Array.Copy(_starts, drop, _starts, 0, Count - drop);
            Array.Copy(_ends, drop, _ends, 0, Count - drop);
            Count -= drop;
        }

        if (Count > 0 && _starts[0] < offset)
        {
            _starts[0] = offset;
        }
    }

    /// <summary>True when [start, end) lies wholly inside one range.</summary>
    public bool Contains(long start, long end)
    {
        for (int i = 0; i < Count; i++)
        {
            if (_starts[i] <= start && end <= _ends[i])
            {
                return true;
            }

            if (_starts[i] > start)
            {
                break;
            }
        }

        return false;
    }
}
