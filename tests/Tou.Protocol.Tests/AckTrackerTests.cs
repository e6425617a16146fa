namespace Tou.Protocol.Tests;

/// <summary>What the receiver owes in acknowledgements, without a connection.</summary>
public class AckTrackerTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(10);

    [Fact]
    public void Every_second_in_order_segment_is_acknowledged_at_once_and_a_lone_one_after_the_delay()
    {
        var timers = new ConnectionTimers();
        var acks = new AckTracker(timers, Delay);

        acks.OnInOrderSegment(1_000, immediate: false);
        Assert.False(acks.Pending);
        Assert.Equal(1_000 + 10_000, timers[TimerKind.DelayedAck]);

        acks.OnInOrderSegment(3_000, immediate: false);
        Assert.True(acks.Pending);
        Assert.Equal(11_000, timers[TimerKind.DelayedAck]); // a running delay keeps its deadline

        acks.Sent();
        Assert.False(acks.Pending);
        Assert.Equal(TouTime.Never, timers[TimerKind.DelayedAck]);

        acks.OnInOrderSegment(20_000, immediate: false);
        acks.OnDelayedAckDue();
        Assert.True(acks.Pending);
        Assert.Equal(TouTime.Never, timers[TimerKind.DelayedAck]);
    }

    [Fact]
    public void A_hole_filled_or_a_plain_peer_is_acknowledged_at_once_and_so_is_everything_without_a_delay()
    {
        var acks = new AckTracker(new ConnectionTimers(), Delay);
        acks.OnInOrderSegment(1_000, immediate: true);
        Assert.True(acks.Pending);

        var undelayed = new AckTracker(new ConnectionTimers(), TimeSpan.Zero);
        undelayed.OnInOrderSegment(1_000, immediate: false);
        Assert.True(undelayed.Pending);
    }

    [Fact]
    public void Seed_style_acks_come_out_one_each_in_order_and_the_queue_keeps_the_newest()
    {
        var acks = new AckTracker(new ConnectionTimers(), Delay);
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
        var acks = new AckTracker(new ConnectionTimers(), Delay);
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
