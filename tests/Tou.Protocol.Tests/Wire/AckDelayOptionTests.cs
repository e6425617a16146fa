using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>The ACK-delay TLV in a pure ACK's option block, alone and after SACK blocks.</summary>
public class AckDelayOptionTests
{
    [Fact]
    public void Alone_it_makes_a_block_of_its_own()
    {
        var block = new byte[64];
        int length = Extensions.AppendAckDelay(block, 0, 7_250);
        Assert.Equal(7, length);
        Assert.True(Extensions.TrySplitOptions(block.AsSpan(0, length), out var options, out var data));
        Assert.True(data.IsEmpty);
        Assert.Equal(7_250, Extensions.FindAckDelay(options));
        Assert.True(Extensions.FindSackBlocks(options).IsEmpty);
    }

    [Fact]
    public void After_sack_blocks_both_are_found_and_a_huge_delay_is_capped()
    {
        var block = new byte[64];
        block[0] = 2 + 8;
        block[1] = Extensions.TlvSack;
        block[2] = 8;
        block.AsSpan(3, 8).Fill(0xAB);
        int length = Extensions.AppendAckDelay(block, 11, long.MaxValue);
        Assert.Equal(17, length);
        Assert.True(Extensions.TrySplitOptions(block.AsSpan(0, length), out var options, out _));
        Assert.Equal(8, Extensions.FindSackBlocks(options).Length);
        Assert.Equal(Extensions.MaxAckDelayUs, Extensions.FindAckDelay(options));
    }

    [Theory]
    [InlineData(new byte[] { Extensions.TlvAckDelay, 3, 0, 0, 1 })]        // wrong length
    [InlineData(new byte[] { Extensions.TlvAckDelay, 4, 0, 0 })]           // truncated
    [InlineData(new byte[] { 99, 1, 0, Extensions.TlvAckDelay, 9 })]       // truncated after an unknown TLV
    public void A_malformed_delay_reads_as_none(byte[] options) => Assert.Equal(0, Extensions.FindAckDelay(options));
}
