namespace Tou.Protocol;

/// <summary>The segments sent and not yet cumulatively acknowledged, in stream order, in a ring that grows by doubling.
/// It starts empty: an idle connection (thousands of them on a server) holds no ring until it sends.</summary>
internal sealed class SentSegmentQueue
{
    private const int FirstCapacity = 16;
    private SentSegment[] _items = [];
    private int _head;

    public int Count { get; private set; }

    public ref SentSegment this[int index] => ref _items[(_head + index) & (_items.Length - 1)];

    public ref SentSegment First => ref this[0];

    public ref SentSegment Last => ref this[Count - 1];

    public void Add(in SentSegment segment)
    {
        if (Count == _items.Length)
        {
            var grown = new SentSegment[Math.Max(FirstCapacity, _items.Length * 2)];
            for (int i = 0; i < Count; i++)
            {
                grown[i] = this[i];
            }

            _items = grown;
            _head = 0;
        }

        _items[(_head + Count) & (_items.Length - 1)] = segment;
        Count++;
    }

    /// <summary>Inserts <paramref name="segment"/> before the one at <paramref name="index"/>, moving the later ones up (rare: a re-cut segment).</summary>
    public void Insert(int index, in SentSegment segment)
    {
        Add(segment);
        for (int i = Count - 1; i > index; i--)
        {
            this[i] = this[i - 1];
        }

        this[index] = segment;
    }

    public void RemoveFirst()
    {
        _head = (_head + 1) & (_items.Length - 1);
        Count--;
    }

    public void Clear()
    {
        _head = 0;
        Count = 0;
    }
}
