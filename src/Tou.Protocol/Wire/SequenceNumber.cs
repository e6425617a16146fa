namespace Tou.Protocol.Wire;

/// <summary>
/// A 32-bit sequence number with the serial-number arithmetic of RFC 1982: comparisons are
/// correct across the 2^32 wrap as long as the two numbers are less than 2^31 apart.
/// </summary>
internal readonly record struct SequenceNumber(uint Value) : IComparable<SequenceNumber>
{
    public static SequenceNumber operator +(SequenceNumber s, int delta) => new(unchecked(s.Value + (uint)delta));

    public static SequenceNumber operator +(SequenceNumber s, uint delta) => new(unchecked(s.Value + delta));

    public static SequenceNumber operator -(SequenceNumber s, int delta) => new(unchecked(s.Value - (uint)delta));

    /// <summary>Signed distance from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static int operator -(SequenceNumber a, SequenceNumber b) => unchecked((int)(a.Value - b.Value));

    public static bool operator <(SequenceNumber a, SequenceNumber b) => a - b < 0;

    public static bool operator <=(SequenceNumber a, SequenceNumber b) => a - b <= 0;

    public static bool operator >(SequenceNumber a, SequenceNumber b) => a - b > 0;

    public static bool operator >=(SequenceNumber a, SequenceNumber b) => a - b >= 0;

    public int CompareTo(SequenceNumber other) => Math.Sign(this - other);

    public static SequenceNumber Max(SequenceNumber a, SequenceNumber b) => a >= b ? a : b;

    public static SequenceNumber Min(SequenceNumber a, SequenceNumber b) => a <= b ? a : b;

    /// <summary>True when <paramref name="start"/> &lt;= this &lt; <paramref name="end"/> in sequence space.</summary>
    public bool IsInRange(SequenceNumber start, SequenceNumber end) => this - start >= 0 && end - this > 0;

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
