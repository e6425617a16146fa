using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Tou.Transport;

/// <summary>
/// What path MTU discovery needs from the socket layer, in one place: datagrams sent with the don't-fragment bit and
/// without the kernel's own path MTU cache (Linux <c>IP_MTU_DISCOVER</c> / <c>IPV6_MTU_DISCOVER</c> =
/// <c>PMTUDISC_PROBE</c>, and <c>IPV6_DONTFRAG</c>), so a probe larger than the path is lost instead of fragmented and
/// one larger than the interface fails at once with EMSGSIZE; and the local interface's MTU, the largest datagram
/// worth probing toward a peer.
/// </summary>
internal static class PathMtuSocketOptions
{
    private const int SolIp = 0;              // IPPROTO_IP
    private const int IpMtuDiscover = 10;     // IP_MTU_DISCOVER
    private const int SolIpv6 = 41;           // IPPROTO_IPV6
    private const int Ipv6MtuDiscover = 23;   // IPV6_MTU_DISCOVER
    private const int Ipv6DontFrag = 62;      // IPV6_DONTFRAG
    private const int PmtuDiscProbe = 3;      // IP_PMTUDISC_PROBE, IPV6_PMTUDISC_PROBE: set DF, ignore the route's cached PMTU
    private const int Ipv4Overhead = 20 + 8;
    private const int Ipv6Overhead = 40 + 8;
    private const int MaxUdpPayload = 65_507;
    private const long RereadAfterMs = 60_000;

    private static InterfaceMtus? s_interfaces;

    /// <summary>
    /// Makes the socket send with the don't-fragment bit in probe mode. False where that is not done: then probes could
    /// pass by fragmentation and prove nothing, so the caller keeps the initial datagram size. Linux only so far; Windows
    /// (IP_DONTFRAGMENT) and macOS (IP_DONTFRAG) have the bit but no probe mode, and are left for later.
    /// </summary>
    public static bool TryEnable(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        bool ok = true;
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            ok &= LinuxSocketInterop.TrySetIntOption(socket, SolIpv6, Ipv6MtuDiscover, PmtuDiscProbe);
            _ = LinuxSocketInterop.TrySetIntOption(socket, SolIpv6, Ipv6DontFrag, 1); // belt and braces: never fragment locally either
        }

        if (socket.AddressFamily == AddressFamily.InterNetwork || (socket.AddressFamily == AddressFamily.InterNetworkV6 && socket.DualMode))
        {
            ok &= LinuxSocketInterop.TrySetIntOption(socket, SolIp, IpMtuDiscover, PmtuDiscProbe); // a dual-mode socket's IPv4 traffic follows the IPv4 option
        }

        return ok;
    }

    /// <summary>
    /// The largest UDP payload the local interface toward <paramref name="remote"/> carries: the interface's MTU less the
    /// IP and UDP headers (loopback: 65,536 − 28, capped at 65,507 for IPv4; 65,488 for IPv6). The interface is the
    /// loopback one for a loopback peer, the one owning <paramref name="local"/> when the socket is bound to an address,
    /// else the largest of the interfaces that are up. 0 when it cannot be told (the local stack's EMSGSIZE is then the
    /// only local limit).
    /// </summary>
    public static int DatagramLimit(IPEndPoint local, SocketAddress remote)
    {
        try
        {
            var peer = ((IPEndPoint)local.Create(remote)).Address;
            bool ipv4 = peer.AddressFamily == AddressFamily.InterNetwork || peer.IsIPv4MappedToIPv6;
            var interfaces = Interfaces();
            int mtu = IPAddress.IsLoopback(peer) ? interfaces.Loopback
                : interfaces.ByAddress.TryGetValue(local.Address, out int own) ? own
                : interfaces.Largest;
            return mtu <= 0 ? 0 : Math.Min(mtu - (ipv4 ? Ipv4Overhead : Ipv6Overhead), MaxUdpPayload);
        }
        catch (Exception ex) when (ex is ArgumentException or NetworkInformationException or PlatformNotSupportedException or InvalidOperationException)
        {
            return 0; // runs inside the engine (a connection's handshake completing): never let it throw there
        }
    }

    /// <summary>The interfaces' MTUs, read at most once a minute (a connection asks once, when its handshake completes).</summary>
    private static InterfaceMtus Interfaces()
    {
        var current = Volatile.Read(ref s_interfaces);
        if (current is null || Environment.TickCount64 - current.ReadAtMs > RereadAfterMs)
        {
            current = InterfaceMtus.Read();
            Volatile.Write(ref s_interfaces, current);
        }

        return current;
    }

    private sealed class InterfaceMtus
    {
        public long ReadAtMs { get; private init; }

        public int Loopback { get; private set; }

        public int Largest { get; private set; }

        public Dictionary<IPAddress, int> ByAddress { get; } = new();

        public static InterfaceMtus Read()
        {
            var result = new InterfaceMtus { ReadAtMs = Environment.TickCount64 };
            try
            {
                foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                {
                    bool loopback = nic.NetworkInterfaceType == NetworkInterfaceType.Loopback;
                    int mtu = Mtu(nic);
                    if (mtu <= 0 || (!loopback && nic.OperationalStatus != OperationalStatus.Up))
                    {
                        continue;
                    }

                    result.Loopback = loopback ? Math.Max(result.Loopback, mtu) : result.Loopback;
                    result.Largest = loopback ? result.Largest : Math.Max(result.Largest, mtu);
                    foreach (var address in nic.GetIPProperties().UnicastAddresses)
                    {
                        result.ByAddress[address.Address] = mtu;
                    }
                }
            }
            catch (Exception ex) when (ex is NetworkInformationException or PlatformNotSupportedException)
            {
                // Unknown: the local stack's EMSGSIZE stays the only local limit.
            }

            return result;
        }

        private static int Mtu(NetworkInterface nic)
        {
            try
            {
                var properties = nic.GetIPProperties();
                return nic.Supports(NetworkInterfaceComponent.IPv4) ? properties.GetIPv4Properties().Mtu : properties.GetIPv6Properties().Mtu;
            }
            catch (Exception ex) when (ex is NetworkInformationException or PlatformNotSupportedException or InvalidOperationException)
            {
                return 0;
            }
        }
    }
}
