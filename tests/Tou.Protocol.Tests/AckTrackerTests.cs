namespace Tou.Protocol.Tests;

/// <summary>What the receiver owes in acknowledgements, without a connection.</summary>
public class AckTrackerTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(10);

    [Fact]
    public void Every_second_in_order_segment_is_acknowledged_at_once_and_a_lone_one_after_the_delay()
    {
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay, segmentsPerAck: 2, bytesPerAck: long.MaxValue);

        acks.OnInOrderSegment(1_000, 1_400, immediate: false);
        Assert.False(acks.Pending);
        Assert.Equal(1_000 + 10_000, timers[TimerKind.DelayedAck]);

        acks.OnInOrderSegment(3_000, 1_400, immediate: false);
        Assert.True(acks.Pending);
        Assert.Equal(11_000, timers[TimerKind.DelayedAck]); // a running delay keeps its deadline

        acks.Sent();
        Assert.False(acks.Pending);
        Assert.Equal(TouTime.Never, timers[TimerKind.DelayedAck]);

        acks.OnInOrderSegment(20_000, 1_400, immediate: false);
        acks.OnDelayedAckDue(30_000);
        Assert.True(acks.Pending);
        Assert.Equal(TouTime.Never, timers[TimerKind.DelayedAck]);
    }

    [Fact]
    public void Small_segments_count_for_their_bytes_so_a_response_in_two_pieces_waits_to_ride_on_the_next_request()
    {
        // Kestrel sends a chunked response as headers with the body (160 bytes), then the last chunk (5 bytes); the
        // client's next request carries the ACK. Counting segments sent a pure ACK per request.
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay, segmentsPerAck: 2, bytesPerAck: long.MaxValue);
        acks.OnInOrderSegment(1_000, 160, immediate: false, rttUs: 100);
        acks.OnInOrderSegment(1_010, 5, immediate: false, rttUs: 100);
        Assert.False(acks.Pending);
        Assert.Equal(11_000, timers[TimerKind.DelayedAck]);

        // Two segments of the largest size seen are two full-size segments: acknowledged at once, as before.
        acks.OnInOrderSegment(1_020, 160, immediate: false, rttUs: 100);
        Assert.True(acks.Pending);
        acks.Sent();

        // The full size follows the peer down within two round trips (a datagram size that fell back after a black hole).
        acks.OnInOrderSegment(1_200, 1_400, immediate: false, rttUs: 100);
        acks.OnInOrderSegment(1_400, 700, immediate: false, rttUs: 100);
        Assert.False(acks.Pending); // 2,100 bytes: less than two of 1,400
        acks.OnInOrderSegment(1_600, 700, immediate: false, rttUs: 100);
        Assert.True(acks.Pending); // the round with 1,400 is two rounds back: 700 is full size now
    }

    [Fact]
    public void Every_nth_segment_or_a_quarter_of_the_buffer_is_acknowledged_at_once()
    {
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay, segmentsPerAck: 10, bytesPerAck: 64_000);
        for (int i = 1; i < 10; i++)
        {
            acks.OnInOrderSegment(1_000 + i, 1_400, immediate: false);
            Assert.False(acks.Pending);
        }

        acks.OnInOrderSegment(2_000, 1_400, immediate: false);
        Assert.True(acks.Pending); // the tenth
        acks.Sent();

        acks.OnInOrderSegment(3_000, 40_000, immediate: false);
        Assert.False(acks.Pending);
        acks.OnInOrderSegment(3_001, 24_000, immediate: false);
        Assert.True(acks.Pending); // 64,000 bytes held back: the sender's window must not run dry waiting
    }

    [Fact]
    public void A_round_trip_of_few_segments_is_acknowledged_four_times_however_many_segments_one_ack_may_cover()
    {
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay, segmentsPerAck: 10, bytesPerAck: long.MaxValue);
        const long rtt = 10_000;
        int AcksInRound(long start, int segments)
        {
            int sent = 0;
            for (int i = 0; i < segments; i++)
            {
                acks.OnInOrderSegment(start + (i * rtt / segments), 1_400, immediate: false, rtt);
                if (acks.Pending)
                {
                    sent++;
                    acks.Sent();
                }
            }

            return sent;
        }

        AcksInRound(0, 9);
        Assert.Equal(2, acks.SegmentsPerAck);          // nine segments a round trip (10 Mbit/s × 10 ms): every second
        Assert.InRange(AcksInRound(rtt, 9), 4, 5);     // (one segment left from the round before)
        AcksInRound(2 * rtt, 400);
        Assert.Equal(10, acks.SegmentsPerAck);         // a window of hundreds: as configured
        Assert.Equal(40, AcksInRound(3 * rtt, 400));
    }

    [Fact]
    public void An_ack_the_timer_released_reports_how_long_it_waited_after_the_newest_data()
    {
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay, segmentsPerAck: 10, bytesPerAck: long.MaxValue);
        acks.OnInOrderSegment(1_000, 1_400, immediate: false);
        acks.OnInOrderSegment(4_000, 1_400, immediate: false);
        Assert.Equal(0, acks.AckDelayUs);
        acks.OnDelayedAckDue(11_000);
        Assert.True(acks.Pending);
        Assert.Equal(7_000, acks.AckDelayUs); // from the newest segment's arrival, which the sender samples

        acks.OnInOrderSegment(11_500, 1_400, immediate: false);
        Assert.Equal(0, acks.AckDelayUs); // newer data: the ACK now answers it at once
        acks.Sent();
        Assert.Equal(0, acks.AckDelayUs);

        acks.OnDelayedAckDue(50_000);
        Assert.Equal(0, acks.AckDelayUs); // nothing held back, nothing to report
    }

    [Fact]
    public void A_hole_filled_or_a_plain_peer_is_acknowledged_at_once_and_so_is_everything_without_a_delay()
    {
        var acks = new AckTracker(new ConnectionTimers(), Delay, segmentsPerAck: 2, bytesPerAck: long.MaxValue);
        acks.OnInOrderSegment(1_000, 1_400, immediate: true);
        Assert.True(acks.Pending);

        var undelayed = new AckTracker(new ConnectionTimers(), TimeSpan.Zero, segmentsPerAck: 2, bytesPerAck: long.MaxValue);
        undelayed.OnInOrderSegment(1_000, 1_400, immediate: false);
        Assert.True(undelayed.Pending);
    }

    [Fact]
    public void Seed_style_acks_come_out_one_each_in_order_and_the_queue_keeps_the_newest()
    {
        var acks = new AckTracker(new ConnectionTimers(), Delay, segmentsPerAck: 2, bytesPerAck: long.MaxValue);
        for (uint i = 0; i < 70; i++)
        {
            acks.QueuePlain(seq: i, ack: 1000 + i);
        }

        Assert.True(acks.Pending);
        var taken = new List<(uint, uint)>();
        while (acks.TryTakePlain(out uint seq, out uint ack))
        {
            taken.Add((seq, ack));
        }

        Assert.Equal(64, taken.Count);
        Assert.Equal((6u, 1006u), taken[0]); // the six oldest were superseded
        Assert.Equal((69u, 1069u), taken[^1]);
        Assert.False(acks.Pending);
    }

    [Fact]
    public void A_plain_fin_ack_and_a_challenge_are_each_owed_once()
    {
        var acks = new AckTracker(new ConnectionTimers(), Delay, segmentsPerAck: 2, bytesPerAck: long.MaxValue);
        Assert.False(acks.TryTakePlainFinAck(out _, out _));
        acks.QueuePlainFinAck(seq: 77, ack: 501);
        Assert.True(acks.TryTakePlainFinAck(out uint seq, out uint ack));
        Assert.Equal((77u, 501u), (seq, ack));
        Assert.False(acks.TryTakePlainFinAck(out _, out _));

        acks.RequestChallenge();
        Assert.True(acks.TakeChallenge());
        Assert.False(acks.TakeChallenge());
    }
}
