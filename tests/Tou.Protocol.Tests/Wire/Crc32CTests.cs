using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>The three-lane CRC32C equals the one-chain CRC32C at every length, across every lane size's block edges.</summary>
public class Crc32CTests
{
    private static uint Reference(ReadOnlySpan<byte> data) => ~Crc32C.Serial(0xFFFFFFFFu, data);

    [Fact]
    public void Every_length_up_to_a_few_small_blocks_matches_the_single_chain()
    {
        var random = new Random(7);
        var data = new byte[3_000];
        random.NextBytes(data);
        for (int length = 0; length <= data.Length; length++)
        {
            Assert.Equal(Reference(data.AsSpan(0, length)), Crc32C.Compute(data.AsSpan(0, length)));
        }
    }

    [Theory]
    [InlineData(1452)]
    [InlineData(12_287)]
    [InlineData(12_288)]
    [InlineData(12_289)]
    [InlineData(13_056)] // one large block and one small block exactly
    [InlineData(13_728)] // one large block and one datagram-sized block exactly
    [InlineData(14_496)] // one block of each lane size exactly
    [InlineData(36_864 + 767)]
    [InlineData(65_507)]
    [InlineData(65_536)]
    public void Datagram_sizes_and_block_edges_match_the_single_chain(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        Assert.Equal(Reference(data), Crc32C.Compute(data));

        // One flipped bit anywhere changes it (in the first, a middle and the last lane).
        foreach (int position in new[] { 0, length / 2, length - 1 })
        {
            data[position] ^= 0x10;
            Assert.NotEqual(Reference(data.AsSpan(0, 0)), Crc32C.Compute(data)); // sanity: not a constant
            Assert.Equal(Reference(data), Crc32C.Compute(data));
            data[position] ^= 0x10;
        }
    }

    [Fact]
    public void The_check_value_of_the_standard()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8)); // RFC 3720 (iSCSI)
        var zeros = new byte[32];
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(zeros)); // RFC 3720 B.4: 32 bytes of zeros
    }
}
