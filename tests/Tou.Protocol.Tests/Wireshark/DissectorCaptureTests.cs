using System.Buffers.Binary;
using System.Text;

namespace Tou.Protocol.Tests.Wireshark;

/// <summary>
/// The capture and expected fields that build/check-dissector.sh hands to tshark and tools/wireshark/tou.lua.
/// These tests keep the capture exhaustive (every dissector field appears) and the pcap well-formed; the script
/// runs <see cref="Writes_the_capture_and_the_expected_fields"/> with TOU_WIRESHARK_OUT set to get the files.
/// </summary>
public class DissectorCaptureTests
{
    [Fact]
    public void Every_field_of_the_dissector_appears_in_the_capture()
    {
        var capture = DissectorCapture.Build();
        var expected = new ExpectedFields();
        var packets = capture.Select(expected.Next).ToList();

        var seen = packets.SelectMany(p => p.Select(f => f.Field)).ToHashSet();
        Assert.Equal(ExpectedFields.All.Order(), seen.Order());

        // Each engine packet after the SYN+ACK verifies under the keys the dissector derives from its secret;
        // the hand-made packet tagged with the wrong direction's key does not.
        var statuses = packets.Select(p => p.FirstOrDefault(f => f.Field == "tou.trailer.status").Value).ToList();
        Assert.Equal(2, statuses.Count(s => s == "2")); // the reflected packets, with and without a connection ID
        Assert.DoesNotContain("0", statuses);
        Assert.True(statuses.Count(s => s == "1") > 20, "the engine exchange tags its packets");
        Assert.Contains(packets, p => p.Contains(("tou.option.type", "1,2,6,8,42")));
    }

    [Fact]
    public void Seed_vectors_decode_to_the_values_tou_wire_md_lists()
    {
        var expected = new ExpectedFields();
        var fields = DissectorCapture.Build().Take(DissectorCapture.SeedVectors.Length).Select(expected.Next).ToList();

        // The DATA vector: 40000 -> 5000 seq 123457 ack 777 win 50000 mss 1024 "Hello, Server!".
        Assert.Equal(
            [("tou.srcport", "40000"), ("tou.dstport", "5000"), ("tou.seq", "123457"), ("tou.ack", "777"), ("tou.flags", "0"),
             ("tou.window", "50000"), ("tou.payload_len", "14"), ("tou.mss", "1024"), ("tou.stream", "0"), ("tou.rel_seq", "1"),
             ("tou.rel_ack", "0"), ("tou.data", Convert.ToHexStringLower("Hello, Server!"u8)), ("tou.len", "14")],
            fields[3].Where(f => !f.Field.StartsWith("tou.flags.", StringComparison.Ordinal)));
        Assert.Contains(("tou.seq", "0"), fields[6]);
        Assert.Contains(("tou.flags.rst", "1"), fields[6]);
        Assert.Contains(("tou.rel_ack", "1"), fields[1]);
        Assert.DoesNotContain(fields[0], f => f.Field == "tou.rel_ack");
    }

    [Fact]
    public void Pcap_records_carry_each_datagram_in_IPv4_and_UDP()
    {
        var capture = DissectorCapture.Build();
        using var stream = new MemoryStream();
        PcapWriter.Write(stream, capture);
        var file = stream.ToArray().AsSpan();

        Assert.Equal(PcapWriter.Magic, BinaryPrimitives.ReadUInt32LittleEndian(file));
        Assert.Equal(PcapWriter.LinkTypeRaw, (int)BinaryPrimitives.ReadUInt32LittleEndian(file[20..]));
        int offset = 24;
        foreach (var datagram in capture)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file[(offset + 8)..]);
            var ip = file.Slice(offset + 16, length);
            Assert.Equal(datagram.TimeUs, (BinaryPrimitives.ReadUInt32LittleEndian(file[offset..]) * 1_000_000L) + BinaryPrimitives.ReadUInt32LittleEndian(file[(offset + 4)..]));
            Assert.Equal(0, PcapWriter.InternetChecksum(ip[..20]));
            Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.Equal(datagram.Destination.Port, BinaryPrimitives.ReadUInt16BigEndian(ip[22..]));
            Assert.Equal(8 + datagram.Payload.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[24..]));
            Assert.True(ip[28..].SequenceEqual(datagram.Payload));
            offset += 16 + length;
        }

        Assert.Equal(file.Length, offset);
    }

    [Fact]
    public void Writes_the_capture_and_the_expected_fields()
    {
        string directory = Environment.GetEnvironmentVariable("TOU_WIRESHARK_OUT") is { Length: > 0 } dir ? dir : Directory.CreateTempSubdirectory("tou-wireshark").FullName;
        Directory.CreateDirectory(directory);
        var capture = DissectorCapture.Build();
        using (var pcap = File.Create(Path.Combine(directory, "tou.pcap")))
        {
            PcapWriter.Write(pcap, capture);
        }

        var expected = new ExpectedFields();
        var lines = new StringBuilder();
        for (int i = 0; i < capture.Count; i++)
        {
            foreach (var (field, value) in expected.Next(capture[i]))
            {
                lines.Append(i + 1).Append('\t').Append(field).Append('\t').Append(value).Append('\n');
            }
        }

        File.WriteAllText(Path.Combine(directory, "expected.tsv"), lines.ToString());
        File.WriteAllText(Path.Combine(directory, "fields.txt"), string.Join('\n', ExpectedFields.All) + "\n");
        Assert.Equal(capture.Count, File.ReadLines(Path.Combine(directory, "expected.tsv")).Count(l => l.Contains("\ttou.srcport\t", StringComparison.Ordinal)));
    }
}
