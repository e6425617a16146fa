namespace Tou.Protocol.Tests;

/// <summary>Receive-side flow control on its own: what fits, what is held out of order, the window advertised and when a drain owes an update.</summary>
public class ReceiveWindowTests
{
    [Fact]
    public void A_scaled_window_rounds_down_so_its_right_edge_never_promises_more_than_fits()
    {
        var window = new ReceiveWindow(100_000) { Shift = 4 };
        window.OnInOrder(1000, out _);

        ushort field = window.Advertise(unscaled: false);
        Assert.Equal(99_000 >> 4, field); // 6,187 units of 16 bytes: 98,992 bytes, not 99,000
        Assert.Equal(1000 + (6_187L << 4), window.AdvertisedRightEdge);
        Assert.True(window.AdvertisedRightEdge <= window.End);

        Assert.Equal(ushort.MaxValue, window.Advertise(unscaled: true)); // the handshake's ACK: unscaled, capped at 16 bits
        Assert.Equal(1000 + (6_187L << 4), window.AdvertisedRightEdge); // its lower edge does not replace the one remembered
    }

    [Fact]
    public void The_remembered_right_edge_only_grows()
    {
        var window = new ReceiveWindow(10_000);
        window.Advertise(unscaled: false);
        Assert.Equal(10_000, window.AdvertisedRightEdge);

        window.OnInOrder(4000, out _); // data arrived, nothing consumed: the window shrank, its edge stays
        Assert.Equal(6000, window.Advertise(unscaled: false));
        Assert.Equal(10_000, window.AdvertisedRightEdge);

        window.ResetAdvertised();
        Assert.Equal(0, window.AdvertisedRightEdge);
    }

    [Fact]
    public void Without_scaling_the_window_field_is_capped_at_sixteen_bits()
    {
        var window = new ReceiveWindow(2_000_000);
        Assert.Equal(ushort.MaxValue, window.Advertise(unscaled: false));
        Assert.Equal(ushort.MaxValue, window.AdvertisedRightEdge);

        window.Shift = 5;
        Assert.Equal(2_000_000 >> 5, window.Advertise(unscaled: false));
        Assert.Equal(2_000_000, window.AdvertisedRightEdge);
    }

    [Fact]
    public void A_window_update_is_owed_when_a_drain_reopens_a_closed_window_or_grows_it_by_two_segments()
    {
        const int mss = 1000;
        var window = new ReceiveWindow(64_000);
        window.OnInOrder(64_000, out _);
        Assert.Equal(0, window.Advertise(unscaled: false)); // full: the window closed
        Assert.False(window.WindowUpdateOwed(mss));

        window.Consume(999);
        Assert.False(window.WindowUpdateOwed(mss)); // not yet a segment's worth
        window.Consume(1);
        Assert.True(window.WindowUpdateOwed(mss)); // reopened from under one segment
        Assert.Equal(1000, window.Advertise(unscaled: false));

        window.Consume(1000);
        Assert.False(window.WindowUpdateOwed(mss)); // grew by one segment only
        window.Consume(1000);
        Assert.True(window.WindowUpdateOwed(mss)); // by two
        Assert.Equal(3000, window.Advertise(unscaled: false));
        Assert.False(window.WindowUpdateOwed(mss));
    }

    [Fact]
    public void A_window_shrunk_to_half_the_buffer_owes_an_update_once_a_drain_doubles_it()
    {
        var window = new ReceiveWindow(4000);
        window.OnInOrder(2000, out _);
        window.Advertise(unscaled: false); // edge at 4,000: 2,000 bytes offered, half the buffer
        window.Consume(999);
        Assert.False(window.WindowUpdateOwed(mss: 1400));
        window.Consume(1);
        Assert.False(window.WindowUpdateOwed(mss: 1400)); // 3,000 is not yet twice 2,000
        window.Consume(1000);
        Assert.True(window.WindowUpdateOwed(mss: 1400)); // 4,000: doubled
    }

