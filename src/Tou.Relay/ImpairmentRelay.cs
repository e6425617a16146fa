using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Simulation;
using Tou.Transport;

namespace Tou.Relay;

/// <summary>
/// A UDP relay between clients and one server that applies a <see cref="LinkProfile"/> per direction on the real
/// clock, from a seed: the kernel here has no netem, so this is how tests and benchmarks see a bad path.
/// Each client address gets its own upstream socket, so the server sees one source per client. Receive loops take
/// datagrams in batches (<c>recvmmsg</c>, GRO split per datagram) and admit each through the impairment model; one
/// release thread per direction sends them when due (a high-resolution timer, GSO batches of what is due together).
/// <see cref="RelayDirectionStats"/> reports how late releases were and the rate they added up to.
/// </summary>
public sealed class ImpairmentRelay : IAsyncDisposable
{
    private const int MaxDatagramsPerDrain = 512;

    private readonly RelayPort _front;
    private readonly SocketAddress _target;
    private readonly IPEndPoint _targetEndPoint;
    private readonly RelayDirection _up;
    private readonly RelayDirection _down;
    private readonly Lock _lock = new();
    private readonly Dictionary<SocketAddress, RelayPort> _upstreams = new();
    private readonly List<Task> _loops = new();
    private readonly CancellationTokenSource _stop = new();

    private ImpairmentRelay(Socket front, IPEndPoint target, LinkProfile clientToServer, LinkProfile serverToClient, int seed)
    {
        _front = new RelayPort(front);
        _targetEndPoint = target;
        _target = target.Serialize();
        long epoch = Stopwatch.GetTimestamp();

        // A random source per direction: the directions run on different threads.
        _up = new RelayDirection(clientToServer, new Random(seed), ClientToServer, epoch, "tou-relay-up");
        _down = new RelayDirection(serverToClient, new Random(unchecked((seed * 31) + 17)), ServerToClient, epoch, "tou-relay-down");
        LocalEndPoint = (IPEndPoint)front.LocalEndPoint!;
        _loops.Add(Task.Run(() => ReceiveLoopAsync(_front, null)));
    }

    /// <summary>Where clients send (instead of the server's address).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>What the relay did to datagrams from clients towards the server. Updated live by the relay's threads.</summary>
    public RelayDirectionStats ClientToServer { get; } = new();

    /// <summary>What the relay did to datagrams from the server back to clients. Updated live by the relay's threads.</summary>
    public RelayDirectionStats ServerToClient { get; } = new();

    /// <summary>Starts a relay on <paramref name="listen"/> (port 0 picks one) towards <paramref name="target"/>.</summary>
    public static ImpairmentRelay Start(IPEndPoint listen, IPEndPoint target, LinkProfile clientToServer, LinkProfile serverToClient, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(clientToServer);
        ArgumentNullException.ThrowIfNull(serverToClient);
        var front = NewSocket(listen.AddressFamily);
        try
        {
            front.Bind(listen);
            return new ImpairmentRelay(front, target, clientToServer, serverToClient, seed);
        }
        catch
        {
            front.Dispose();
            throw;
        }
    }

    private static Socket NewSocket(AddressFamily family) => new(family, SocketType.Dgram, ProtocolType.Udp)
    {
        ReceiveBufferSize = 8 * 1024 * 1024,
        SendBufferSize = 8 * 1024 * 1024,
    };

    /// <param name="client">Null for the front socket (client → server); for an upstream socket, the client it serves.</param>
    private async Task ReceiveLoopAsync(RelayPort port, SocketAddress? client)
    {
        var batch = new List<Pending>();
        var direction = client is null ? _up : _down;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await port.Receiver.WaitAsync(token).ConfigureAwait(false);
                port.Receiver.Drain(new AdmitSink(this, batch, client), MaxDatagramsPerDrain);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException)
            {
                // ICMP noise (a port that went away); what the drain took before it is still admitted below
            }

            if (batch.Count > 0)
            {
                direction.Admit(batch);
            }
        }

        foreach (var pending in batch)
        {
            DatagramBufferPool.Return(pending.Data);
        }
    }

    private RelayPort UpstreamFor(SocketAddress client)
    {
        lock (_lock)
        {
            if (_upstreams.TryGetValue(client, out var upstream))
            {
                return upstream;
            }

            // Disposal has closed (or is closing) every upstream: a new one would leak. The receive loop stops on this.
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            var key = new SocketAddress(client.Family, client.Size);
            client.Buffer.Span.CopyTo(key.Buffer.Span);
            var socket = NewSocket(_targetEndPoint.AddressFamily);
            socket.Bind(new IPEndPoint(_targetEndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
            upstream = new RelayPort(socket);
            _upstreams.Add(key, upstream);
            _loops.Add(Task.Run(() => ReceiveLoopAsync(upstream, key)));

            return upstream;
        }
    }

    /// <summary>Stops relaying and closes every socket; datagrams still waiting for their delivery time are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _front.Dispose();
        Task[] loops;
        lock (_lock)
        {
            foreach (var upstream in _upstreams.Values)
            {
                upstream.Dispose();
            }

            loops = _loops.ToArray();
        }

        await Task.WhenAll(loops).ConfigureAwait(false);
        _up.Dispose();
        _down.Dispose();
        _stop.Dispose();
    }

    /// <summary>Copies each received datagram into a pooled buffer with where it leaves and goes; the loop admits the batch after the drain.</summary>
    private readonly struct AdmitSink(ImpairmentRelay relay, List<Pending> batch, SocketAddress? client) : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize)
        {
            // Without a known segment size (GRO on a system that does not report it) the buffer is relayed whole.
            var data = DatagramBufferPool.Rent(datagram.Length);
            datagram.CopyTo(data);
            batch.Add(client is null
                ? new Pending(relay.UpstreamFor(source), relay._target, data, datagram.Length)
                : new Pending(relay._front, client, data, datagram.Length));
        }
    }
}
