using System.Buffers.Binary;

namespace Tou.Protocol.Wire;

/// <summary>
/// The TLVs of path MTU discovery (docs/protocol.md §5.5): PMTU_PROBES in the SYN offer (the sender answers probes),
/// PROBE in a probe's option block (a token; the payload after the block is padding, not data) and PROBE_ECHO in the
/// option block of the ACK that answers it (the token again).
/// </summary>
internal static class PathMtuOptions
{
    /// <summary>SYN and SYN+ACK offer TLV, empty: this side answers path MTU probes.</summary>
    public const byte TlvPathMtuProbes = 8;

    /// <summary>Option-block TLV of a probe: a 4-byte token. Everything after the option block is padding.</summary>
    public const byte TlvProbe = 9;

    /// <summary>Option-block TLV of the ACK that answers a probe: the probe's 4-byte token.</summary>
    public const byte TlvProbeEcho = 10;

    /// <summary>Bytes of a PROBE or PROBE_ECHO TLV: type, length, token.</summary>
    public const int TlvSize = 2 + 4;

    /// <summary>The option block of a probe (length byte and the PROBE TLV); the padding follows it.</summary>
    public const int ProbeOptionsSize = 1 + TlvSize;

    /// <summary>Writes a probe's payload: the option block with <paramref name="token"/>, then zeros up to <paramref name="payload"/>'s length.</summary>
    public static void WriteProbe(Span<byte> payload, uint token)
    {
        payload[0] = TlvSize;
        WriteTlv(payload[1..], TlvProbe, token);
        payload[ProbeOptionsSize..].Clear();
    }

    /// <summary>Writes the PROBE_ECHO TLV at the start of <paramref name="destination"/>; returns its length.</summary>
    public static int WriteEcho(Span<byte> destination, uint token)
    {
        WriteTlv(destination, TlvProbeEcho, token);
        return TlvSize;
    }

    /// <summary>Whether an option block holds a PROBE TLV, and its token.</summary>
    public static bool TryReadProbe(ReadOnlySpan<byte> options, out uint token) => TryRead(options, TlvProbe, out token);

    /// <summary>Whether an option block holds a PROBE_ECHO TLV, and its token.</summary>
    public static bool TryReadEcho(ReadOnlySpan<byte> options, out uint token) => TryRead(options, TlvProbeEcho, out token);

    private static void WriteTlv(Span<byte> destination, byte type, uint token)
    {
        destination[0] = type;
        destination[1] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], token);
    }

    private static bool TryRead(ReadOnlySpan<byte> options, byte wanted, out uint token)
    {
        token = 0;
        while (options.Length >= 2)
        {
            byte type = options[0];
            int length = options[1];
            if (options.Length < 2 + length)
            {
                return false;
            }

            if (type == wanted)
            {
                if (length != 4)
                {
                    return false;
                }

                token = BinaryPrimitives.ReadUInt32BigEndian(options[2..]);
                return true;
            }

            options = options[(2 + length)..];
        }

        return false;
    }
}