    [Fact]
    public void A_wide_open_window_owes_no_update_however_much_is_drained()
    {
        const int mss = 1000;
        var window = new ReceiveWindow(1_000_000);
        window.Shift = 5;
        window.Advertise(unscaled: false);
        for (int segment = 1; segment <= 400; segment++)
        {
            window.OnInOrder(segment * mss, out _);
            window.Consume(mss);
            Assert.False(window.WindowUpdateOwed(mss)); // 600,000 bytes or more still offered: the sender is not held back
        }
    }

    [Fact]
    public void Data_held_above_a_hole_joins_the_stream_when_the_hole_fills()
    {
        var window = new ReceiveWindow(100_000);
        Assert.Equal(1000, window.OnInOrder(1000, out bool filled));
        Assert.False(filled);

        Assert.True(window.TryHoldOutOfOrder(2000, 3000));
        Assert.True(window.HoldsOutOfOrder(2000, 3000));
        Assert.False(window.HoldsOutOfOrder(1500, 3000));
        Assert.Equal(3000, window.ReceivedEnd);
        Assert.Equal(1000, window.Next);

        Assert.Equal(500, window.OnInOrder(1500, out filled)); // short of the held block
        Assert.True(filled);
        Assert.Equal(1, window.OutOfOrder.Count);

        Assert.Equal(1500, window.OnInOrder(2000, out filled)); // reaches it: both become readable
        Assert.True(filled);
        Assert.Equal(3000, window.Next);
        Assert.Equal(3000, window.Readable);
        Assert.Equal(0, window.OutOfOrder.Count);
        Assert.Equal(3000, window.ReceivedEnd);
    }

    [Fact]
    public void Out_of_order_blocks_are_bounded()
    {
        var window = new ReceiveWindow(10_000); // 64 blocks at least
        int held = 0;
        while (window.TryHoldOutOfOrder(100 + (held * 20), 110 + (held * 20)))
        {
            held++;
        }

        Assert.Equal(64, held);
        Assert.True(window.TryHoldOutOfOrder(100, 105)); // inside a held block: no new slot needed
    }

    [Fact]
    public void Trimming_drops_what_arrived_before_and_what_lies_beyond_the_buffer_or_the_fin()
    {
        var window = new ReceiveWindow(10_000);
        window.OnInOrder(1000, out _);

        Assert.Equal((500, 0), window.Trim(500, 1000, finOffset: -1));
        Assert.Equal((800, 0), window.Trim(0, 800, finOffset: -1)); // all old
        Assert.Equal((0, 500), window.Trim(9_500, 1000, finOffset: -1));
        Assert.Equal((0, 500), window.Trim(2000, 1000, finOffset: 2500));

        window.Consume(1000); // the buffer's end moves with what the application consumed
        Assert.Equal((0, 0), window.Trim(9_500, 1000, finOffset: -1));
    }

    [Fact]
    public void A_segment_is_acceptable_when_it_overlaps_the_window_and_an_empty_one_also_at_its_edge()
    {
        var window = new ReceiveWindow(10_000);
        window.OnInOrder(1000, out _);

        Assert.True(window.Accepts(10_000, 0)); // empty, at the right edge
        Assert.False(window.Accepts(10_000, 1));
        Assert.True(window.Accepts(9_999, 5));
        Assert.True(window.Accepts(500, 0)); // a late duplicate: acknowledged, not dropped
        Assert.True(window.Accepts(0, 600));
        Assert.False(window.Accepts(1000 - (1L << 30) - 1, 0));
    }

    [Fact]
    public void Discarding_unread_data_consumes_everything_that_arrived()
    {
        var window = new ReceiveWindow(10_000);
        window.OnInOrder(3000, out _);
        window.Consume(1000);
        Assert.Equal(2000, window.Readable);

        window.DiscardUnread();
        Assert.Equal(0, window.Readable);
        Assert.Equal(13_000, window.End);
    }
}
