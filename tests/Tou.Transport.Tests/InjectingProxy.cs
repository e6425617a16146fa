using System.Net;
using System.Net.Sockets;

namespace Tou.Transport.Tests;

/// <summary>
/// A faithful loopback UDP forwarder between one client and one server, through which an off-path attacker
/// can send datagrams "from the peer's address" without raw sockets: the client talks to <see cref="FrontEndPoint"/>,
/// the server sees the client as <see cref="UpstreamEndPoint"/>. <see cref="InjectToServer"/> sends from the
/// upstream socket (the address the server knows as the client), <see cref="InjectToClient"/> from the front
/// socket (the address the client knows as the server). The attacker is blind: nothing forwarded is exposed,
/// only counts.
/// </summary>
internal sealed class InjectingProxy : IAsyncDisposable
{
    private readonly Socket _front;
    private Socket _upstream; // replaced by Rebind, as a NAT gives a flow a new public port
    private readonly SocketAddress _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<SocketAddress> _client = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _frontLoop;
    private Task _upstreamLoop;
    private readonly List<(Socket Socket, Task Loop)> _retired = [];
    private long _toServer;
    private long _toClient;
    private long _injectedToServer;
    private long _injectedToClient;

    public InjectingProxy(IPEndPoint server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!IPAddress.IsLoopback(server.Address))
        {
            throw new ArgumentException("The proxy only forwards to loopback.", nameof(server));
        }

        _server = server.Serialize();
        _front = NewSocket(server.Address);
        _upstream = NewSocket(server.Address);
        FrontEndPoint = (IPEndPoint)_front.LocalEndPoint!;
        UpstreamEndPoint = (IPEndPoint)_upstream.LocalEndPoint!; // the first one; see Rebind
        _frontLoop = Task.Run(() => ForwardAsync(_front, fromClient: true));
        _upstreamLoop = Task.Run(() => ForwardAsync(_upstream, fromClient: false));
    }

    /// <summary>Where the client connects (the address it knows as the server's).</summary>
    public IPEndPoint FrontEndPoint { get; }

    /// <summary>The address the server knows as the client's (it changes with <see cref="Rebind"/>).</summary>
    public IPEndPoint UpstreamEndPoint { get; private set; }

    /// <summary>
    /// What a NAT does when a mapping expires: the client's traffic leaves from a new port from now on, and what the
    /// server sends to the old one is lost. Returns the new address the server sees.
    /// </summary>
    public IPEndPoint Rebind()
    {
        var fresh = NewSocket(UpstreamEndPoint.Address);
        var old = Interlocked.Exchange(ref _upstream, fresh);
        UpstreamEndPoint = (IPEndPoint)fresh.LocalEndPoint!;
        _retired.Add((old, _upstreamLoop)); // kept open (a send racing the swap must not fail) but no longer forwarded
        _upstreamLoop = Task.Run(() => ForwardAsync(fresh, fromClient: false));
        return UpstreamEndPoint;
    }

    /// <summary>Completes once the client has sent its first datagram (its address is then known).</summary>
    public Task ClientKnown => _client.Task;

    public long ForwardedToServer => Interlocked.Read(ref _toServer);

    public long ForwardedToClient => Interlocked.Read(ref _toClient);

    public long InjectedToServer => Interlocked.Read(ref _injectedToServer);

    public long InjectedToClient => Interlocked.Read(ref _injectedToClient);

    /// <summary>Sends a datagram to the server from the client's (proxied) address.</summary>
    public void InjectToServer(ReadOnlySpan<byte> datagram)
    {
        _upstream.SendTo(datagram, SocketFlags.None, _server);
        Interlocked.Increment(ref _injectedToServer);
    }

    /// <summary>Sends a datagram to the client from the server's (proxied) address.</summary>
    public void InjectToClient(ReadOnlySpan<byte> datagram)
    {
        if (!_client.Task.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The client has not sent anything yet.");
        }

        _front.SendTo(datagram, SocketFlags.None, _client.Task.Result);
        Interlocked.Increment(ref _injectedToClient);
    }

    private static Socket NewSocket(IPAddress loopback)
    {
        var socket = new Socket(loopback.AddressFamily, SocketType.Dgram, ProtocolType.Udp)
        {
            ReceiveBufferSize = 8 * 1024 * 1024,
            SendBufferSize = 8 * 1024 * 1024,
        };
        try
        {
            socket.Bind(new IPEndPoint(loopback, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task ForwardAsync(Socket socket, bool fromClient)
    {
        var buffer = GC.AllocateArray<byte>(65_536, pinned: true);
        var from = new SocketAddress(socket.AddressFamily);
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP noise
            }

            try
            {
                if (fromClient)
                {
                    if (!_client.Task.IsCompleted)
                    {
                        var client = new SocketAddress(from.Family, from.Size);
                        from.Buffer.Span.CopyTo(client.Buffer.Span);
                        _client.TrySetResult(client);
                    }
                    else if (!from.Equals(_client.Task.Result))
                    {
                        continue; // one client only
                    }

                    Volatile.Read(ref _upstream).SendTo(buffer.AsSpan(0, n), SocketFlags.None, _server);
                    Interlocked.Increment(ref _toServer);
                }
                else if (_client.Task.IsCompleted && from.Equals(_server) && ReferenceEquals(socket, Volatile.Read(ref _upstream)))
                {
                    _front.SendTo(buffer.AsSpan(0, n), SocketFlags.None, _client.Task.Result);
                    Interlocked.Increment(ref _toClient);
                }
            }
            catch (SocketException)
            {
                // a full buffer or a vanished peer: lost like any datagram
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _front.Dispose();
        _upstream.Dispose();
        _retired.ForEach(r => r.Socket.Dispose());
        await Task.WhenAll(_retired.Select(r => r.Loop).Append(_frontLoop).Append(_upstreamLoop));
        _stop.Dispose();
    }
}
