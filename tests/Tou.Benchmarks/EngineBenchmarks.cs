using System.Net;
using BenchmarkDotNet.Attributes;
using Tou.Protocol;
using Tou.Protocol.Wire;

namespace Tou.Benchmarks;

/// <summary>
/// The engine on its per-packet paths, two endpoints in memory (no sockets): one full data segment from
/// write to read with the ACK it causes going back, and one ACK carrying four SACK blocks against a
/// scoreboard of 200 segments in flight. Allocated bytes per operation is the figure that must stay 0.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private static readonly SocketAddress ClientAddress = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize();
    private static readonly SocketAddress ServerAddress = new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5000).Serialize();
    private readonly byte[] _scratch = new byte[65_536];
    private readonly byte[] _read = new byte[65_536];
    private byte[] _segment = [];
    private TouEndpoint _client = null!;
    private TouEndpoint _server = null!;
    private TouConnection _sender = null!;
    private TouConnection _receiver = null!;
    private long _now = 1_000_000;

    private TouEndpoint _sackClient = null!;
    private readonly byte[] _sackAck = new byte[2048];
    private int _sackAckLength;

    [GlobalSetup]
    public void Setup()
    {
        (_client, _server, _sender, _receiver) = Connect(ref _now);
        _segment = new byte[_sender.SendMss];
        new Random(1).NextBytes(_segment);
        for (int i = 0; i < 20_000; i++)
        {
            SegmentRoundTrip(); // warm up: buffers, pools and windows at their working sizes
        }

        SetupSackScoreboard();
    }

    private static (TouEndpoint Client, TouEndpoint Server, TouConnection Sender, TouConnection Receiver) Connect(ref long now)
    {
        var options = new TouOptions { KeepAliveInterval = TimeSpan.Zero, IdleTimeout = TimeSpan.Zero, EnablePacing = false };
        var client = new TouEndpoint(options) { LocalPort = 40000 };
        var server = new TouEndpoint(options) { LocalPort = 5000, IsListening = true };
        var sender = client.Connect(now, ServerAddress);
        var buffer = new byte[65_536];
        TouConnection? receiver = null;
        for (int round = 0; round < 10 && receiver is null; round++)
        {
            int n;
            while ((n = client.PollTransmit(now, buffer, out _)) > 0)
            {
                server.HandleDatagram(now, ClientAddress, buffer.AsSpan(0, n));
            }

            while ((n = server.PollTransmit(now, buffer, out _)) > 0)
            {
                client.HandleDatagram(now, ServerAddress, buffer.AsSpan(0, n));
            }

            now += 100;
            receiver = server.Accept();
        }

        return (client, server, sender, receiver ?? throw new InvalidOperationException("The in-memory handshake did not complete."));
    }

    /// <summary>One data segment: written, sent, received, read, and whatever ACK it causes handled by the sender.</summary>
    [Benchmark]
    public int SegmentRoundTrip()
    {
        _now += 10;
        _sender.Write(_segment);
        int n, total = 0;
        while ((n = _client.PollTransmit(_now, _scratch, out _)) > 0)
        {
            _server.HandleDatagram(_now, ClientAddress, _scratch.AsSpan(0, n));
        }

        while ((n = _receiver.Read(_read)) > 0)
        {
            total += n;
        }

        while ((n = _server.PollTransmit(_now, _scratch, out _)) > 0)
        {
            _client.HandleDatagram(_now, ServerAddress, _scratch.AsSpan(0, n));
        }

        return total;
    }

    /// <summary>A sender with 200 segments in flight and the receiver's real ACK reporting four SACK blocks above holes.</summary>
    private void SetupSackScoreboard()
    {
        long now = 1_000_000;
        var (client, server, sender, _) = Connect(ref now);
        _sackClient = client;
        var segment = new byte[sender.SendMss];
        for (int i = 0; i < 200; i++)
        {
            sender.Write(segment);
        }

        var data = new List<byte[]>();
        int n;
        while ((n = client.PollTransmit(now, _scratch, out _)) > 0)
        {
            if (TouHeader.TryRead(_scratch.AsSpan(0, n), out var h) && h.PayloadLength > 0)
            {
                data.Add(_scratch.AsSpan(0, n).ToArray());
            }
        }

        // Deliver islands with holes between them: the receiver's last ACK then carries four SACK blocks.
        foreach (int index in new[] { 2, 3, 5, 6, 8, 9 })
        {
            server.HandleDatagram(now, ClientAddress, data[Math.Min(index, data.Count - 1)]);
        }

        while ((n = server.PollTransmit(now, _scratch, out _)) > 0)
        {
            _scratch.AsSpan(0, n).CopyTo(_sackAck);
            _sackAckLength = n;
        }

        if (!TouHeader.TryRead(_sackAck.AsSpan(0, _sackAckLength), out var ack) || (ack.Flags & TouFlags.Options) == 0)
        {
            throw new InvalidOperationException("The receiver's ACK carries no SACK blocks.");
        }
    }

    /// <summary>One ACK with four SACK blocks: parse, walk the scoreboard, loss detection.</summary>
    [Benchmark]
    public void SackAckIn()
    {
        _now += 10;
        _sackClient.HandleDatagram(_now, ServerAddress, _sackAck.AsSpan(0, _sackAckLength));
    }
}
