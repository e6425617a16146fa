namespace Tou.Protocol;

/// <summary>
/// A connection's deadlines, one per <see cref="TimerKind"/>, in one array: the connection's next deadline is their
/// minimum, and ending a connection clears them in one place. Times are the engine's microseconds; an unarmed timer
/// holds <see cref="TouTime.Never"/>.
/// </summary>
internal sealed class ConnectionTimers
{
    private readonly long[] _deadlines = new long[Enum.GetValues<TimerKind>().Length];

    public ConnectionTimers() => ClearAll();

    public long this[TimerKind kind]
    {
        get => _deadlines[(int)kind];
        set => _deadlines[(int)kind] = value;
    }

    /// <summary>The earliest armed deadline, or <see cref="TouTime.Never"/>.</summary>
    public long Next
    {
        get
        {
            long next = TouTime.Never;
            foreach (long deadline in _deadlines)
            {
                next = Math.Min(next, deadline);
            }

            return next;
        }
    }

    /// <summary>Whether <paramref name="kind"/> is armed and due at <paramref name="nowUs"/>.</summary>
    public bool IsDue(TimerKind kind, long nowUs) => nowUs >= _deadlines[(int)kind];

    public void Clear(TimerKind kind) => _deadlines[(int)kind] = TouTime.Never;

    /// <summary>Arms <paramref name="kind"/> unless it is armed already (a running timer keeps its deadline).</summary>
    public void ArmIfIdle(TimerKind kind, long deadline)
    {
        if (_deadlines[(int)kind] == TouTime.Never)
        {
            _deadlines[(int)kind] = deadline;
        }
    }

    public void ClearAll() => Array.Fill(_deadlines, TouTime.Never);
}
