using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Tou.Protocol.Wire;

/// <summary>What one side offers, or both sides agreed, in the handshake.</summary>
internal struct ExtensionSet
{
    /// <summary>The peer speaks the extension format at all (piggybacked ACKs, Options and Ping flags, strict FIN).</summary>
    public bool Extended;
    public bool Sack;
    public bool Checksum;

    /// <summary>Shift the sender applies to the windows it advertises; -1 when window scaling is not offered.</summary>
    public int WindowShift;

    public static ExtensionSet Plain => new() { WindowShift = -1 };
}

/// <summary>
/// Codec of the negotiated extensions. A SYN or SYN+ACK offering extensions carries a payload of the
/// magic "TOU", a version byte and TLVs; a packet with the Options flag starts its payload with a
/// one-byte length and that many bytes of TLVs. Unknown TLVs are skipped (forward compatibility).
/// See docs/protocol.md for the layout.
/// </summary>
internal static class Extensions
{
    public const byte Version = 1;
    public const byte TlvWindowScale = 1;
    public const byte TlvSackPermitted = 2;
    public const byte TlvChecksum = 3;
    public const byte TlvSack = 5;
    public const int MaxSackBlocks = 4;
    public const int MaxWindowShift = 14;
    public const int ChecksumSize = 4;

    /// <summary>Largest extension offer: magic, version, window scale, SACK permitted, checksum.</summary>
    public const int MaxOfferSize = 4 + 3 + 2 + 2;

    /// <summary>Largest option block a pure ACK carries: length byte, SACK TLV header, four blocks.</summary>
    public const int MaxAckOptionsSize = 1 + 2 + (MaxSackBlocks * 8);

    public static int WriteOffer(Span<byte> destination, in ExtensionSet offer)
    {
        destination[0] = (byte)'T';
        destination[1] = (byte)'O';
        destination[2] = (byte)'U';
        destination[3] = Version;
        int n = 4;
        if (offer.WindowShift >= 0)
        {
            destination[n++] = TlvWindowScale;
            destination[n++] = 1;
            destination[n++] = (byte)offer.WindowShift;
        }

        if (offer.Sack)
        {
            destination[n++] = TlvSackPermitted;
            destination[n++] = 0;
        }

        if (offer.Checksum)
        {
            destination[n++] = TlvChecksum;
            destination[n++] = 0;
        }

        return n;
    }

    /// <summary>Reads a SYN payload. A payload without the magic means a plain (seed) peer.</summary>
    public static ExtensionSet ReadOffer(ReadOnlySpan<byte> payload)
    {
        var set = ExtensionSet.Plain;
        if (payload.Length < 4 || payload[0] != 'T' || payload[1] != 'O' || payload[2] != 'U' || payload[3] < 1)
        {
            return set;
        }

        set.Extended = true;
        var tlvs = payload[4..];
        while (tlvs.Length >= 2)
        {
            byte type = tlvs[0];
            int length = tlvs[1];
            if (tlvs.Length < 2 + length)
            {
                break;
            }

            var value = tlvs.Slice(2, length);
            switch (type)
            {
                case TlvWindowScale when length == 1:
                    set.WindowShift = Math.Min((int)value[0], MaxWindowShift);
                    break;
                case TlvSackPermitted:
                    set.Sack = true;
                    break;
                case TlvChecksum:
                    set.Checksum = true;
                    break;
            }

            tlvs = tlvs[(2 + length)..];
        }

        return set;
    }

    /// <summary>Splits a payload that starts with an option block. Returns false when the block is malformed.</summary>
    public static bool TrySplitOptions(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> options, out ReadOnlySpan<byte> data)
    {
        options = default;
        data = default;
        if (payload.IsEmpty || payload.Length < 1 + payload[0])
        {
            return false;
        }

        options = payload.Slice(1, payload[0]);
        data = payload[(1 + payload[0])..];
        return true;
    }

    /// <summary>Finds the SACK TLV in an option block; returns the raw blocks (8 bytes each) or empty.</summary>
    public static ReadOnlySpan<byte> FindSackBlocks(ReadOnlySpan<byte> options)
    {
        while (options.Length >= 2)
        {
            byte type = options[0];
            int length = options[1];
            if (options.Length < 2 + length)
            {
                return default;
            }

            if (type == TlvSack)
            {
                return length % 8 == 0 && length <= MaxSackBlocks * 8 ? options.Slice(2, length) : default;
            }

            options = options[(2 + length)..];
        }

        return default;
    }

    /// <summary>CRC32C (Castagnoli) of <paramref name="data"/>, with the CPU's instruction where it has one.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong word in words)
        {
            crc = System.Numerics.BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (byte b in data[(words.Length * 8)..])
        {
            crc = System.Numerics.BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>Appends the checksum trailer after <paramref name="length"/> bytes of packet; returns the new length.</summary>
    public static int AppendChecksum(Span<byte> datagram, int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(datagram[length..], Crc32C(datagram[..length]));
        return length + ChecksumSize;
    }

    /// <summary>True when the datagram is exactly header + payload + a matching CRC32C trailer.</summary>
    public static bool VerifyChecksum(ReadOnlySpan<byte> datagram, int payloadLength)
    {
        int packetLength = TouHeader.Size + payloadLength;
        return datagram.Length == packetLength + ChecksumSize &&
            BinaryPrimitives.ReadUInt32BigEndian(datagram[packetLength..]) == Crc32C(datagram[..packetLength]);
    }
}
