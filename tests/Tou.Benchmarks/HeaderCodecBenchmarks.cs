using BenchmarkDotNet.Attributes;
using Tou.Protocol.Wire;

namespace Tou.Benchmarks;

[MemoryDiagnoser]
public class HeaderCodecBenchmarks
{
    private readonly byte[] _datagram = new byte[1448];
    private TouHeader _header;

    [GlobalSetup]
    public void Setup()
    {
        _header = new TouHeader { SourcePort = 40000, DestinationPort = 5000, SequenceNumber = 123456, AcknowledgementNumber = 777, Flags = TouFlags.Ack, Window = 32768, PayloadLength = 1427, Mss = 1427 };
        _header.Write(_datagram);
    }

    [Benchmark]
    public void Encode() => _header.Write(_datagram);

    [Benchmark]
    public bool Decode() => TouHeader.TryRead(_datagram, out _);
}
