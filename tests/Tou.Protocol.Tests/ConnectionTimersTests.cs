namespace Tou.Protocol.Tests;

/// <summary>The connection's timer table on its own.</summary>
public class ConnectionTimersTests
{
    [Fact]
    public void The_next_deadline_is_the_earliest_armed_one_and_never_when_none_is()
    {
        var timers = new ConnectionTimers();
        Assert.Equal(TouTime.Never, timers.Next);

        timers[TimerKind.KeepAlive] = 15_000_000;
        timers[TimerKind.Retransmission] = 1_200_000;
        timers[TimerKind.DelayedAck] = 1_010_000;
        Assert.Equal(1_010_000, timers.Next);

        timers.Clear(TimerKind.DelayedAck);
        Assert.Equal(1_200_000, timers.Next);
        Assert.False(timers.IsDue(TimerKind.Retransmission, 1_199_999));
        Assert.True(timers.IsDue(TimerKind.Retransmission, 1_200_000));
        Assert.False(timers.IsDue(TimerKind.Persist, long.MaxValue - 1)); // unarmed is never due
    }

    [Fact]
    public void Arming_a_running_timer_keeps_its_deadline()
    {
        var timers = new ConnectionTimers();
        timers.ArmIfIdle(TimerKind.Retransmission, 500);
        timers.ArmIfIdle(TimerKind.Retransmission, 900);
        Assert.Equal(500, timers[TimerKind.Retransmission]);
    }

    [Fact]
    public void Clearing_all_disarms_every_kind()
    {
        var timers = new ConnectionTimers();
        foreach (var kind in Enum.GetValues<TimerKind>())
        {
            timers[kind] = 1_000 + (int)kind;
        }

        Assert.Equal(1_000, timers.Next);
        timers.ClearAll();
        Assert.Equal(TouTime.Never, timers.Next);
        Assert.All(Enum.GetValues<TimerKind>(), kind => Assert.Equal(TouTime.Never, timers[kind]));
    }
}
