namespace Tou.Protocol.Wire;

/// <summary>The flags byte of a TOU header.</summary>
[Flags]
internal enum TouFlags : byte
{
    None = 0,
    Fin = 0x01,
    Rst = 0x02,
    Ack = 0x04,
    Syn = 0x08,

    /// <summary>Extension (negotiated only): the payload starts with an option block (see docs/protocol.md).</summary>
    Options = 0x10,

    /// <summary>Extension (negotiated only): the receiver must answer at once with an ACK (probes, keepalives).</summary>
    Ping = 0x20,

    /// <summary>The flags the seed defines.</summary>
    SeedMask = Fin | Rst | Ack | Syn,

    /// <summary>Every flag this implementation knows; the others are reserved and make a packet invalid.</summary>
    KnownMask = SeedMask | Options | Ping,
}
