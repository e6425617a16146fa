using FsCheck;
using FsCheck.Xunit;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>Serial-number arithmetic (RFC 1982) holds everywhere, the 2^32 wrap included.</summary>
public class SequenceNumberProperties
{
    [Property(MaxTest = 2000)]
    public bool Adding_then_subtracting_gives_the_distance(uint a, int d)
    {
        if (d == int.MinValue)
        {
            return true;
        }

        var s = new SequenceNumber(a);
        return (s + d) - s == d;
    }

    [Property(MaxTest = 2000)]
    public bool A_positive_step_is_greater_across_the_wrap(uint a, int step)
    {
        int d = (int)((uint)step % int.MaxValue) + 1; // 1 .. 2^31-1
        var s = new SequenceNumber(a);
        return s < s + d && s + d > s && s <= s + d && !(s + d <= s);
    }

    [Property(MaxTest = 2000)]
    public bool Comparison_is_antisymmetric(uint a, uint b)
    {
        var x = new SequenceNumber(a);
        var y = new SequenceNumber(b);
        if (a - b == 0x8000_0000u)
        {
            return true; // exactly half the space apart: undefined by RFC 1982
        }

        return (x < y) == (y > x) && (x == y) == (x - y == 0) && ((x < y) ^ (y < x) ^ (x == y));
    }

    [Property(MaxTest = 2000)]
    public bool IsInRange_agrees_with_the_comparisons(uint start, ushort length, int offset)
    {
        var s = new SequenceNumber(start);
        var end = s + (int)length;
        var x = s + (offset % 200_000);
        return x.IsInRange(s, end) == (x >= s && x < end);
    }

    [Property(MaxTest = 1000)]
    public bool Max_and_min_pick_by_serial_order(uint a, int d)
    {
        int step = (int)((uint)d % int.MaxValue);
        var x = new SequenceNumber(a);
        var y = x + step;
        return SequenceNumber.Max(x, y) == y && SequenceNumber.Min(x, y) == x;
    }

    [Fact]
    public void Wrap_examples()
    {
        Assert.True(new SequenceNumber(0xFFFFFFFF) < new SequenceNumber(0));
        Assert.Equal(new SequenceNumber(0xFFFFFFFF), new SequenceNumber(0) + -1);
        Assert.Equal(16, new SequenceNumber(0x0000000F) - new SequenceNumber(0xFFFFFFFF));
        Assert.True(new SequenceNumber(5).IsInRange(new SequenceNumber(0xFFFFFFF0), new SequenceNumber(10)));
    }
}
