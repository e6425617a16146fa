namespace Tou.Protocol;

/// <summary>What changed on a connection since the application last asked (see <see cref="TouConnection.TakeEvents"/>).</summary>
[Flags]
public enum TouConnectionEvents
{
    /// <summary>Nothing changed.</summary>
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
