using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>The seed encoder's test vectors from tou-wire.md, reproduced byte for byte both ways.</summary>
public class TestVectorTests
{
    [Theory]
    [InlineData(40000, 5000, 123456u, 0u, (byte)TouFlags.Syn, 4096, "", "9c4013880001e24000000000081000000000000400")]
    [InlineData(5000, 40000, 777u, 123457u, (byte)(TouFlags.Syn | TouFlags.Ack), 4096, "", "13889c40000003090001e2410c1000000000000400")]
    [InlineData(40000, 5000, 123457u, 777u, (byte)TouFlags.Ack, 4096, "", "9c4013880001e24100000309041000000000000400")]
    [InlineData(40000, 5000, 123457u, 777u, (byte)TouFlags.None, 50000, "Hello, Server!", "9c4013880001e2410000030900c350000e0000040048656c6c6f2c2053657276657221")]
    [InlineData(5000, 40000, 777u, 123471u, (byte)TouFlags.Ack, 49986, "", "13889c40000003090001e24f04c342000000000400")]
    [InlineData(40000, 5000, 123471u, 791u, (byte)TouFlags.Fin, 100, "", "9c4013880001e24f00000317010064000000000400")]
    [InlineData(5000, 40000, 0u, 0u, (byte)TouFlags.Rst, 10, "", "13889c40000000000000000002000a000000000400")]
    public void Seed_vectors_encode_and_decode_exactly(int source, int destination, uint seq, uint ack, byte flagBits, int window, string payload, string hex)
    {
        var flags = (TouFlags)flagBits; // TouFlags is internal; a public test method takes its byte
        var payloadBytes = System.Text.Encoding.ASCII.GetBytes(payload);
        var header = new TouHeader
        {
            SourcePort = (ushort)source, DestinationPort = (ushort)destination, SequenceNumber = seq, AcknowledgementNumber = ack,
            Flags = flags, Window = (ushort)window, PayloadLength = (ushort)payloadBytes.Length, Mss = 1024,
        };
        var encoded = new byte[TouHeader.Size + payloadBytes.Length];
        header.Write(encoded);
        payloadBytes.CopyTo(encoded, TouHeader.Size);
        Assert.Equal(hex, Convert.ToHexString(encoded).ToLowerInvariant());

        Assert.True(TouHeader.TryRead(Convert.FromHexString(hex), out var decoded));
        Assert.Equal(header, decoded);
        Assert.Equal(payload, System.Text.Encoding.ASCII.GetString(Convert.FromHexString(hex), TouHeader.Size, decoded.PayloadLength));
    }

    [Theory]
    [InlineData((byte)TouFlags.None, "-")]
    [InlineData((byte)TouFlags.Syn, "S")]
    [InlineData((byte)(TouFlags.Syn | TouFlags.Ack), "SA")]
    [InlineData((byte)TouFlags.Fin, "F")]
    [InlineData((byte)(TouFlags.Rst | TouFlags.Ack), "AR")]
    [InlineData((byte)(TouFlags.Ack | TouFlags.Options), "AO")]
    [InlineData((byte)0x80, "?")]
    public void Flags_print_like_the_seeds_traces(byte flags, string expected) => Assert.Equal(expected, TouHeader.FormatFlags((TouFlags)flags));
}
