using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>
/// SipHash-2-4 against the reference implementation's published vectors (vectors_sip64 in
/// github.com/veorq/SipHash: key = bytes 00..0f, message = bytes 00..n-1 for n = 0..63, the 64-bit output
/// stored little-endian), the paper's worked example, and the properties a per-packet tag relies on.
/// </summary>
public class SipHashTests
{
    // The reference key 00 01 .. 0f, read little-endian as two words.
    private const ulong K0 = 0x0706050403020100UL;
    private const ulong K1 = 0x0F0E0D0C0B0A0908UL;

    private static byte[] Counting(int length) => Enumerable.Range(0, length).Select(i => (byte)i).ToArray();

    [Theory]
    [InlineData(0, 0x726FDB47DD0E0E31UL)]
    [InlineData(1, 0x74F839C593DC67FDUL)]
    [InlineData(2, 0x0D6C8009D9A94F5AUL)]
    [InlineData(3, 0x85676696D7FB7E2DUL)]
    [InlineData(4, 0xCF2794E0277187B7UL)]
    [InlineData(5, 0x18765564CD99A68DUL)]
    [InlineData(6, 0xCBC9466E58FEE3CEUL)]
    [InlineData(7, 0xAB0200F58B01D137UL)]
    [InlineData(8, 0x93F5F5799A932462UL)]
    [InlineData(9, 0x9E0082DF0BA9E4B0UL)]
    [InlineData(10, 0x7A5DBBC594DDB9F3UL)]
    [InlineData(11, 0xF4B32F46226BADA7UL)]
    [InlineData(12, 0x751E8FBC860EE5FBUL)]
    [InlineData(13, 0x14EA5627C0843D90UL)]
    [InlineData(14, 0xF723CA908E7AF2EEUL)]
    [InlineData(15, 0xA129CA6149BE45E5UL)]
    [InlineData(16, 0x3F2ACC7F57C29BDBUL)]
    [InlineData(17, 0x699AE9F52CBE4794UL)]
    [InlineData(18, 0x4BC1B3F0968DD39CUL)]
    [InlineData(19, 0xBB6DC91DA77961BDUL)]
    [InlineData(20, 0xBED65CF21AA2EE98UL)]
    [InlineData(21, 0xD0F2CBB02E3B67C7UL)]
    [InlineData(22, 0x93536795E3A33E88UL)]
    [InlineData(23, 0xA80C038CCD5CCEC8UL)]
    [InlineData(24, 0xB8AD50C6F649AF94UL)]
    [InlineData(25, 0xBCE192DE8A85B8EAUL)]
    [InlineData(26, 0x17D835B85BBB15F3UL)]
    [InlineData(27, 0x2F2E6163076BCFADUL)]
    [InlineData(28, 0xDE4DAAACA71DC9A5UL)]
    [InlineData(29, 0xA6A2506687956571UL)]
    [InlineData(30, 0xAD87A3535C49EF28UL)]
    [InlineData(31, 0x32D892FAD841C342UL)]
    [InlineData(32, 0x7127512F72F27CCEUL)]
    [InlineData(33, 0xA7F32346F95978E3UL)]
    [InlineData(34, 0x12E0B01ABB051238UL)]
    [InlineData(35, 0x15E034D40FA197AEUL)]
    [InlineData(36, 0x314DFFBE0815A3B4UL)]
    [InlineData(37, 0x027990F029623981UL)]
    [InlineData(38, 0xCADCD4E59EF40C4DUL)]
    [InlineData(39, 0x9ABFD8766A33735CUL)]
    [InlineData(40, 0x0E3EA96B5304A7D0UL)]
    [InlineData(41, 0xAD0C42D6FC585992UL)]
    [InlineData(42, 0x187306C89BC215A9UL)]
    [InlineData(43, 0xD4A60ABCF3792B95UL)]
    [InlineData(44, 0xF935451DE4F21DF2UL)]
    [InlineData(45, 0xA9538F0419755787UL)]
    [InlineData(46, 0xDB9ACDDFF56CA510UL)]
    [InlineData(47, 0xD06C98CD5C0975EBUL)]
    [InlineData(48, 0xE612A3CB9ECBA951UL)]
    [InlineData(49, 0xC766E62CFCADAF96UL)]
    [InlineData(50, 0xEE64435A9752FE72UL)]
    [InlineData(51, 0xA192D576B245165AUL)]
    [InlineData(52, 0x0A8787BF8ECB74B2UL)]
    [InlineData(53, 0x81B3E73D20B49B6FUL)]
    [InlineData(54, 0x7FA8220BA3B2ECEAUL)]
    [InlineData(55, 0x245731C13CA42499UL)]
    [InlineData(56, 0xB78DBFAF3A8D83BDUL)]
    [InlineData(57, 0xEA1AD565322A1A0BUL)]
    [InlineData(58, 0x60E61C23A3795013UL)]
    [InlineData(59, 0x6606D7E446282B93UL)]
    [InlineData(60, 0x6CA4ECB15C5F91E1UL)]
    [InlineData(61, 0x9F626DA15C9625F3UL)]
    [InlineData(62, 0xE51B38608EF25F57UL)]
    [InlineData(63, 0x958A324CEB064572UL)]
    public void Reference_vectors(int length, ulong expected)
    {
        Assert.Equal(expected, SipHash.Hash24(K0, K1, Counting(length)));
    }

