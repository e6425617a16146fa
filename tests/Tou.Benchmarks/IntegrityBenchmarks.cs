using BenchmarkDotNet.Attributes;
using Tou.Protocol.Wire;

namespace Tou.Benchmarks;

/// <summary>
/// The cost of a per-packet integrity check: the SipHash-2-4 tag over a pure ACK (21-byte header plus one
/// byte) and over a full 1,452-byte datagram, against the CRC32C trailer over the same full datagram and over a 64 KB one, three lanes at a time (what
/// the trailer uses) and in one chain.
/// Allocated bytes per operation must be 0.
/// </summary>
[MemoryDiagnoser]
public class IntegrityBenchmarks
{
    private readonly byte[] _small = new byte[22];
    private readonly byte[] _full = new byte[1452];
    private readonly byte[] _jumbo = new byte[65_507];
    private ulong _k0;
    private ulong _k1;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        random.NextBytes(_small);
        random.NextBytes(_full);
        random.NextBytes(_jumbo);
        _k0 = (ulong)random.NextInt64();
        _k1 = (ulong)random.NextInt64();
    }

    [Benchmark]
    public ulong SipHash24_22Bytes() => SipHash.Hash24(_k0, _k1, _small);

    [Benchmark]
    public ulong SipHash24_1452Bytes() => SipHash.Hash24(_k0, _k1, _full);

    [Benchmark(Baseline = true)]
    public uint Crc32C_1452Bytes() => Extensions.Crc32C(_full);

    [Benchmark]
    public uint Crc32C_1452Bytes_OneChain() => ~Crc32C.Serial(0xFFFFFFFFu, _full);

    [Benchmark]
    public uint Crc32C_65507Bytes() => Extensions.Crc32C(_jumbo);

    [Benchmark]
    public uint Crc32C_65507Bytes_OneChain() => ~Crc32C.Serial(0xFFFFFFFFu, _jumbo);
}
