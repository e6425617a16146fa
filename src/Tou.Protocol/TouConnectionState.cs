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
