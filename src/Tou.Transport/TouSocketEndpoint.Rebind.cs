using System.Net;
using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport;

// A client connection moving to a new local socket (after a network change): the socket, its receiver, sender and
// receive loop are replaced under the gate; the engine's connection tells its peer from the new socket at once.
public sealed partial class TouSocketEndpoint
{
    /// <summary>A UDP socket with the endpoint's settings, bound to <paramref name="localEndPoint"/>.</summary>
    private static Socket OpenSocket(IPEndPoint localEndPoint, TouTransportOptions options, bool reusePort)
    {
        var socket = new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6 && localEndPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (options.SocketReceiveBufferSize > 0)
            {
                socket.ReceiveBufferSize = options.SocketReceiveBufferSize;
            }

            if (options.SocketSendBufferSize > 0)
            {
                socket.SendBufferSize = options.SocketSendBufferSize;
            }

            if (reusePort)
            {
                ReusePort.Enable(socket);
            }

            socket.Bind(localEndPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }


    /// <summary>
    /// Moves this endpoint, which serves only <paramref name="connection"/>, to a new socket bound to
    /// <paramref name="localEndPoint"/>: what arrives at the old socket from now on is lost, as after a network change.
    /// The connection speaks from the new socket at once (<see cref="TouConnection.Migrate"/>); a new local IP address
    /// restarts its congestion state.
    /// </summary>
    internal async Task RebindAsync(TouConnection connection, IPEndPoint localEndPoint)
    {
        var socket = OpenSocket(localEndPoint, Options, reusePort: false);
        var local = (IPEndPoint)socket.LocalEndPoint!; // as bound: connecting below may fill in a wildcard address
        Socket old;
        Task oldLoop;
        try
        {
            if (_connectedRemote is { } peer)
            {
                socket.Connect(peer); // the new socket is connected to the one peer as the old one was
            }

            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_draining || _disposed, this);
                if (!connection.ConnectionIdsNegotiated)
                {
                    throw new InvalidOperationException("Only a connection that agreed connection IDs (TouOptions.EnableConnectionIds on both sides) can move to another local socket.");
                }

                bool newNetwork = !local.Address.Equals(LocalEndPoint.Address);
                old = _socket;
                oldLoop = StopReceiving();
                _socket = socket;
                LocalEndPoint = local;
                if (Options.Protocol.EnablePathMtuDiscovery)
                {
                    PathMtuSocketOptions.TryEnable(socket);
                }

                _receiver = new UdpDatagramReceiver(socket, Options.UseSegmentationOffload, DatagramBufferSize);
                _sender = new UdpDatagramSender(socket, Options.UseSegmentationOffload, DatagramBufferSize, OnSendFailed, Metrics)
                {
                    ConnectedTo = _connectedRemote?.Serialize(),
                };
                _engine.LocalPort = (ushort)local.Port;
                long now = Now();
                connection.Migrate(now, newNetwork);
                StartReceiving(socket, _receiver);
                AfterEngineWork(now);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        old.Dispose(); // ends the old socket's receive loop
        try
        {
            await oldLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
