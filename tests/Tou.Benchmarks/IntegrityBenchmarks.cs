using BenchmarkDotNet.Attributes;
using Tou.Protocol.Wire;

namespace Tou.Benchmarks;

/// <summary>
/// The cost of a per-packet integrity check: the SipHash-2-4 tag over a pure ACK (21-byte header plus one
/// byte) and over a full 1,452-byte datagram, against the CRC32C trailer over the same full datagram.
/// Allocated bytes per operation must be 0.
/// </summary>
[MemoryDiagnoser]
public class IntegrityBenchmarks
{
    private readonly byte[] _small = new byte[22];
    private readonly byte[] _full = new byte[1452];
    private ulong _k0;
    private ulong _k1;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        random.NextBytes(_small);
        random.NextBytes(_full);
        _k0 = (ulong)random.NextInt64();
        _k1 = (ulong)random.NextInt64();
    }

    [Benchmark]
    public ulong SipHash24_22Bytes() => SipHash.Hash24(_k0, _k1, _small);

    [Benchmark]
    public ulong SipHash24_1452Bytes() => SipHash.Hash24(_k0, _k1, _full);

    [Benchmark(Baseline = true)]
    public uint Crc32C_1452Bytes() => Extensions.Crc32C(_full);
}
