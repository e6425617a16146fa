namespace Tou.Protocol;

[Flags]
internal enum SegmentState : byte
{
    None = 0,

    /// <summary>Sent and counted in bytes in flight.</summary>
    InFlight = 1,

    /// <summary>Selectively acknowledged; never sent again.</summary>
    Sacked = 2,

    /// <summary>Declared lost; waits for retransmission.</summary>
    Lost = 4,

    /// <summary>Sent more than once, so its acknowledgement gives no RTT sample (Karn).</summary>
    Retransmitted = 8,

    /// <summary>The segment is the FIN (no data, one sequence number).</summary>
    Fin = 16,

    /// <summary>Sent while the application had nothing more to send (its rate sample understates the path).</summary>
    AppLimited = 32,
}

internal struct SentSegment
{
    public long Offset;
    public int Length;
    public long SentUs;
    public SegmentState State;

    // Delivery-rate estimation: the connection's delivery state when this segment was (last) sent.
    public long DeliveredAtSend;
    public long DeliveredTimeAtSend;
    public long FirstSentTimeAtSend;

    public readonly long End => Offset + Length + ((State & SegmentState.Fin) != 0 ? 1 : 0);

    public readonly bool Is(SegmentState flag) => (State & flag) != 0;
}

/// <summary>The segments sent and not yet cumulatively acknowledged, in stream order, in a ring that grows by doubling.</summary>
internal sealed class SentSegmentQueue
{
    private SentSegment[] _items = new SentSegment[16];
    private int _head;

    public int Count { get; private set; }

    public ref SentSegment this[int index] => ref _items[(_head + index) & (_items.Length - 1)];

    public ref SentSegment First => ref this[0];

    public ref SentSegment Last => ref this[Count - 1];

    public void Add(in SentSegment segment)
    {
        if (Count == _items.Length)
        {
            var grown = new SentSegment[_items.Length * 2];
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
