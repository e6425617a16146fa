namespace Tou.Protocol;

/// <summary>Which trailer a control packet carries.</summary>
internal enum ControlTrailer
{
    None,

    /// <summary>CRC32C, on a SYN+ACK.</summary>
    Crc,

    /// <summary>The keyed tag, on a recently closed connection's ACK.</summary>
    Tag,
}
