using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Harness;

/// <summary>A packet crossing the <see cref="EnginePair"/>'s link.</summary>
internal sealed record WirePacket(long SentUs, bool ToServer, TouHeader Header, byte[] Datagram, int Index)
{
    public override string ToString() => $"{(ToServer ? "C->S" : "S->C")} {Header}";
}

/// <summary>
/// Two endpoints (client and server) joined by a scripted link with a fixed one-way delay and a filter
/// that can drop, duplicate or rewrite any packet; virtual time, no randomness unless the test adds it.
/// </summary>
public sealed class EnginePair : IDisposable
{
    private readonly PriorityQueue<(bool ToServer, byte[] Data), (long At, long Seq)> _inFlight = new();
    private readonly byte[] _buffer = new byte[65_536];
    private long _seq;
    private int _index;

    public EnginePair(TouOptions? clientOptions = null, TouOptions? serverOptions = null, long oneWayDelayUs = 10_000)
    {
        OneWayDelayUs = oneWayDelayUs;
        Client = new TouEndpoint(clientOptions ?? new TouOptions()) { LocalPort = 40000 };
        Server = new TouEndpoint(serverOptions ?? new TouOptions()) { LocalPort = 5000, IsListening = true };
    }

    public static SocketAddress ClientAddress { get; } = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize();

    public static SocketAddress ServerAddress { get; } = new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5000).Serialize();

    public long NowUs { get; private set; } = 1_000_000;

    public long OneWayDelayUs { get; set; }

    public TouEndpoint Client { get; private set; }

    /// <summary>The client machine restarts: a fresh endpoint on the same address, knowing nothing of old connections.</summary>
    public void RestartClient(TouOptions? options = null)
    {
        Client = new TouEndpoint(options ?? new TouOptions()) { LocalPort = 40000 };
    }

    public TouEndpoint Server { get; }

    /// <summary>Every packet sent, in order, before the filter decided its fate.</summary>
    internal List<WirePacket> Trace { get; } = new();

    /// <summary>Decides what reaches the other side: return false to drop the packet.</summary>
    internal Func<WirePacket, bool>? Filter { get; set; }

    /// <summary>Called before each step so test code can act as the application.</summary>
    public Action? Application { get; set; }

    public TouConnection Connect() => Client.Connect(NowUs, ServerAddress);

    /// <summary>Puts a hand-made datagram on the link.</summary>
    public void Inject(bool toServer, ReadOnlySpan<byte> datagram, long delayUs = 0) =>
        _inFlight.Enqueue((toServer, datagram.ToArray()), (NowUs + delayUs, _seq++));

    public void Pump()
    {
        Drain(Client, toServer: true);
        Drain(Server, toServer: false);
    }

    private void Drain(TouEndpoint endpoint, bool toServer)
    {
        for (int guard = 0; guard < 1_000_000; guard++)
        {
            int n = endpoint.PollTransmit(NowUs, _buffer, out var destination);
            if (n == 0)
            {
                return;
            }

            var data = _buffer.AsSpan(0, n).ToArray();
            TouHeader.TryRead(data, out var header);
            var packet = new WirePacket(NowUs, toServer, header, data, _index++);
            Trace.Add(packet);
            if (Filter is null || Filter(packet))
            {
                _inFlight.Enqueue((toServer, data), (NowUs + OneWayDelayUs, _seq++));
            }
        }

        throw new InvalidOperationException("An endpoint produced a million datagrams in one pump.");
    }

    /// <summary>Advances to the next delivery or deadline. Returns false when nothing is pending.</summary>
    public bool Step()
    {
        Application?.Invoke();
        Pump();
        long next = Math.Min(Client.NextDeadline, Server.NextDeadline);
        if (_inFlight.TryPeek(out _, out var key))
        {
            next = Math.Min(next, key.At);
        }

        if (next == TouTime.Never)
        {
            return false;
        }

        NowUs = Math.Max(NowUs, next);
        while (_inFlight.TryPeek(out var item, out key) && key.At <= NowUs)
        {
            _inFlight.Dequeue();
            if (item.ToServer)
            {
                Server.HandleDatagram(NowUs, ClientAddress, item.Data);
            }
            else
            {
                Client.HandleDatagram(NowUs, ServerAddress, item.Data);
            }
        }

        Client.HandleTimeouts(NowUs);
        Server.HandleTimeouts(NowUs);
        Application?.Invoke();
        Pump();
        return true;
    }

    public void RunUntil(Func<bool> condition, long maxDurationUs = 120_000_000, int maxSteps = 5_000_000)
    {
        long end = NowUs + maxDurationUs;
        for (int i = 0; i < maxSteps; i++)
        {
            Application?.Invoke();
            Pump();
            if (condition())
            {
                return;
            }

            if (NowUs > end)
            {
                throw new TimeoutException($"Condition not met within {maxDurationUs} µs of virtual time. Last packets:\n{string.Join('\n', Trace.TakeLast(12))}");
            }

            if (!Step())
            {
                if (condition())
                {
                    return;
                }

                throw new TimeoutException($"The link went idle at {NowUs} before the condition held ({_inFlight.Count} in flight, deadlines {Client.NextDeadline} {Server.NextDeadline}). Last packets:\n{string.Join('\n', Trace.TakeLast(12))}");
            }
        }

        throw new TimeoutException($"Condition not met within {maxSteps} steps.");
    }

    /// <summary>Runs until both ends have a connection in the established state and returns them.</summary>
    public (TouConnection Client, TouConnection Server) Establish()
    {
        var client = Connect();
        TouConnection? server = null;
        RunUntil(() => client.State == TouConnectionState.Established && (server ??= Server.Accept()) is not null);
        return (client, server!);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
