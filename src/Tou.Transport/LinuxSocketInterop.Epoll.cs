using System.Runtime.InteropServices;

namespace Tou.Transport;

// The I/O loop's system calls: an epoll set of sockets plus an eventfd that other threads write to wake the loop, and
// epoll_pwait2, whose timeout is in nanoseconds (epoll_wait's milliseconds cannot pace at gigabit rates). .NET exposes
// none of these; its own epoll engine hands every readiness to the thread pool, which costs a thread hop per batch.
internal static unsafe partial class LinuxSocketInterop
{
    public const uint EpollIn = 0x001;      // EPOLLIN
    private const int EpollCtlAdd = 1;      // EPOLL_CTL_ADD
    private const int EpollCtlDel = 2;      // EPOLL_CTL_DEL
    private const int EpollCloexec = 0x80000; // EPOLL_CLOEXEC (= O_CLOEXEC)
    private const int EfdNonblock = 0x800;  // EFD_NONBLOCK (= O_NONBLOCK)
    private const int EfdCloexec = 0x80000; // EFD_CLOEXEC

    /// <summary>Bytes per <c>struct epoll_event</c>: packed to 12 on x86-64 (the kernel's ABI there), 16 elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Where the 64-bit data field starts in an event.</summary>
    private static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public nint Seconds;
        public nint Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", EntryPoint = "epoll_pwait2", SetLastError = true)]
    private static partial int EpollPwait2(int epfd, byte* events, int maxEvents, TimeSpec* timeout, void* sigmask);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWaitMs(int epfd, byte* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    private static bool s_noPwait2; // the C library predates epoll_pwait2 (glibc < 2.35): millisecond waits

    /// <summary>A new epoll set and the eventfd that wakes it (registered with <paramref name="wakeToken"/>).</summary>
    /// <exception cref="DllNotFoundException">No C library (not Linux).</exception>
    public static (int Epoll, int WakeFd) CreateEpoll(uint wakeToken)
    {
        int epoll = EpollCreate1(EpollCloexec);
        if (epoll < 0)
        {
            throw new InvalidOperationException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        int wake = EventFd(0, EfdNonblock | EfdCloexec);
        if (wake < 0 || !TryEpollAdd(epoll, wake, wakeToken))
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(epoll);
            throw new InvalidOperationException($"eventfd for the I/O loop failed (errno {errno}).");
        }

        return (epoll, wake);
    }

    /// <summary>Adds <paramref name="fd"/> to the set, level-triggered for input, reported with <paramref name="token"/>.</summary>
    public static bool TryEpollAdd(int epoll, int fd, uint token)
    {
        byte* ev = stackalloc byte[16];
        new Span<byte>(ev, 16).Clear();
        *(uint*)ev = EpollIn;
        *(ulong*)(ev + EpollDataOffset) = token;
        return EpollCtl(epoll, EpollCtlAdd, fd, ev) == 0;
    }

    /// <summary>Removes <paramref name="fd"/> from the set (a descriptor already closed left it by itself).</summary>
    public static void EpollRemove(int epoll, int fd)
    {
        byte* ev = stackalloc byte[16]; // kernels before 2.6.9 wanted a non-null event even for a removal
        EpollCtl(epoll, EpollCtlDel, fd, ev);
    }

    /// <summary>
    /// Waits for readiness at most <paramref name="timeoutNs"/> nanoseconds (negative: without limit; 0: a poll). Returns
    /// how many events <paramref name="events"/> holds; 0 on timeout or a signal.
    /// </summary>
    public static int EpollWait(int epoll, byte* events, int maxEvents, long timeoutNs)
    {
        int n;
        if (!s_noPwait2)
        {
            try
            {
                var timeout = new TimeSpec { Seconds = (nint)(timeoutNs / 1_000_000_000), Nanoseconds = (nint)(timeoutNs % 1_000_000_000) };
                n = EpollPwait2(epoll, events, maxEvents, timeoutNs < 0 ? null : &timeout, null);
            }
            catch (EntryPointNotFoundException)
            {
                s_noPwait2 = true;
                return 0; // the caller waits again
            }
        }
        else
        {
            n = EpollWaitMs(epoll, events, maxEvents, timeoutNs < 0 ? -1 : (int)Math.Min(int.MaxValue, (timeoutNs + 999_999) / 1_000_000));
        }

        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EIntr)
            {
                throw new InvalidOperationException($"epoll_wait failed (errno {errno}).");
            }

            return 0;
        }

        return n;
    }

    /// <summary>The token of the <paramref name="index"/>th event filled by <see cref="EpollWait"/>.</summary>
    public static uint EpollToken(byte* events, int index) => (uint)*(ulong*)(events + (index * EpollEventSize) + EpollDataOffset);

    /// <summary>Wakes a loop waiting on the eventfd's epoll set.</summary>
    public static void SignalEventFd(int fd)
    {
        ulong one = 1;
        Write(fd, &one, sizeof(ulong)); // EAGAIN only when the counter is saturated, and then the loop wakes anyway
    }

    /// <summary>Resets the eventfd after a wake-up.</summary>
    public static void ClearEventFd(int fd)
    {
        ulong value;
        Read(fd, &value, sizeof(ulong));
    }
}