    [Fact]
    public void The_papers_worked_example()
    {
        // SipHash paper, appendix A: key 00..0f, 15-byte message 00..0e.
        Assert.Equal(0xa129ca6149be45e5UL, SipHash.Hash24(K0, K1, Counting(15)));
    }

    [Fact]
    public void The_key_words_are_the_key_bytes_read_little_endian()
    {
        var key = Counting(16);
        ulong k0 = BinaryPrimitives.ReadUInt64LittleEndian(key);
        ulong k1 = BinaryPrimitives.ReadUInt64LittleEndian(key.AsSpan(8));
        Assert.Equal((K0, K1), (k0, k1));
        Assert.Equal(0x726FDB47DD0E0E31UL, SipHash.Hash24(k0, k1, []));
        Assert.NotEqual(SipHash.Hash24(k0, k1, Counting(8)), SipHash.Hash24(k1, k0, Counting(8)));
    }

    [Fact]
    public void A_slice_at_any_alignment_hashes_like_a_copy()
    {
        var buffer = new byte[1600];
        new Random(7).NextBytes(buffer);
        foreach (int offset in new[] { 0, 1, 3, 7, 8, 13 })
        {
            foreach (int length in new[] { 0, 1, 7, 8, 9, 22, 63, 64, 1452 })
            {
                var slice = buffer.AsSpan(offset, length);
                Assert.Equal(SipHash.Hash24(K0, K1, slice.ToArray()), SipHash.Hash24(K0, K1, slice));
            }
        }
    }

    [Fact]
    public void Every_single_bit_flip_of_a_22_byte_message_or_of_the_key_changes_the_tag()
    {
        var message = Counting(22);
        ulong tag = SipHash.Hash24(K0, K1, message);
        var seen = new HashSet<ulong> { tag };
        for (int bit = 0; bit < message.Length * 8; bit++)
        {
            message[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.True(seen.Add(SipHash.Hash24(K0, K1, message)), $"message bit {bit}");
            message[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        for (int bit = 0; bit < 64; bit++)
        {
            Assert.True(seen.Add(SipHash.Hash24(K0 ^ (1UL << bit), K1, message)), $"k0 bit {bit}");
            Assert.True(seen.Add(SipHash.Hash24(K0, K1 ^ (1UL << bit), message)), $"k1 bit {bit}");
        }

        Assert.Equal(tag, SipHash.Hash24(K0, K1, message));
        Assert.Equal(1 + (22 * 8) + 128, seen.Count);
    }

    [Fact]
    public void Appending_a_zero_byte_changes_the_tag()
    {
        // The length byte in the last word keeps a message apart from its zero-padded extensions.
        for (int length = 0; length < 24; length++)
        {
            Assert.NotEqual(SipHash.Hash24(K0, K1, new byte[length]), SipHash.Hash24(K0, K1, new byte[length + 1]));
        }
    }

    [Property(MaxTest = 500)]
    public bool The_tag_is_deterministic(ulong k0, ulong k1, byte[] message) =>
        SipHash.Hash24(k0, k1, message) == SipHash.Hash24(k0, k1, (byte[])message.Clone());

    [Property(MaxTest = 1000)]
    public Property Flipping_any_message_bit_changes_the_tag(ulong k0, ulong k1, NonEmptyArray<byte> message, int bit)
    {
        var bytes = message.Get;
        int at = (int)((uint)bit % (uint)(bytes.Length * 8));
        ulong before = SipHash.Hash24(k0, k1, bytes);
        var flipped = (byte[])bytes.Clone();
        flipped[at / 8] ^= (byte)(1 << (at % 8));
        return (before != SipHash.Hash24(k0, k1, flipped)).Label($"bit {at} of {bytes.Length} bytes");
    }

    [Property(MaxTest = 1000)]
    public Property Flipping_any_key_bit_changes_the_tag(ulong k0, ulong k1, byte[] message, byte bit)
    {
        int at = bit % 128;
        ulong before = SipHash.Hash24(k0, k1, message);
        ulong after = at < 64 ? SipHash.Hash24(k0 ^ (1UL << at), k1, message) : SipHash.Hash24(k0, k1 ^ (1UL << (at - 64)), message);
        return (before != after).Label($"key bit {at}, {message.Length} bytes");
    }
}
