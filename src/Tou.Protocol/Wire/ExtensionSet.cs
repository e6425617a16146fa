namespace Tou.Protocol.Wire;

/// <summary>What one side offers, or both sides agreed, in the handshake.</summary>
internal struct ExtensionSet
{
    /// <summary>The peer speaks the extension format at all (piggybacked ACKs, Options and Ping flags, strict FIN).</summary>
    public bool Extended;
    public bool Sack;

    /// <summary>The keyed integrity trailer (§5.4 of docs/protocol.md). In a server's answer it comes with <see cref="Keys"/>.</summary>
    public bool Integrity;

    /// <summary>Shift the sender applies to the windows it advertises; -1 when window scaling is not offered.</summary>
    public int WindowShift;

    /// <summary>The connection's integrity keys, chosen by the server and sent in its SYN+ACK.</summary>
    public IntegrityKeys Keys;

    /// <summary>The sender answers path MTU probes (PMTU_PROBES, §5.5 of docs/protocol.md); agreed: the peer does.</summary>
    public bool PathMtuProbes;

    /// <summary>The ID the writer of this offer wants on the packets sent to it (CONNECTION_ID, §5.7 of docs/protocol.md); 0: none.</summary>
    public ulong ConnectionId;

    public static ExtensionSet Plain => new() { WindowShift = -1 };
}
