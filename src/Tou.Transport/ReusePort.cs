using System.Net;
using System.Net.Sockets;

namespace Tou.Transport;

/// <summary>
/// SO_REUSEPORT, which .NET does not wrap: several UDP sockets bound to one port, among which the Linux kernel spreads
/// datagrams by a hash of their 4-tuple, so each peer stays on one socket while a listener uses every core. Other
/// systems either lack it or (BSD, macOS) give one socket all the traffic, so only Linux shards a listener.
/// </summary>
internal static class ReusePort
{
    private const int SolSocket = 1;     // SOL_SOCKET on Linux
    private const int SoReusePort = 15;  // SO_REUSEPORT on Linux

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Must come before Bind, on every socket of the group, the first included.</summary>
    /// <exception cref="SocketException">The kernel lacks the option (before Linux 3.9).</exception>
    public static void Enable(Socket socket)
    {
        Span<byte> one = stackalloc byte[4];
        BitConverter.TryWriteBytes(one, 1);
        socket.SetRawSocketOption(SolSocket, SoReusePort, one);
    }

    /// <summary>
    /// Binds a plain socket (without SO_REUSEPORT) where the shards are to go and gives back the port it got. With SO_REUSEPORT
    /// alone, a second listener of the same user on a taken port would share it silently instead of failing; the probe
    /// fails there as an ordinary bind does, and with port 0 it picks a port nobody holds.
    /// </summary>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public static int ProbeFreePort(IPEndPoint localEndPoint)
    {
        using var probe = new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6 && localEndPoint.Address.Equals(IPAddress.IPv6Any))
        {
            probe.DualMode = true; // as the shards will be, so an IPv4 holder of the port is seen too
        }

        probe.Bind(localEndPoint);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
