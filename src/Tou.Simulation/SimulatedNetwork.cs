using System.Buffers;
using System.Net;
using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>
/// TOU endpoints joined by simulated links on a virtual clock. Everything random comes from one seed, so a
/// run is reproducible to the datagram; nothing touches a socket or the wall clock.
/// </summary>
public sealed class SimulatedNetwork
{
    private const int MaxDatagramsPerDrain = 100_000;

    private readonly Random _random;
    private readonly Dictionary<SocketAddress, TouEndpoint> _nodes = new();
    private readonly List<(SocketAddress Address, TouEndpoint Endpoint)> _nodeList = new();
    private readonly Dictionary<(SocketAddress From, SocketAddress To), (ImpairedLink Link, long ExtraDelayUs)> _links = new();
    private readonly PriorityQueue<Delivery, (long At, long Seq)> _inFlight = new();
    private readonly PriorityQueue<Action, (long At, long Seq)> _scheduled = new();
    private readonly byte[] _buffer = new byte[65_536];
    private long _sequence;

    /// <summary>An empty network whose randomness (every link's impairments) comes from <paramref name="seed"/>.</summary>
    /// <param name="seed">Seed of the network's random numbers: the same seed and the same calls give the same run.</param>
    /// <param name="startUs">The virtual clock's start, µs.</param>
    public SimulatedNetwork(int seed, long startUs = 1_000_000)
    {
        _random = new Random(seed);
        NowUs = startUs;
    }

    /// <summary>The virtual clock, in microseconds.</summary>
    public long NowUs { get; private set; }

    /// <summary>Datagrams sent, delivered and impaired, all links together.</summary>
    public NetworkStats Stats { get; } = new();

    /// <summary>Called before every step, for test code acting as the application.</summary>
    public Action? BeforeStep { get; set; }

    /// <summary>Sees every datagram sent (before the link decides its fate).</summary>
    public Action<SocketAddress, SocketAddress, ReadOnlyMemory<byte>>? Observer { get; set; }

    /// <summary>The <see cref="SocketAddress"/> of <paramref name="ip"/> (IPv4 or IPv6 text) and <paramref name="port"/>, for naming nodes.</summary>
    public static SocketAddress Address(string ip, int port) => new IPEndPoint(IPAddress.Parse(ip), port).Serialize();

    /// <summary>Puts <paramref name="endpoint"/> on the network at <paramref name="address"/>: datagrams to that address
    /// reach it, and what it sends leaves from there. The network drives it (datagrams, timers, transmission).</summary>
    /// <exception cref="ArgumentException">A node already has that address.</exception>
    public void AddNode(SocketAddress address, TouEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(endpoint);
        _nodes.Add(address, endpoint);
        _nodeList.Add((address, endpoint));
    }

    /// <summary>Sets what the one-way link from <paramref name="from"/> to <paramref name="to"/> does to datagrams
    /// (a pair without a link set gets <see cref="LinkProfile.Perfect"/>). Replacing a link forgets its queue.</summary>
    public void SetLink(SocketAddress from, SocketAddress to, LinkProfile profile) => _links[(from, to)] = (CreateLink(profile), 0);

    /// <summary>A link drawing on this network's random numbers and counting in its <see cref="Stats"/>, to be shared by
    /// several pairs with <see cref="SetLink(SocketAddress, SocketAddress, ImpairedLink, TimeSpan)"/>.</summary>
    public ImpairedLink CreateLink(LinkProfile profile) => new(profile, _random, Stats);

    /// <summary>Routes the one-way link from <paramref name="from"/> to <paramref name="to"/> through <paramref name="link"/>,
    /// which other pairs may share (one bottleneck queue for several flows), adding <paramref name="extraDelay"/> of
    /// propagation for this pair alone (flows with different RTTs on one bottleneck).</summary>
    public void SetLink(SocketAddress from, SocketAddress to, ImpairedLink link, TimeSpan extraDelay)
    {
        ArgumentNullException.ThrowIfNull(link);
        _links[(from, to)] = (link, extraDelay.Ticks / TimeSpan.TicksPerMicrosecond);
    }

