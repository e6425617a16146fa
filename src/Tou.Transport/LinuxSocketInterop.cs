using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tou.Transport;

/// <summary>
/// The one piece of Linux socket API the receive path calls directly: <c>recvmmsg</c>, which fills many datagrams,
/// their source addresses and control messages in one system call. .NET wraps neither it nor the UDP_GRO control
/// message that tells a coalesced buffer's segment size, so the receiver would otherwise pay one <c>recvmsg</c> per
/// datagram and have to guess where coalesced datagrams end. Layouts follow the LP64 and ILP32 C ABIs through
/// <see cref="nint"/>/<see cref="nuint"/> fields.
/// </summary>
internal static unsafe partial class LinuxSocketInterop
{
    public const int MsgDontWait = 0x40;   // MSG_DONTWAIT
    public const int MsgTrunc = 0x20;      // MSG_TRUNC, in msg_flags: the datagram was larger than its buffer
    public const int SolUdp = 17;          // IPPROTO_UDP as a cmsg level
    public const int UdpGro = 104;         // UDP_GRO as a cmsg type: an int, the segment size of a coalesced buffer
    public const int SockaddrStorageSize = 128;

    /// <summary>Room for the UDP_GRO control message (CMSG_SPACE(sizeof(int)) is 24 on 64-bit) with slack.</summary>
    public const int ControlSize = 64;

    /// <summary>Sets an int-valued socket option .NET does not wrap; false when the kernel refuses it.</summary>
    public static bool TrySetIntOption(Socket socket, int level, int option, int value)
    {
        try
        {
            Span<byte> bytes = stackalloc byte[4];
            BitConverter.TryWriteBytes(bytes, value);
            socket.SetRawSocketOption(level, option, bytes);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private const int EAgain = 11;         // also EWOULDBLOCK on Linux
    private const int EIntr = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;   // bytes received into this message
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    private static partial int RecvMmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    /// <summary>
    /// Receives up to <paramref name="count"/> queued datagrams without waiting. Returns how many (0 when none is
    /// queued); throws <see cref="SocketException"/> for a socket error.
    /// </summary>
    /// <exception cref="DllNotFoundException">No C library to call (the caller falls back to .NET's receives).</exception>
    /// <exception cref="EntryPointNotFoundException">The C library has no recvmmsg.</exception>
    public static int ReceiveMany(SafeHandle socket, MMsgHdr* messages, int count)
    {
        bool added = false;
        socket.DangerousAddRef(ref added); // the descriptor stays ours for the call even if the socket is closed meanwhile
        try
        {
            int fd = (int)socket.DangerousGetHandle();
            while (true)
            {
                int received = RecvMmsg(fd, messages, (uint)count, MsgDontWait, null);
                if (received >= 0)
                {
                    return received;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EAgain)
                {
                    return 0;
                }

                if (errno != EIntr)
                {
                    throw new SocketException((int)ToSocketError(errno));
                }
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>The UDP_GRO segment size in a message's control data, or 0 when the kernel reported none (a lone datagram).</summary>
    public static int GroSegmentSize(byte* control, nuint length)
    {
        nuint headerSize = Align((nuint)sizeof(CMsgHdr));
        nuint offset = 0;
        while (offset + headerSize <= length)
        {
            var header = (CMsgHdr*)(control + offset);
            if (header->Length < headerSize || offset + header->Length > length)
            {
                break;
            }

            if (header->Level == SolUdp && header->Type == UdpGro && header->Length >= headerSize + sizeof(int))
            {
                return *(int*)(control + offset + headerSize);
            }

            offset += Align(header->Length);
        }

        return 0;
    }

    /// <summary>CMSG_ALIGN: control messages start on size_t boundaries.</summary>
    private static nuint Align(nuint length) => (length + (nuint)sizeof(nuint) - 1) & ~((nuint)sizeof(nuint) - 1);

    /// <summary>The errors a UDP receive can report, as .NET names them; the rest as a generic socket error.</summary>
    private static SocketError ToSocketError(int errno) => errno switch
    {
        9 => SocketError.NotSocket,                 // EBADF
        12 or 105 => SocketError.NoBufferSpaceAvailable, // ENOMEM, ENOBUFS
        101 => SocketError.NetworkUnreachable,      // ENETUNREACH
        111 => SocketError.ConnectionRefused,       // ECONNREFUSED
        113 => SocketError.HostUnreachable,         // EHOSTUNREACH
        _ => SocketError.SocketError,
    };
}
