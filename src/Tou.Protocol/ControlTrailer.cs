namespace Tou.Protocol;

/// <summary>Which trailer a control packet carries.</summary>
internal enum ControlTrailer
{
    None,

    /// <summary>CRC32C, on a SYN+ACK.</summary>
    Crc,

    /// <summary>The keyed tag, on a recently closed connection's ACK.</summary>
    Tag,

    /// <summary>The peer's connection ID and the keyed tag, on the ACK of a recently closed connection that agreed IDs.</summary>
    IdAndTag,

    /// <summary>The connection ID of the datagram an RST answers, echoed without a tag (a host without the connection has no key).</summary>
    Id,
}