    /// <summary>Sets both directions between <paramref name="a"/> and <paramref name="b"/> to <paramref name="profile"/> (two independent links).</summary>
    public void SetPath(SocketAddress a, SocketAddress b, LinkProfile profile)
    {
        SetLink(a, b, profile);
        SetLink(b, a, profile);
    }

    /// <summary>Puts a hand-made datagram on the wire, arriving at <paramref name="atUs"/> (spoofed sources welcome).</summary>
    public void Inject(SocketAddress from, SocketAddress to, ReadOnlySpan<byte> datagram, long atUs)
    {
        var copy = ArrayPool<byte>.Shared.Rent(datagram.Length);
        datagram.CopyTo(copy);
        _inFlight.Enqueue(new Delivery(from, to, copy, datagram.Length), (Math.Max(atUs, NowUs), _sequence++));
    }

    /// <summary>The endpoint at <paramref name="address"/>, or null (e.g. to act on its connections in a scheduled change).</summary>
    public TouEndpoint? EndpointAt(SocketAddress address) => _nodes.GetValueOrDefault(address);

    /// <summary>
    /// Moves the node at <paramref name="current"/> to <paramref name="next"/>, as a NAT does when it rebinds a mapping
    /// (a new port) or as a host that changed networks (a new IP address): what it sends leaves from
    /// <paramref name="next"/>, only datagrams to <paramref name="next"/> reach it, and those still on their way to
    /// <paramref name="current"/> are lost. Links from and to the old address are copied, with their profiles and empty
    /// queues, unless the new pair has a link set already.
    /// </summary>
    /// <exception cref="ArgumentException">No node has <paramref name="current"/>, or one has <paramref name="next"/> already.</exception>
    public void Rebind(SocketAddress current, SocketAddress next)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(next);
        if (!_nodes.Remove(current, out var endpoint))
        {
            throw new ArgumentException($"No node has the address {current}.", nameof(current));
        }

        var to = CopyOf(next);
        _nodes.Add(to, endpoint);
        int index = _nodeList.FindIndex(n => ReferenceEquals(n.Endpoint, endpoint));
        _nodeList[index] = (to, endpoint);
        foreach (var ((from, dest), route) in _links.ToList())
        {
            // The new address gets a link like the old one's (a fresh queue, the same per-flow extra delay).
            if (from.Equals(current) && !_links.ContainsKey((to, dest)))
            {
                _links[(to, dest)] = (CreateLink(route.Link.Profile), route.ExtraDelayUs);
            }
            else if (dest.Equals(current) && !_links.ContainsKey((from, to)))
            {
                _links[(from, to)] = (CreateLink(route.Link.Profile), route.ExtraDelayUs);
            }
        }

