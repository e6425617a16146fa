namespace Tou.Protocol.Tests;

/// <summary>Loss detection, recovery, undo and delivery-rate samples on their own: sends, ACKs and SACKs fed by hand.</summary>
public class LossDetectorTests
{
    private const int Mss = 1000;

    [Fact]
    public void A_cumulative_ack_delivers_what_was_in_flight_and_gives_an_rtt_sample()
    {
        var s = new Sender(sack: true);
        s.Send(4, nowUs: 0);

        var outcome = s.Ack(50_000, ack: 2000);
        Assert.Equal(2000, outcome.DeliveredBytes);
        Assert.Equal(0, outcome.SackedBytes);
        Assert.Equal(50_000, outcome.RttSampleUs);
        Assert.Equal(50_000, s.Rtt.SmoothedRttUs); // the detector fed the estimator
        Assert.Equal(2000, s.Loss.BytesInFlight);
        Assert.Equal(2, s.Loss.SegmentCount);

        outcome = s.Ack(51_000, ack: 2500); // part of a segment: the rest stays
        Assert.Equal(500, outcome.DeliveredBytes);
        Assert.Equal(-1, outcome.RttSampleUs);
        Assert.Equal(1500, s.Loss.BytesInFlight);
        Assert.Equal(2500, s.Loss.SegmentAt(0).Offset);
        Assert.Equal(500, s.Loss.SegmentAt(0).Length);
    }

    [Fact]
    public void The_peers_reported_ack_delay_comes_off_the_sample_but_never_below_the_smallest_rtt()
    {
        var s = new Sender(sack: true);
        s.Send(1, nowUs: 0);
        Assert.Equal(50_000, s.Ack(50_000, ack: 1000).RttSampleUs); // the smallest RTT so far

        s.Send(1, nowUs: 100_000);
        Assert.Equal(52_000, s.Ack(162_000, ack: 2000, ackDelayUs: 10_000).RttSampleUs); // the ACK waited 10 ms at the peer

        s.Send(1, nowUs: 200_000);
        Assert.Equal(55_000, s.Ack(255_000, ack: 3000, ackDelayUs: 10_000).RttSampleUs); // taking it off would go below 50 ms
    }

    [Fact]
    public void Rack_declares_a_segment_lost_once_its_rtt_plus_the_reordering_window_has_passed()
    {
        var s = new Sender(sack: true);
        s.Send(4, nowUs: 0);

        // The second segment is SACKed after 50 ms: the first was sent no later, so it is late, but one SACK is not three.
        var outcome = s.Ack(50_000, ack: 0, sack: [(1000, 2000)]);
        Assert.Equal(1000, outcome.SackedBytes);
        Assert.Equal(0, outcome.LostSegments);
        long lossAt = 0 + 50_000 + (50_000 / 4); // sent + RACK RTT + a quarter of the minimum RTT
        Assert.Equal(lossAt, s.Timers[TimerKind.LossDetection]);

        Assert.Equal(0, s.Loss.DetectLosses(lossAt - 1, s.Una, s.Nxt).LostSegments);
        Assert.Equal(lossAt, s.Timers[TimerKind.LossDetection]);

        outcome = s.Loss.DetectLosses(lossAt, s.Una, s.Nxt);
        Assert.Equal(1, outcome.LostSegments);
        Assert.Equal(1000, outcome.LostBytes);
        Assert.True(outcome.RecoveryStarted);
        Assert.Equal(3000, outcome.BytesInFlightBeforeLoss); // the controller's congestion event hears this
        Assert.Equal(2000, s.Loss.BytesInFlight);
        Assert.True(s.Loss.InRecovery);
        Assert.True(s.Loss.HasLostSegments);
        Assert.Equal(0, s.Loss.OldestLost());
        Assert.Equal(TouTime.Never, s.Timers[TimerKind.LossDetection]); // the last two were sent after the SACKed one
    }

