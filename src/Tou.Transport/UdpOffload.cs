using System.Net.Sockets;

namespace Tou.Transport;

/// <summary>
/// The Linux UDP offload socket options .NET does not wrap, in one place: segmentation on send (GSO, UDP_SEGMENT)
/// and coalescing on receive (GRO, UDP_GRO). Each reports whether the kernel took it; callers fall back to one
/// datagram per system call where it did not.
/// </summary>
internal static class UdpOffload
{
    private const int SolUdp = LinuxSocketInterop.SolUdp; // IPPROTO_UDP
    private const int UdpSegment = 103;  // UDP_SEGMENT
    private const int UdpGro = LinuxSocketInterop.UdpGro; // UDP_GRO

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Asks the kernel to coalesce back-to-back datagrams from one sender into one receive.</summary>
    public static bool TryEnableGro(Socket socket) => IsSupported && LinuxSocketInterop.TrySetIntOption(socket, SolUdp, UdpGro, 1);

    /// <summary>Sets the segment size the kernel cuts every following send into (0: no segmentation).</summary>
    public static bool TrySetGsoSegment(Socket socket, int size) => IsSupported && LinuxSocketInterop.TrySetIntOption(socket, SolUdp, UdpSegment, size);
}
