using Tou.Protocol.Buffers;

namespace Tou.Protocol;

/// <summary>
/// Receive-side flow control, in stream offsets: the next in-order offset expected (RCV.NXT), what the application
/// has consumed, the data held out of order above a hole, and the window this side offers — the free part of the
/// receive buffer, scaled by the agreed shift (RFC 7323 style), and when a drain makes a window update worth sending.
/// The connection keeps the bytes themselves in its receive buffer.
/// </summary>
internal sealed class ReceiveWindow
{
    /// <param name="capacity">The receive buffer's size: the most the window ever offers.</param>
    public ReceiveWindow(int capacity)
    {
        Capacity = capacity;

        // Every other segment of a full window missing is the worst case; memory is bounded by the window anyway.
        OutOfOrder = new RangeSet(Math.Clamp(capacity / 1000, 64, 4096));
    }

    public int Capacity { get; }

    /// <summary>The shift applied to the windows this side advertises (0 until the handshake agrees one).</summary>
    public int Shift { get; set; }

    /// <summary>The next in-order offset expected: everything below arrived.</summary>
    public long Next { get; private set; }

    /// <summary>The offset the application has consumed up to.</summary>
    public long Consumed { get; private set; }

    /// <summary>Bytes that arrived in order and wait for the application.</summary>
    public long Readable => Next - Consumed;

    /// <summary>The end of the receive buffer: nothing at or beyond it fits.</summary>
    public long End => Consumed + Capacity;

    /// <summary>The highest right edge ever advertised.</summary>
    public long AdvertisedRightEdge { get; private set; }

    /// <summary>Blocks held above a hole, in offset order (what SACK reports).</summary>
    public RangeSet OutOfOrder { get; }

    /// <summary>The end of the highest data received, in order or not.</summary>
    public long ReceivedEnd => OutOfOrder.Count > 0 ? Math.Max(Next, OutOfOrder.HighestEnd) : Next;

    /// <summary>
    /// Whether a segment overlaps the window (or, empty, sits at or within its edges). Anything up to 2^30 below
    /// <see cref="Next"/> counts, so late duplicates are acknowledged rather than dropped.
    /// </summary>
    public bool Accepts(long offset, int length) => length == 0
        ? offset >= Next - (1L << 30) && offset <= End
        : offset + length > Next - (1L << 30) && offset < End;

    /// <summary>
    /// How much of a segment to drop: <c>Skip</c> bytes at its start arrived before, <c>Cut</c> bytes at its end lie
    /// beyond the buffer or beyond <paramref name="finOffset"/> (the peer's FIN, or -1 when none is known).
    /// </summary>
    public (int Skip, int Cut) Trim(long offset, int length, long finOffset)
    {
        long end = offset + length;
        long limit = finOffset >= 0 ? Math.Min(End, finOffset) : End;
        int skip = offset < Next ? (int)Math.Min(Next - offset, length) : 0;
        int cut = end > limit ? (int)Math.Min(end - limit, length - skip) : 0;
        return (skip, cut);
    }

    /// <summary>Data arrived at <see cref="Next"/> up to <paramref name="end"/>; a held block it reaches joins it.</summary>
    /// <param name="filledHole">Something was held out of order (the ACK for this is immediate).</param>
    /// <returns>Bytes that became readable.</returns>
    public long OnInOrder(long end, out bool filledHole)
    {
        long start = Next;
        Next = end;
        filledHole = OutOfOrder.Count > 0;
        if (filledHole && OutOfOrder.StartAt(0) <= Next)
        {
            Next = Math.Max(Next, OutOfOrder.EndAt(0));
        }

        OutOfOrder.RemoveBelow(Next);
        return Next - start;
    }

    /// <summary>Whether [<paramref name="start"/>, <paramref name="end"/>) is held already.</summary>
    public bool HoldsOutOfOrder(long start, long end) => OutOfOrder.Contains(start, end);

    /// <summary>Holds a block above a hole; false when no more blocks fit.</summary>
    public bool TryHoldOutOfOrder(long start, long end) => OutOfOrder.Add(start, end);

    /// <summary>The application consumed <paramref name="count"/> readable bytes.</summary>
    public void Consume(int count) => Consumed += count;

    /// <summary>Nobody will read what is left (the connection is disposed).</summary>
    public void DiscardUnread() => Consumed = Next;

    /// <summary>
    /// The window field for an outgoing packet: the free space, scaled down (rounding down, so the right edge never
    /// promises more than fits) unless <paramref name="unscaled"/> (the handshake's ACK, before scaling applies).
    /// Remembers the right edge it advertises.
    /// </summary>
    public ushort Advertise(bool unscaled)
    {
        long free = Math.Max(0, End - Next);
        int shift = unscaled ? 0 : Shift;
        ushort window = (ushort)Math.Min(free >> shift, ushort.MaxValue);
        long rightEdge = Next + ((long)window << shift);
        if (rightEdge > AdvertisedRightEdge)
        {
            AdvertisedRightEdge = rightEdge;
        }

        return window;
    }

    /// <summary>Forgets the right edge advertised so far (the connection does so once established).</summary>
    public void ResetAdvertised() => AdvertisedRightEdge = 0;

    /// <summary>
    /// After the application drained data: whether the window grew enough since last advertised to tell the peer at
    /// once — reopening from under one segment, or at least doubling a window that had shrunk to half the buffer or
    /// less (by two segments or a quarter of the buffer at least). A sender held back by the window may have nothing
    /// else in flight to draw an ACK that would tell it; a sender with half the buffer still offered is not held back,
    /// and the ACKs its data draws carry the new window soon enough (an update per drained segment or two would cost a
    /// packet each at high rates).
    /// </summary>
    public bool WindowUpdateOwed(int mss)
    {
        long window = Math.Min(Consumed + Capacity - Next, (long)ushort.MaxValue << Shift);
        long advertised = AdvertisedRightEdge - Next;
        long growth = window - advertised;
        bool reopened = advertised < mss && window >= mss;
        bool doubled = advertised <= Capacity / 2 && window >= 2 * advertised && growth >= Math.Min(2L * mss, Capacity / 4);
        return reopened || doubled;
    }
}