    [Fact]
    public void Three_segments_sacked_above_a_hole_declare_it_lost_at_once()
    {
        var s = new Sender(sack: true);
        s.Send(5, nowUs: 0);

        var outcome = s.Ack(50_000, ack: 0, sack: [(1000, 4000)]);
        Assert.Equal(3000, outcome.SackedBytes);
        Assert.Equal(1, outcome.LostSegments);
        Assert.True(outcome.RecoveryStarted);
        Assert.Equal(0, s.Loss.OldestLost());
        Assert.False(s.Loss.FastRetransmitPending); // only the duplicate-ACK rule skips the window
    }

    [Fact]
    public void Three_duplicate_acks_trigger_a_fast_retransmit_for_a_peer_without_sack()
    {
        var s = new Sender(sack: false);
        s.Send(5, nowUs: 0);

        Assert.Equal(0, s.Ack(10_000, ack: 0, duplicate: true).LostSegments);
        Assert.Equal(0, s.Ack(11_000, ack: 0, duplicate: true).LostSegments);
        Assert.Equal(2, s.Loss.DuplicateAcks);
        Assert.Equal(5000 - 2000, s.Loss.Pipe); // RFC 5681 inflation: each duplicate says a segment left

        var outcome = s.Ack(12_000, ack: 0, duplicate: true);
        Assert.Equal(1, outcome.LostSegments);
        Assert.True(outcome.RecoveryStarted);
        Assert.Equal(5000, outcome.BytesInFlightBeforeLoss);
        Assert.True(s.Loss.FastRetransmitPending);
        Assert.Equal(0, s.Loss.OldestLost());
        Assert.Equal(0, s.Loss.DuplicateAcks);
        Assert.Equal(4000 - 3000, s.Loss.Pipe);

        s.Loss.OnRetransmitted(0, 13_000, appLimited: false);
        Assert.False(s.Loss.FastRetransmitPending);
        Assert.False(s.Loss.HasLostSegments);
        Assert.Equal(-1, s.Loss.OldestLost());
        Assert.Equal(5000, s.Loss.BytesInFlight);
    }

    [Fact]
    public void A_duplicate_ack_with_nothing_outstanding_or_an_ack_that_advances_counts_no_duplicate()
    {
        var s = new Sender(sack: false);
        s.Ack(1_000, ack: 0, duplicate: true);
        Assert.Equal(0, s.Loss.DuplicateAcks);

        s.Send(3, nowUs: 2_000);
        s.Ack(3_000, ack: 0, duplicate: true);
        s.Ack(4_000, ack: 0, duplicate: true);
        Assert.Equal(2, s.Loss.DuplicateAcks);
        s.Ack(5_000, ack: 1000);
        Assert.Equal(0, s.Loss.DuplicateAcks);
        Assert.Equal(2000, s.Loss.Pipe);
    }

    [Fact]
    public void In_recovery_each_partial_ack_declares_the_next_hole_lost_and_the_episode_ends_at_its_mark()
    {
        var s = new Sender(sack: false);
        s.Send(5, nowUs: 0);
        for (int i = 0; i < 3; i++)
        {
            s.Ack(10_000 + i, ack: 0, duplicate: true);
        }

        s.Loss.OnRetransmitted(0, 20_000, appLimited: false);

        // NewReno: the retransmission filled the first hole, and the ACK stops at the next one.
        var outcome = s.Ack(70_000, ack: 2000);
        Assert.Equal(2000, outcome.DeliveredBytes);
        Assert.Equal(-1, outcome.RttSampleUs); // the newest transmission delivered is the retransmission: Karn
        Assert.Equal(1, outcome.LostSegments);
        Assert.False(outcome.RecoveryStarted);
        Assert.True(s.Loss.FastRetransmitPending);
        Assert.Equal(2000, s.Loss.SegmentAt(s.Loss.OldestLost()).Offset);

        s.Loss.OnRetransmitted(0, 71_000, appLimited: false);
        outcome = s.Ack(130_000, ack: 5000);
        Assert.True(outcome.RecoveryEnded);
        Assert.False(s.Loss.InRecovery);
        Assert.Equal(0, s.Loss.SegmentCount);
        Assert.Equal(0, s.Loss.BytesInFlight);
    }

