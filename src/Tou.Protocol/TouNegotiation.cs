namespace Tou.Protocol;

/// <summary>What a connection's handshake agreed, for applications and tests that require a property of it.</summary>
/// <param name="Extensions">The peer speaks the extensions (otherwise it is a plain, seed-compatible peer).</param>
/// <param name="Sack">Selective acknowledgements are in use.</param>
/// <param name="Integrity">Every packet carries the keyed integrity trailer.</param>
/// <param name="SendWindowShift">Shift applied to the windows the peer advertises; -1 without window scaling.</param>
/// <param name="ReceiveWindowShift">Shift applied to the windows this side advertises; -1 without window scaling.</param>
/// <param name="SendMss">Data bytes per segment this side sends now (path MTU discovery may raise it after the handshake).</param>
public readonly record struct TouNegotiation(bool Extensions, bool Sack, bool Integrity, int SendWindowShift, int ReceiveWindowShift, int SendMss)
{
    /// <summary>This side discovers the path's datagram size on this connection (it wants to, and the peer answers probes).</summary>
    public bool PathMtuDiscovery { get; init; }

    /// <summary>The largest datagram the peer accepts, as it announced in the handshake (its <c>mss</c> field plus header and trailer).</summary>
    public int PeerMaxDatagramSize { get; init; }
}
