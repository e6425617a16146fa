using System.Net.Sockets;
using Tou.Transport;

namespace Tou.Relay;

/// <summary>
/// One relay socket with the transport's batched I/O: <c>recvmmsg</c> with GRO on the way in (the receiver splits
/// coalesced buffers at the kernel's segment size, so every datagram is impaired on its own), GSO on the way out
/// (the sender joins only same-size runs to one destination). The receiver is driven by one receive loop, the
/// sender by the release loop of the direction that leaves through this socket.
/// </summary>
internal sealed class RelayPort : IDisposable
{
    /// <summary>The largest datagram relayed: a UDP payload never exceeds it, and a profile may allow any size.</summary>
    public const int MaxDatagramSize = 65_536;

    // The relay's datagrams are not the process's TOU traffic: counted on a meter of their own, which nothing listens to.
    private static readonly TouInstruments s_metrics = TouInstruments.CreateDetached("Tou.Relay");

    public RelayPort(Socket socket)
    {
        Socket = socket;
        Receiver = new UdpDatagramReceiver(socket, useGro: true, MaxDatagramSize);
        Sender = new UdpDatagramSender(socket, useGso: true, MaxDatagramSize, static (_, _, _) => { }, s_metrics);
    }

    public Socket Socket { get; }

    public UdpDatagramReceiver Receiver { get; }

    public UdpDatagramSender Sender { get; }

    public void Dispose() => Socket.Dispose();
}