    [Fact]
    public void A_retransmission_acknowledged_too_soon_is_spurious_undoes_the_episode_once_and_distrusts_three_sacks()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(40_000);
        s.Send(5, nowUs: 0);
        Assert.True(s.Ack(40_000, ack: 0, sack: [(1000, 4000)]).RecoveryStarted);
        s.Loss.OnRetransmitted(0, 41_000, appLimited: false);

        // The original arrives 1 ms after the retransmission left: far less than a round trip, so it was reordered.
        var outcome = s.Ack(42_000, ack: 4000);
        Assert.Equal(1, outcome.SpuriousRetransmissions);
        Assert.True(outcome.UndoRecovery);
        Assert.True(s.Loss.ReorderingSeen);
        Assert.True(s.Loss.InRecovery); // the episode itself lasts until its last byte is acknowledged

        // Reordering seen: a hole with three SACKs above waits for RACK's timer instead of being lost at once.
        s.Send(4, nowUs: 43_000);
        outcome = s.Ack(83_000, ack: 5000, sack: [(6000, 9000)]);
        Assert.True(outcome.RecoveryEnded);
        Assert.Equal(0, outcome.LostSegments);
        Assert.NotEqual(TouTime.Never, s.Timers[TimerKind.LossDetection]);
    }

    [Fact]
    public void A_tail_loss_probe_acknowledged_soon_after_it_left_is_no_sign_of_reordering()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(40_000);
        s.Send(3, nowUs: 0);
        s.Loss.OnProbeResent(2, 90_000); // two round trips without an ACK: the newest segment goes out again

        // The original's acknowledgement was only late: it comes 1 ms after the probe left. A retransmission of a
        // segment declared lost, acknowledged that soon, would mean the path reordered (the test above).
        var outcome = s.Ack(91_000, ack: 3000);
        Assert.Equal(0, outcome.SpuriousRetransmissions);
        Assert.False(s.Loss.ReorderingSeen);
        Assert.Equal(0, s.Loss.BytesInFlight);
    }

    [Fact]
    public void A_retransmission_acknowledged_too_soon_does_not_become_rack_s_newest_delivery()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(40_000);
        s.Send(1, nowUs: 0);                                  // offset 0: its ACK will be lost
        s.Send(10, nowUs: 1_000);                             // offsets 1000..11000, still on their way
        Assert.Equal(1, s.Ack(40_500, ack: 0, sack: [(1000, 4000)]).LostSegments); // three SACKed above: 0 is presumed lost
        s.Loss.OnRetransmitted(0, 40_600, appLimited: false);

        // The original did arrive: the next ACK covers it 100 µs after the retransmission left. Were that retransmission
        // RACK's newest delivery (an RTT of 100 µs), every segment sent before it would be overdue at once.
        var outcome = s.Ack(40_700, ack: 4000);
        Assert.Equal(0, outcome.LostSegments);
        Assert.Equal(0, s.Loss.DetectLosses(45_000, s.Una, s.Nxt).LostSegments);
        Assert.Equal(7000, s.Loss.BytesInFlight);
    }

    [Fact]
    public void The_reordering_window_a_spurious_retransmission_widened_narrows_again_after_sixteen_recoveries()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(40_000);
        s.Send(5, nowUs: 0);
        s.Ack(40_000, ack: 0, sack: [(1000, 4000)]);
        s.Loss.OnRetransmitted(0, 41_000, appLimited: false);
        Assert.Equal(1, s.Ack(42_000, ack: 5000).SpuriousRetransmissions); // ends that recovery too
        long now = 100_000;
        long LossWindow()
        {
            // One segment, then one sent after it SACKed: RACK's timer says how long the first may be late.
            s.Send(2, now);
            s.Ack(now + 40_000, ack: s.Una, sack: [(s.Nxt - Mss, s.Nxt)]);
            long window = s.Timers[TimerKind.LossDetection] - now - 40_000;
            s.Ack(now + 41_000, ack: s.Nxt); // the late one arrives: nothing lost, no recovery
            now += 100_000;
            return window;
        }

        Assert.Equal(20_000, LossWindow()); // twice a quarter of the minimum RTT
        for (int i = 0; i < 16; i++)
        {
            s.Send(4, now);
            s.Ack(now + 40_000, ack: s.Una, sack: [(s.Una + Mss, s.Nxt)]);
            Assert.Equal(1, s.Loss.DetectLosses(now + 100_000, s.Una, s.Nxt).LostSegments); // RACK's timer: a recovery starts
            s.Loss.OnRetransmitted(s.Loss.OldestLost(), now + 100_000, appLimited: false);
            s.Ack(now + 141_000, ack: s.Nxt); // the retransmission took a round trip: no reordering
            Assert.False(s.Loss.InRecovery);
            now += 200_000;
        }

        Assert.Equal(10_000, LossWindow());
    }

    [Fact]
    public void An_episode_is_undone_at_most_once_and_never_after_a_retransmission_timeout()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(40_000);
        s.Send(6, nowUs: 0);
        s.Ack(40_000, ack: 0, sack: [(2000, 5000)]); // both holes are lost: 0-1000 and 1000-2000
        s.Loss.OnRetransmitted(0, 41_000, appLimited: false);
        s.Loss.OnRetransmitted(1, 41_000, appLimited: false);
        Assert.True(s.Ack(42_000, ack: 1000).UndoRecovery);
        var second = s.Ack(42_500, ack: 2000);
        Assert.Equal(1, second.SpuriousRetransmissions);
        Assert.False(second.UndoRecovery);

        var t = new Sender(sack: true);
        t.Rtt.AddSample(40_000);
        t.Send(3, nowUs: 0);
        Assert.Equal(3, t.Loss.OnRetransmissionTimeout(t.Una, t.Nxt));
        Assert.True(t.Loss.InRecovery);
        Assert.Equal(0, t.Loss.BytesInFlight);
        t.Loss.OnRetransmitted(0, 300_000, appLimited: false);
        var afterRto = t.Ack(301_000, ack: 1000);
        Assert.Equal(1, afterRto.SpuriousRetransmissions);
        Assert.False(afterRto.UndoRecovery);
    }

    [Fact]
    public void A_retransmission_timeout_declares_everything_not_sacked_lost()
    {
        var s = new Sender(sack: true);
        s.Send(4, nowUs: 0);
        s.Loss.OnFinSent(s.Nxt, nowUs: 0);
        s.Ack(50_000, ack: 0, sack: [(1000, 2000)]);

        Assert.Equal(4, s.Loss.OnRetransmissionTimeout(s.Una, s.Nxt)); // three data segments and the FIN
        Assert.True(s.Loss.HasLostSegments);
        Assert.Equal(0, s.Loss.BytesInFlight);
        Assert.Equal(0, s.Loss.OldestLost());
        Assert.Equal(0, s.Loss.OnRetransmissionTimeout(s.Una, s.Nxt)); // nothing new to declare

        // The FIN counts one sequence number: an ACK past the data takes it too.
        s.Loss.OnRetransmitted(0, 60_000, appLimited: false);
        s.Ack(100_000, ack: s.Nxt + 1);
        Assert.Equal(0, s.Loss.SegmentCount);
        Assert.False(s.Loss.HasLostSegments);
    }

    [Fact]
    public void The_delivery_rate_is_the_bytes_delivered_over_the_longer_of_the_send_and_ack_intervals()
    {
        var s = new Sender(sack: true);
        s.Send(1, nowUs: 0);
        s.Send(1, nowUs: 1_000, appLimited: true);

        var first = s.Ack(50_000, ack: 1000);
        Assert.Equal(1000 * 1e6 / 50_000, first.DeliveryRate); // 1,000 bytes over the 50 ms since the flight began
        Assert.Equal(0, first.PriorDelivered);
        Assert.Equal(1000, first.Delivered);
        Assert.False(first.AppLimited);

        var second = s.Ack(51_000, ack: 2000);
        Assert.Equal(2000 * 1e6 / 51_000, second.DeliveryRate);
        Assert.True(second.AppLimited); // the application had nothing more when it went out
        Assert.Equal(2000, s.Loss.Delivered);
    }

    [Fact]
    public void A_rate_sample_shorter_than_the_minimum_rtt_is_no_sample()
    {
        var s = new Sender(sack: true);
        s.Rtt.AddSample(100_000);
        s.Send(1, nowUs: 0);
        s.Loss.OnRetransmissionTimeout(s.Una, s.Nxt);
        s.Loss.OnRetransmitted(0, 200_000, appLimited: false); // nothing else in flight: a new flight starts

        // 50 ms after the retransmission, half the shortest round trip: the original's ACK, not a measure of the path.
        var outcome = s.Ack(250_000, ack: 1000);
        Assert.Equal(1000, outcome.DeliveredBytes);
        Assert.Equal(-1, outcome.RttSampleUs);
        Assert.Equal(0, outcome.DeliveryRate);
    }

    [Fact]
    public void Sack_blocks_outside_what_is_outstanding_are_counted_and_ignored()
    {
        var s = new Sender(sack: true);
        s.Send(4, nowUs: 0);
        s.Ack(10_000, ack: 1000);

        var outcome = s.Ack(20_000, ack: 1000, sack: [(500, 2000), (3000, 3000), (3000, 9000), (2000, 3000)]);
        Assert.Equal(3, outcome.InvalidSackBlocks);
        Assert.Equal(1000, outcome.SackedBytes);
        Assert.Equal(1000, s.Loss.SegmentAt(0).Offset);
        Assert.False(s.Loss.SegmentAt(0).Is(SegmentState.Sacked));
        Assert.True(s.Loss.SegmentAt(1).Is(SegmentState.Sacked));

        Assert.Equal(0, s.Ack(21_000, ack: 1000, sack: [(2000, 3000)]).SackedBytes); // already SACKed
    }

    /// <summary>Drives a detector the way the connection does: it keeps the send offsets and tells the detector.</summary>
    private sealed class Sender
    {
        public Sender(bool sack)
        {
            Loss = new LossDetector(Timers, Rtt);
            Loss.Start(sack, Mss);
        }

        public ConnectionTimers Timers { get; } = new();

        public RttEstimator Rtt { get; } = new(initialRtoUs: 1_000_000, minRtoUs: 200_000, maxRtoUs: 60_000_000);

        public LossDetector Loss { get; }

        public long Una { get; private set; }

        public long Nxt { get; private set; }

        public void Send(int segments, long nowUs, bool appLimited = false)
        {
            for (int i = 0; i < segments; i++)
            {
                Loss.OnSent(Nxt, Mss, nowUs, appLimited);
                Nxt += Mss;
            }
        }

        public AckOutcome Ack(long nowUs, long ack, bool duplicate = false, params (long Start, long End)[] sack) => Ack(nowUs, ack, ackDelayUs: 0, duplicate, sack);

        public AckOutcome Ack(long nowUs, long ack, long ackDelayUs, bool duplicate = false, params (long Start, long End)[] sack)
        {
            bool advanced = ack > Una;
            if (advanced)
            {
                Una = Math.Min(ack, Nxt);
            }

            return Loss.OnAck(new ReceivedAck
            {
                NowUs = nowUs,
                AckDelayUs = ackDelayUs,
                AckOffset = ack,
                Advanced = advanced,
                Duplicate = duplicate && !advanced,
                SackBlocks = sack,
                SndUna = Una,
                SndNxt = Nxt,
            });
        }
    }
}
