using System.Buffers.Binary;
using System.Net.Sockets;

namespace Tou.Protocol.Tests.Wireshark;

/// <summary>
/// Writes datagrams as a classic libpcap file (little-endian, microsecond timestamps) with LINKTYPE_RAW:
/// each record is an IPv4 header and a UDP header (checksum 0, "none", which IPv4 allows) around the datagram.
/// </summary>
internal static class PcapWriter
{
    public const uint Magic = 0xa1b2c3d4;
    public const int LinkTypeRaw = 101;
    public const int Snaplen = 65_535;

    public static void Write(Stream stream, IEnumerable<CapturedDatagram> datagrams)
    {
        Span<byte> global = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(global, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(global[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(global[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(global[16..], Snaplen);
        BinaryPrimitives.WriteUInt32LittleEndian(global[20..], LinkTypeRaw);
        stream.Write(global);
        Span<byte> record = stackalloc byte[16];
        foreach (var datagram in datagrams)
        {
            byte[] packet = Frame(datagram);
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(datagram.TimeUs / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(datagram.TimeUs % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)packet.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)packet.Length);
            stream.Write(record);
            stream.Write(packet);
        }
    }

    /// <summary>IPv4 (20 bytes, no options, don't-fragment) and UDP headers followed by the datagram.</summary>
    public static byte[] Frame(CapturedDatagram datagram)
    {
        if (datagram.Source.AddressFamily != AddressFamily.InterNetwork || datagram.Destination.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("The capture is IPv4 only.", nameof(datagram));
        }

        int total = 20 + 8 + datagram.Payload.Length;
        if (total > Snaplen)
        {
            throw new ArgumentException($"A {datagram.Payload.Length}-byte datagram does not fit in an IPv4 packet.", nameof(datagram));
        }

        var packet = new byte[total];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)total);
        packet[6] = 0x40;
        packet[8] = 64;
        packet[9] = 17;
        datagram.Source.Address.GetAddressBytes().CopyTo(packet, 12);
        datagram.Destination.Address.GetAddressBytes().CopyTo(packet, 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), InternetChecksum(packet.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), (ushort)datagram.Source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), (ushort)datagram.Destination.Port);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(8 + datagram.Payload.Length));
        datagram.Payload.CopyTo(packet, 28);
        return packet;
    }

    /// <summary>RFC 1071 checksum; over a header that includes its checksum it is 0 when the header is intact.</summary>
    public static ushort InternetChecksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
