namespace Tou.Protocol;

/// <summary>A connection's timers, one deadline each in its <see cref="ConnectionTimers"/>.</summary>
internal enum TimerKind
{
    /// <summary>The handshake gives up (SYN-SENT and SYN-RECEIVED only).</summary>
    Handshake,

    /// <summary>Retransmission timeout; in the handshake, the SYN or SYN+ACK's.</summary>
    Retransmission,

    /// <summary>RACK: the moment a segment sent before a delivered one counts as lost.</summary>
    LossDetection,

    /// <summary>Zero-window probe.</summary>
    Persist,

    /// <summary>An acknowledgement held back to cover two segments or ride on data.</summary>
    DelayedAck,

    /// <summary>Keepalive probe on a quiet connection.</summary>
    KeepAlive,

    /// <summary>The pacer has tokens for the next segment again.</summary>
    Pacing,

    /// <summary>Nothing heard from the peer for the idle timeout (established only).</summary>
    Idle,

    /// <summary>The application closed and the peer acknowledged nothing new for the linger timeout (established only).</summary>
    Linger,

    /// <summary>The end of the linger phase after a graceful close (re-acknowledging a late FIN).</summary>
    TimeWait,

    /// <summary>Path MTU discovery: an unanswered probe counts as lost, or a finished search starts again.</summary>
    PathMtu,

    /// <summary>A path challenge went unanswered: send it again, or give the new path up (<see cref="PathValidator"/>).</summary>
    PathValidation,

    /// <summary>No acknowledgement for two round trips since data left: probe the tail (RFC 8985 §7) before the RTO.</summary>
    TailLossProbe,
}
