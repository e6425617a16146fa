using System.Buffers.Binary;

namespace Tou.Protocol.Wire;

/// <summary>
/// The wire side of connection IDs and path validation (docs/protocol.md §5.7): the CONNECTION_ID offer TLV, the
/// ID-and-tag trailer of every packet after the SYNs, and the PATH_CHALLENGE / PATH_RESPONSE option-block TLVs.
/// </summary>
internal static class ConnectionIdOptions
{
    /// <summary>SYN and SYN+ACK offer TLV: the 8-byte ID the sender wants on the packets sent to it.</summary>
    public const byte TlvConnectionId = 11;

    /// <summary>Option-block TLV: an 8-byte random token the receiver must echo from the address the packet came from.</summary>
    public const byte TlvPathChallenge = 12;

    /// <summary>Option-block TLV: the token of the PATH_CHALLENGE this packet answers.</summary>
    public const byte TlvPathResponse = 13;

    /// <summary>Bytes of a connection ID on the wire.</summary>
    public const int IdSize = 8;

    /// <summary>Bytes of a CONNECTION_ID, PATH_CHALLENGE or PATH_RESPONSE TLV: type, length, 8 bytes.</summary>
    public const int TlvSize = 2 + 8;

    /// <summary>The trailer of a packet of a connection that agreed IDs: the receiver's ID, then the keyed tag.</summary>
    public const int TrailerSize = IdSize + Extensions.TrailerSize;

    /// <summary>Writes an 8-byte TLV (<paramref name="type"/>, <paramref name="value"/> big-endian); returns its length.</summary>
    public static int WriteTlv(Span<byte> destination, byte type, ulong value)
    {
        destination[0] = type;
        destination[1] = IdSize;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], value);
        return TlvSize;
    }

    /// <summary>The value of the first 8-byte TLV of <paramref name="type"/> in a TLV list, if there is one.</summary>
    public static bool TryReadTlv(ReadOnlySpan<byte> tlvs, byte type, out ulong value)
    {
        value = 0;
        while (tlvs.Length >= 2)
        {
            int length = tlvs[1];
            if (tlvs.Length < 2 + length)
            {
                return false;
            }

            if (tlvs[0] == type)
            {
                if (length != IdSize)
                {
                    return false;
                }

                value = BinaryPrimitives.ReadUInt64BigEndian(tlvs[2..]);
                return true;
            }

            tlvs = tlvs[(2 + length)..];
        }

        return false;
    }

    /// <summary>
    /// The destination ID of a datagram, when it is exactly header + payload + ID + tag (any other length has no ID: the
    /// SYNs, plain packets, a bare RST). A load balancer finds it the same way: the 12 bytes before the end, ID first.
    /// </summary>
    public static bool TryReadId(ReadOnlySpan<byte> datagram, int payloadLength, out ulong id)
    {
        int at = TouHeader.Size + payloadLength;
        if (datagram.Length != at + TrailerSize)
        {
            id = 0;
            return false;
        }

        id = BinaryPrimitives.ReadUInt64BigEndian(datagram[at..]);
        return true;
    }

    /// <summary>Appends an ID alone (the echo in an RST for an unknown connection); returns the new length.</summary>
    public static int AppendId(Span<byte> datagram, int length, ulong id)
    {
        BinaryPrimitives.WriteUInt64BigEndian(datagram[length..], id);
        return length + IdSize;
    }

    /// <summary>
    /// Appends the receiver's ID and the keyed tag after <paramref name="length"/> bytes of packet; returns the new length.
    /// The tag covers the ID: CRC32C of header, payload and ID, masked by SipHash of header and ID.
    /// </summary>
    public static int AppendIdAndTag(Span<byte> datagram, int length, ulong id, in DirectionKey key)
    {
        BinaryPrimitives.WriteUInt64BigEndian(datagram[length..], id);
        int covered = length + IdSize;
        BinaryPrimitives.WriteUInt32BigEndian(datagram[covered..], Tag(datagram[..covered], key));
        return covered + Extensions.TrailerSize;
    }

    /// <summary>True when the datagram is exactly header + payload + <paramref name="id"/> + a tag that verifies under <paramref name="key"/>.</summary>
    public static bool VerifyIdAndTag(ReadOnlySpan<byte> datagram, int payloadLength, ulong id, in DirectionKey key)
    {
        if (!TryReadId(datagram, payloadLength, out ulong carried) || carried != id)
        {
            return false;
        }

        int covered = TouHeader.Size + payloadLength + IdSize;
        return BinaryPrimitives.ReadUInt32BigEndian(datagram[covered..]) == Tag(datagram[..covered], key);
    }

    /// <summary>The tag of a packet whose last 8 bytes are the ID: the SipHash mask covers the header and the ID.</summary>
    private static uint Tag(ReadOnlySpan<byte> packetWithId, in DirectionKey key)
    {
        Span<byte> keyed = stackalloc byte[TouHeader.Size + IdSize];
        packetWithId[..TouHeader.Size].CopyTo(keyed);
        packetWithId[^IdSize..].CopyTo(keyed[TouHeader.Size..]);
        return Extensions.Crc32C(packetWithId) ^ (uint)SipHash.Hash24(key.K0, key.K1, keyed);
    }
}
