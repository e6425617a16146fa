namespace Tou.Protocol;

/// <summary>Why a connection ended.</summary>
public enum TouCloseReason
{
    /// <summary>The connection has not ended.</summary>
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