        Stats.Rebindings++;
    }

    /// <summary>Runs <paramref name="action"/> when the virtual clock reaches <paramref name="atUs"/> (before that step's
    /// deliveries), e.g. a rebinding in the middle of a transfer. Actions at the same time run in the order scheduled.</summary>
    public void At(long atUs, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _scheduled.Enqueue(action, (Math.Max(atUs, NowUs), _sequence++));
    }

    /// <summary>Sends what every node has to send, then advances to the next delivery or deadline and handles it. False when nothing is pending.</summary>
    public bool Step()
    {
        BeforeStep?.Invoke();
        DrainAll();
        long next = TouTime.Never;
        foreach (var (_, endpoint) in _nodeList)
        {
            next = Math.Min(next, endpoint.NextDeadline);
        }

        if (_inFlight.TryPeek(out _, out var key))
        {
            next = Math.Min(next, key.At);
        }

        if (_scheduled.TryPeek(out _, out var scheduledAt))
        {
            next = Math.Min(next, scheduledAt.At);
        }

        if (next == TouTime.Never)
        {
            return false;
        }

        NowUs = Math.Max(NowUs, next);
        while (_scheduled.TryPeek(out var action, out key) && key.At <= NowUs)
        {
            _scheduled.Dequeue();
            action();
        }

        while (_inFlight.TryPeek(out var delivery, out key) && key.At <= NowUs)
        {
            _inFlight.Dequeue();
            if (_nodes.TryGetValue(delivery.To, out var endpoint))
            {
                endpoint.HandleDatagram(NowUs, delivery.From, delivery.Data.AsSpan(0, delivery.Length));
                Stats.Delivered++;
                Stats.BytesDelivered += delivery.Length;
            }
            else
            {
                Stats.Undeliverable++;
            }

            ArrayPool<byte>.Shared.Return(delivery.Data);
        }

        foreach (var (_, endpoint) in _nodeList)
        {
            endpoint.HandleTimeouts(NowUs);
        }

        BeforeStep?.Invoke();
        DrainAll();
        return true;
    }

    /// <summary>Steps until <paramref name="condition"/> holds.</summary>
    /// <exception cref="TimeoutException">Virtual time or the step budget ran out, or the network went idle first.</exception>
    public void RunUntil(Func<bool> condition, long maxDurationUs, int maxSteps = 50_000_000)
    {
        ArgumentNullException.ThrowIfNull(condition);
        long end = NowUs + maxDurationUs;
        for (int i = 0; i < maxSteps; i++)
        {
            BeforeStep?.Invoke();
            DrainAll();
            if (condition())
            {
                return;
            }

            if (NowUs > end)
            {
                throw new TimeoutException($"The condition did not hold within {maxDurationUs / 1e6:0.###} s of virtual time.");
            }

            if (!Step() && !condition())
            {
                throw new TimeoutException($"The network went idle at {NowUs / 1e6:0.###} s before the condition held.");
            }
        }

        throw new TimeoutException($"The condition did not hold within {maxSteps} steps.");
    }

    /// <summary>Steps until the virtual clock reaches now + <paramref name="durationUs"/>.</summary>
    public void RunFor(long durationUs)
    {
        long end = NowUs + durationUs;
        while (NowUs < end)
        {
            long next = TouTime.Never;
            foreach (var (_, endpoint) in _nodeList)
            {
                next = Math.Min(next, endpoint.NextDeadline);
            }

            if (_inFlight.TryPeek(out _, out var key))
            {
                next = Math.Min(next, key.At);
            }

            if (_scheduled.TryPeek(out _, out key))
            {
                next = Math.Min(next, key.At);
            }

            if (next > end)
            {
                NowUs = end;
                return;
            }

            Step();
        }
    }

    /// <summary>Lets the application act and sends what it queued, without advancing the clock.</summary>
    internal void ActNow()
    {
        BeforeStep?.Invoke();
        DrainAll();
    }

    private void DrainAll()
    {
        foreach (var (address, endpoint) in _nodeList)
        {
            for (int n = 0; n < MaxDatagramsPerDrain; n++)
            {
                int length = endpoint.PollTransmit(NowUs, _buffer, out var destination);
                if (length == 0)
                {
                    break;
                }

                Send(address, destination!, _buffer.AsSpan(0, length));
            }
        }
    }

    private void Send(SocketAddress from, SocketAddress to, ReadOnlySpan<byte> datagram)
    {
        Stats.Sent++;
        Observer?.Invoke(from, to, datagram.ToArray());
        if (!_links.TryGetValue((from, to), out var route))
        {
            route = (CreateLink(LinkProfile.Perfect), 0);
            _links[(CopyOf(from), CopyOf(to))] = route;
        }

        var copy = ArrayPool<byte>.Shared.Rent(datagram.Length);
        datagram.CopyTo(copy);
        Span<long> arrivals = stackalloc long[2];
        int copies = route.Link.Admit(NowUs, copy.AsSpan(0, datagram.Length), arrivals);
        for (int c = 0; c < copies; c++)
        {
            var data = copy;
            if (c > 0)
            {
                data = ArrayPool<byte>.Shared.Rent(datagram.Length);
                copy.AsSpan(0, datagram.Length).CopyTo(data);
            }

            _inFlight.Enqueue(new Delivery(from, to, data, datagram.Length), (arrivals[c] + route.ExtraDelayUs, _sequence++));
        }

        if (copies == 0)
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private static SocketAddress CopyOf(SocketAddress a)
    {
        var copy = new SocketAddress(a.Family, a.Size);
        a.Buffer.Span.CopyTo(copy.Buffer.Span);
        return copy;
    }

    private readonly record struct Delivery(SocketAddress From, SocketAddress To, byte[] Data, int Length);
}
