using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static System.Numerics.BitOperations;

namespace Tou.Protocol.Wire;

/// <summary>
/// CRC32C (Castagnoli) with the CPU's CRC instruction, three streams at a time. The instruction takes three cycles to
/// give its result but can start one each cycle, so a single chain over a datagram runs at a third of the CPU's speed;
/// here each block of three equal lanes is summed by three independent chains, and the lanes' sums are joined by
/// shifting a sum over the lanes after it (appending zero bytes to a CRC is linear, so the shift is four table lookups).
/// The integrity trailer runs this over every datagram on both ends, up to 64 KB each; one lane size fits the usual
/// 1,452-byte datagram in a single block.
/// </summary>
internal static class Crc32C
{
    private const int LargeLane = 4096;   // 12 KB blocks: most of a 64 KB datagram
    private const int DatagramLane = 480; // 1,440-byte blocks: all of a 1,452-byte datagram (the usual size) but 12 bytes
    private const int SmallLane = 256;    // 768-byte blocks: most of what is left of other sizes
    private static readonly uint[] s_shiftLarge = BuildShiftTable(LargeLane);
    private static readonly uint[] s_shiftDatagram = BuildShiftTable(DatagramLane);
    private static readonly uint[] s_shiftSmall = BuildShiftTable(SmallLane);

    /// <summary>The CRC32C of <paramref name="data"/> (initial value and final XOR 0xFFFFFFFF, as iSCSI and ext4 use it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // long loops, called from the start: skip the tiered JIT's slow tiers
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint state = 0xFFFFFFFFu;
        while (data.Length >= 3 * LargeLane)
        {
            state = ThreeLanes(state, data[..(3 * LargeLane)], LargeLane, s_shiftLarge);
            data = data[(3 * LargeLane)..];
        }

        while (data.Length >= 3 * DatagramLane)
        {
            state = ThreeLanes(state, data[..(3 * DatagramLane)], DatagramLane, s_shiftDatagram);
            data = data[(3 * DatagramLane)..];
        }

        while (data.Length >= 3 * SmallLane)
        {
            state = ThreeLanes(state, data[..(3 * SmallLane)], SmallLane, s_shiftSmall);
            data = data[(3 * SmallLane)..];
        }

        return ~Serial(state, data);
    }

    /// <summary>The CRC register after <paramref name="data"/>, one chain (also the reference the lanes are tested against).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as Compute: its callees are compiled on their own
    public static uint Serial(uint state, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong word in words)
        {
            state = Crc32C(state, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (byte b in data[(words.Length * 8)..])
        {
            state = Crc32C(state, b);
        }

        return state;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint ThreeLanes(uint state, ReadOnlySpan<byte> block, int lane, uint[] shift)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(block);
        int n = lane / 8;
        uint a = state, b = 0, c = 0;
        for (int i = 0; i < n; i++)
        {
            a = Crc32C(a, Word(words[i]));
            b = Crc32C(b, Word(words[n + i]));
            c = Crc32C(c, Word(words[(2 * n) + i]));
        }

        return Shift(Shift(a, shift) ^ b, shift) ^ c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Word(ulong word) => BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word);

    /// <summary>The register after <c>lane</c> zero bytes from <paramref name="state"/>: linear, so a byte-wise table sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(uint state, uint[] table) =>
        table[(byte)state] ^ table[256 + (byte)(state >> 8)] ^ table[512 + (byte)(state >> 16)] ^ table[768 + (state >> 24)];

    private static uint[] BuildShiftTable(int zeroBytes)
    {
        var table = new uint[1024];
        Span<byte> zeros = stackalloc byte[zeroBytes];
        zeros.Clear();
        for (int bytePosition = 0; bytePosition < 4; bytePosition++)
        {
            for (int value = 0; value < 256; value++)
            {
                table[(bytePosition * 256) + value] = Serial((uint)value << (8 * bytePosition), zeros);
            }
        }

        return table;
    }
}
