using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tou.Relay;

/// <summary>
/// Wakes one release loop at a given <see cref="Stopwatch"/> timestamp, and lets other threads bring that time forward.
/// On Linux a one-shot <c>timerfd</c>: a high-resolution kernel timer (tens of microseconds late, not the millisecond
/// of .NET's timed waits) that keeps its state between <see cref="Arm"/> and <see cref="Wait"/>, so a wake-up armed
/// before the loop blocks is not lost. Elsewhere an event with millisecond timeouts (coarser, but nothing spins).
/// </summary>
internal sealed partial class ReleaseTimer : IDisposable
{
    private const int ClockMonotonic = 1;
    private const int TfdCloexec = 0x80000;
    private const int EIntr = 4;
    private const int SchedFifo = 1;

    private readonly int _fd = -1;
    private readonly AutoResetEvent? _event;
    private long _fallbackDue = long.MaxValue;

    public ReleaseTimer()
    {
        if (OperatingSystem.IsLinux())
        {
            _fd = TimerFdCreate(ClockMonotonic, TfdCloexec);
        }

        if (_fd < 0)
        {
            _event = new AutoResetEvent(false);
        }
    }

    /// <summary>Makes <see cref="Wait"/> return at <paramref name="dueTimestamp"/> (at once if that has passed), replacing any earlier arming.</summary>
    public void Arm(long dueTimestamp)
    {
        long waitTicks = dueTimestamp - Stopwatch.GetTimestamp();
        if (_event is not null)
        {
            Volatile.Write(ref _fallbackDue, dueTimestamp);
            _event.Set();
            return;
        }

        // A relative time of zero would disarm the timer: one nanosecond fires it at once instead.
        long ns = Math.Max(1, (long)(waitTicks * (1e9 / Stopwatch.Frequency)));
        var spec = new ITimerSpec { ValueSeconds = (nint)(ns / 1_000_000_000), ValueNanoseconds = (nint)(ns % 1_000_000_000) };
        _ = TimerFdSetTime(_fd, 0, in spec, IntPtr.Zero);
    }

    /// <summary>Blocks until the armed time (or until <see cref="Arm"/> brings it forward past now).</summary>
    public void Wait()
    {
        if (_event is null)
        {
            ulong expirations = 0;
            while (Read(_fd, ref expirations, 8) < 0 && Marshal.GetLastPInvokeError() == EIntr)
            {
            }

            return;
        }

        while (true)
        {
            long due = Volatile.Read(ref _fallbackDue);
            long left = due - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                // One-shot like the timerfd; an Arm racing with this keeps its new time.
                Interlocked.CompareExchange(ref _fallbackDue, long.MaxValue, due);
                return;
            }

            long ms = due == long.MaxValue ? Timeout.Infinite : Math.Max(1, left * 1000 / Stopwatch.Frequency);
            _event.WaitOne((int)Math.Min(ms, int.MaxValue));
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = Close(_fd);
        }

        _event?.Dispose();
    }

    /// <summary>
    /// Asks the scheduler to run the calling thread as soon as it wakes, where the process may (root or CAP_SYS_NICE):
    /// the lowest real-time priority (SCHED_FIFO 1), else nice -10. A release thread woken on time still waits for a
    /// core, and on a busy machine that wait is most of its lateness (a nice value does not reach across control groups;
    /// a real-time priority does). It only sends what is due and sleeps again, so it takes little CPU from the endpoints
    /// it serves, and the kernel caps real-time threads below a whole core in any case. Elsewhere nothing changes.
    /// TOU_RELAY_NO_PRIORITY=1 leaves the priority alone (to compare release errors with and without it).
    /// </summary>
    /// <returns>"realtime", "nice" or "normal": what the thread got.</returns>
    public static string TryRaiseCurrentThreadPriority()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("TOU_RELAY_NO_PRIORITY") == "1")
        {
            return "normal";
        }

        try
        {
            int tid = GetTid();
            int priority = 1;
            if (SchedSetScheduler(tid, SchedFifo, in priority) == 0)
            {
                return "realtime";
            }

            return SetPriority(0, tid, -10) == 0 ? "nice" : "normal";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return "normal";
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ITimerSpec
    {
        public nint IntervalSeconds;
        public nint IntervalNanoseconds;
        public nint ValueSeconds;
        public nint ValueNanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "timerfd_create", SetLastError = true)]
    private static partial int TimerFdCreate(int clock, int flags);

    [LibraryImport("libc", EntryPoint = "timerfd_settime", SetLastError = true)]
    private static partial int TimerFdSetTime(int fd, int flags, in ITimerSpec value, IntPtr old);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ref ulong value, nint count);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, in int priority);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
