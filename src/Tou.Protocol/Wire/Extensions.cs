using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tou.Protocol.Wire;

/// <summary>
/// Codec of the negotiated extensions. A SYN or SYN+ACK offering extensions carries a payload of the
/// magic "TOU", a version byte and TLVs; a packet with the Options flag starts its payload with a
/// one-byte length and that many bytes of TLVs. Unknown TLVs are skipped (forward compatibility).
/// See docs/protocol.md for the layout.
/// </summary>
internal static class Extensions
{
    public const byte Version = 2;
    public const byte TlvWindowScale = 1;
    public const byte TlvSackPermitted = 2;
    public const byte TlvSack = 5;
    public const byte TlvIntegrity = 6;
    public const byte TlvAckDelay = 7;

    /// <summary>Largest ACK delay reported (µs); a larger value read from the wire is taken as this.</summary>
    public const long MaxAckDelayUs = 1_000_000;
    public const int MaxSackBlocks = 4;
    public const int MaxWindowShift = 14;

    /// <summary>Bytes of the trailer after the payload: CRC32C on handshake packets, the keyed tag on all others.</summary>
    public const int TrailerSize = 4;

    /// <summary>Largest extension offer: magic, version, window scale, SACK permitted, integrity with its keys, PMTU probes, connection ID.</summary>
    public const int MaxOfferSize = 4 + 3 + 2 + 2 + IntegrityKeys.Size + 2 + ConnectionIdOptions.TlvSize;

    /// <summary>Largest option block a pure ACK carries: length byte, SACK TLV header, four blocks.</summary>
    public const int MaxAckOptionsSize = 1 + 2 + (MaxSackBlocks * 8) + 2 + 4;

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

        if (offer.Integrity)
        {
            // The client offers with an empty value; the server accepts by sending the keys.
            bool withKeys = !offer.Keys.IsEmpty;
            destination[n++] = TlvIntegrity;
            destination[n++] = withKeys ? (byte)IntegrityKeys.Size : (byte)0;
            if (withKeys)
            {
                offer.Keys.Write(destination.Slice(n, IntegrityKeys.Size));
                n += IntegrityKeys.Size;
            }
        }

        if (offer.PathMtuProbes)
        {
            destination[n++] = PathMtuOptions.TlvPathMtuProbes;
            destination[n++] = 0;
        }

        if (offer.ConnectionId != 0)
        {
            n += ConnectionIdOptions.WriteTlv(destination[n..], ConnectionIdOptions.TlvConnectionId, offer.ConnectionId);
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
                case TlvIntegrity when length == 0:
                    set.Integrity = true;
                    break;
                case TlvIntegrity when length == IntegrityKeys.Size:
                    set.Integrity = true;
                    set.Keys = IntegrityKeys.Read(value);
                    break;
                case PathMtuOptions.TlvPathMtuProbes:
                    set.PathMtuProbes = true;
                    break;
                case ConnectionIdOptions.TlvConnectionId when length == ConnectionIdOptions.IdSize:
                    set.ConnectionId = BinaryPrimitives.ReadUInt64BigEndian(value);
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
        var blocks = FindTlv(options, TlvSack);
        return blocks.Length % 8 == 0 && blocks.Length <= MaxSackBlocks * 8 ? blocks : default;
    }

    /// <summary>The ACK-delay TLV's value in µs (at most <see cref="MaxAckDelayUs"/>), or 0 when absent or malformed.</summary>
    public static long FindAckDelay(ReadOnlySpan<byte> options)
    {
        var value = FindTlv(options, TlvAckDelay);
        return value.Length == 4 ? Math.Min(BinaryPrimitives.ReadUInt32BigEndian(value), MaxAckDelayUs) : 0;
    }

    /// <summary>
    /// Appends an ACK-delay TLV to the option block at the start of <paramref name="block"/>, which holds
    /// <paramref name="length"/> bytes so far (0: none yet, the length byte is added); returns the block's new length.
    /// </summary>
    public static int AppendAckDelay(Span<byte> block, int length, long delayUs)
    {
        int n = length == 0 ? 1 : length;
        block[n] = TlvAckDelay;
        block[n + 1] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(block[(n + 2)..], (uint)Math.Min(delayUs, MaxAckDelayUs));
        n += 6;
        block[0] = (byte)(n - 1);
        return n;
    }

    /// <summary>The value of the first TLV of <paramref name="type"/> in an option block, or empty (also when the block is malformed).</summary>
    private static ReadOnlySpan<byte> FindTlv(ReadOnlySpan<byte> options, byte type)
    {
        while (options.Length >= 2)
        {
            int length = options[1];
            if (options.Length < 2 + length)
            {
                return default;
            }

            if (options[0] == type)
            {
                return options.Slice(2, length);
            }

            options = options[(2 + length)..];
        }

        return default;
    }

    /// <summary>CRC32C (Castagnoli) of <paramref name="data"/>, with the CPU's instruction where it has one (<see cref="Wire.Crc32C"/>).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => Wire.Crc32C.Compute(data);

    /// <summary>Appends the CRC32C trailer (handshake packets) after <paramref name="length"/> bytes of packet; returns the new length.</summary>
    public static int AppendCrc(Span<byte> datagram, int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(datagram[length..], Crc32C(datagram[..length]));
        return length + TrailerSize;
    }

    /// <summary>True when the datagram is exactly header + payload + a matching CRC32C trailer.</summary>
    public static bool VerifyCrc(ReadOnlySpan<byte> datagram, int payloadLength)
    {
        int packetLength = TouHeader.Size + payloadLength;
        return datagram.Length == packetLength + TrailerSize &&
            BinaryPrimitives.ReadUInt32BigEndian(datagram[packetLength..]) == Crc32C(datagram[..packetLength]);
    }

    /// <summary>
    /// The keyed integrity tag: the CRC32C of header and payload (which catches damage with CRC's guarantees)
    /// masked by 32 bits of SipHash-2-4 of the header under the direction's secret key. Without the key the mask
    /// of any header is unknown, so a blind forgery passes with probability 2^-32; see docs/security.md.
    /// </summary>
    public static uint Tag(ReadOnlySpan<byte> packet, in DirectionKey key) =>
        Crc32C(packet) ^ (uint)SipHash.Hash24(key.K0, key.K1, packet[..TouHeader.Size]);

    /// <summary>Appends the keyed tag after <paramref name="length"/> bytes of packet; returns the new length.</summary>
    public static int AppendTag(Span<byte> datagram, int length, in DirectionKey key)
    {
        BinaryPrimitives.WriteUInt32BigEndian(datagram[length..], Tag(datagram[..length], key));
        return length + TrailerSize;
    }

    /// <summary>True when the datagram is exactly header + payload + a tag that verifies under <paramref name="key"/>.</summary>
    public static bool VerifyTag(ReadOnlySpan<byte> datagram, int payloadLength, in DirectionKey key)
    {
        int packetLength = TouHeader.Size + payloadLength;
        return datagram.Length == packetLength + TrailerSize &&
            BinaryPrimitives.ReadUInt32BigEndian(datagram[packetLength..]) == Tag(datagram[..packetLength], key);
    }
}
