namespace Tou.Protocol;

/// <summary>Life cycle of a connection as the application sees it.</summary>
public enum TouConnectionState
{
    /// <summary>Handshake under way.</summary>
    Connecting,

    /// <summary>Both directions may carry data (either may already be half-closed).</summary>
    Established,

    /// <summary>Both FINs were exchanged and acknowledged, or the connection was reset, aborted or timed out.</summary>
    Closed,
}

/// <summary>Why a connection ended.</summary>
public enum TouCloseReason
{
    None,

    /// <summary>Both sides closed and everything was acknowledged.</summary>
    Graceful,

    /// <summary>The peer sent RST.</summary>
    ResetByPeer,

    /// <summary>The local application aborted (RST sent).</summary>
    Aborted,

    /// <summary>The peer refused the connection (RST in answer to our SYN).</summary>
    Refused,

    /// <summary>The handshake did not complete within <see cref="TouOptions.HandshakeTimeout"/>.</summary>
    HandshakeTimeout,

    /// <summary>Data went unacknowledged through <see cref="TouOptions.MaxRetransmissions"/> timeouts.</summary>
    RetransmissionTimeout,

    /// <summary>Nothing was heard from the peer for <see cref="TouOptions.IdleTimeout"/>.</summary>
    IdleTimeout,

    /// <summary>The application had closed the connection and its data or FIN went unacknowledged for
    /// <see cref="TouOptions.LingerTimeout"/> (RST sent).</summary>
    LingerTimeout,
}

/// <summary>What changed on a connection since the application last asked (see <see cref="TouConnection.TakeEvents"/>).</summary>
[Flags]
public enum TouConnectionEvents
{
    None = 0,

    /// <summary>The handshake completed.</summary>
    Connected = 1,

    /// <summary>New data can be read.</summary>
    Readable = 2,

    /// <summary>Room opened in the send buffer.</summary>
    Writable = 4,

    /// <summary>The peer closed its sending side; all its data has arrived.</summary>
    ReceiveCompleted = 8,

    /// <summary>Everything written so far has been acknowledged by the peer.</summary>
    SendAcknowledged = 16,

    /// <summary>The connection reached <see cref="TouConnectionState.Closed"/>.</summary>
    Closed = 32,
}
