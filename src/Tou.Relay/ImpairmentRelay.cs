using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Simulation;

namespace Tou.Relay;

/// <summary>
/// A UDP relay between clients and one server that applies a <see cref="LinkProfile"/> per direction, on the
/// real clock (to about a millisecond), from a seed: the kernel here has no netem, so this is how tests and benchmarks see a bad path.
/// Each client address gets its own upstream socket, so the server sees one source per client. One thread
/// sends what is due; receive loops admit datagrams through the impairment model.
/// </summary>
public sealed class ImpairmentRelay : IAsyncDisposable
{
    private readonly Socket _front;
    private readonly IPEndPoint _target;
    private readonly ImpairedLink _up;
    private readonly ImpairedLink _down;
    private readonly object _lock = new();
    private readonly PriorityQueue<Pending, (long At, long Seq)> _due = new();
    private readonly Dictionary<SocketAddress, Socket> _upstreams = new();
    private readonly List<Task> _loops = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _sender;
    private readonly long _epoch = Stopwatch.GetTimestamp();
    private long _sequence;

    private ImpairmentRelay(Socket front, IPEndPoint target, LinkProfile clientToServer, LinkProfile serverToClient, int seed)
    {
        _front = front;
        _target = target;
        var random = new Random(seed);
        _up = new ImpairedLink(clientToServer, random, ClientToServer);
        _down = new ImpairedLink(serverToClient, random, ServerToClient);
        LocalEndPoint = (IPEndPoint)front.LocalEndPoint!;
        _sender = new Thread(SendDue) { IsBackground = true, Name = "tou-relay-sender" };
        _sender.Start();
        _loops.Add(Task.Run(() => ReceiveLoopAsync(front, null)));
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

    private long NowUs() => (long)((Stopwatch.GetTimestamp() - _epoch) * (1_000_000.0 / Stopwatch.Frequency));

    /// <param name="client">Null for the front socket (client → server); for an upstream socket, the client it serves.</param>
    private async Task ReceiveLoopAsync(Socket socket, SocketAddress? client)
    {
        var buffer = new byte[65_536];
        var from = new SocketAddress(socket.AddressFamily);
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP noise on some platforms
            }

            if (client is null)
            {
                Forward(UpstreamFor(from), _target.Serialize(), buffer.AsSpan(0, n), _up, ClientToServer);
            }
            else
            {
                Forward(_front, client, buffer.AsSpan(0, n), _down, ServerToClient);
            }
        }
    }

    private Socket UpstreamFor(SocketAddress client)
    {
        lock (_lock)
        {
            if (_upstreams.TryGetValue(client, out var upstream))
            {
                return upstream;
            }

            var key = new SocketAddress(client.Family, client.Size);
            client.Buffer.Span.CopyTo(key.Buffer.Span);
            upstream = NewSocket(_target.AddressFamily);
            upstream.Bind(new IPEndPoint(_target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
            _upstreams.Add(key, upstream);
            _loops.Add(Task.Run(() => ReceiveLoopAsync(upstream, key)));
            return upstream;
        }
    }

    private void Forward(Socket via, SocketAddress to, ReadOnlySpan<byte> datagram, ImpairedLink link, RelayDirectionStats stats)
    {
        var copy = ArrayPool<byte>.Shared.Rent(datagram.Length);
        datagram.CopyTo(copy);
        Span<long> arrivals = stackalloc long[2];
        lock (_lock)
        {
            stats.Received++;
            int copies = link.Admit(NowUs(), copy.AsSpan(0, datagram.Length), arrivals);
            for (int c = 0; c < copies; c++)
            {
                var data = copy;
                if (c > 0)
                {
                    data = ArrayPool<byte>.Shared.Rent(datagram.Length);
                    copy.AsSpan(0, datagram.Length).CopyTo(data);
                }

                _due.Enqueue(new Pending(via, to, data, datagram.Length, stats), (arrivals[c], _sequence++));
            }

            if (copies == 0)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }

            Monitor.Pulse(_lock);
        }
    }

    /// <summary>The sender thread: sleeps until the earliest datagram is due, then sends everything due.</summary>
    private void SendDue()
    {
        while (!_stop.IsCancellationRequested)
        {
            Pending pending;
            lock (_lock)
            {
                if (!_due.TryPeek(out pending, out var key))
                {
                    Monitor.Wait(_lock, 50);
                    continue;
                }

                // Timer granularity is about a millisecond; anything due within half of one goes now, so the
                // thread never spins (on two cores a spinning relay would starve what it measures).
                long waitUs = key.At - NowUs();
                if (waitUs > 500)
                {
                    Monitor.Wait(_lock, (int)Math.Max(1, waitUs / 1_000));
                    continue;
                }

                _due.Dequeue();
                pending.Stats.Forwarded++;
            }

            try
            {
                pending.Via.SendTo(pending.Data.AsSpan(0, pending.Length), SocketFlags.None, pending.To);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // the destination went away; the datagram is lost like any other
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(pending.Data);
            }
        }
    }

    /// <summary>Stops relaying and closes every socket; datagrams still waiting for their delivery time are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
        }

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
        _sender.Join();
        _stop.Dispose();
    }

    private readonly record struct Pending(Socket Via, SocketAddress To, byte[] Data, int Length, RelayDirectionStats Stats);
}
