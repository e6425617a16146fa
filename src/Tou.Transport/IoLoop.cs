using System.Diagnostics;
using System.Net.Sockets;
using Tou.Protocol;
using Interop = Tou.Transport.LinuxSocketInterop;

namespace Tou.Transport;

/// <summary>
/// One thread that owns the receiving and the deadlines of many sockets (Linux): it waits in <c>epoll_pwait2</c> until a
/// socket has datagrams or the earliest deadline of its sockets' owners comes, to the microsecond, and calls the owner on
/// this thread. Compared with an async receive per socket plus a timer per endpoint, a batch of datagrams costs no hop
/// from .NET's epoll thread to the thread pool, and pacing deadlines are met within the kernel's timer slack rather than
/// the timer's millisecond. Other threads change deadlines (an application's write may start pacing) and wake the loop
/// through an eventfd only when it would otherwise sleep past the new deadline.
/// </summary>
/// <remarks>Loops live as long as the process, like .NET's own socket engine threads; an idle one sleeps in the kernel.
/// Deadlines are found by scanning the loop's registrations (a listener shard, or one per client connection) at each
/// wake-up: a few nanoseconds each, against a system call per wake-up; a client process with thousands of connections
/// per core would want a heap here instead.</remarks>
internal sealed unsafe class IoLoop
{
    private const uint WakeToken = uint.MaxValue;
    private const int MaxEvents = 64;
    private const long Awake = long.MinValue; // _sleepUntilUs while the loop runs: it looks at every deadline before sleeping

    /// <summary>
    /// How late the loop may serve a deadline, as the kernel's timer slack lets a sleeping thread wake late: a paced
    /// connection is then woken once per this much time at most, and sends what its pacer allowed meanwhile, instead of
    /// being woken once per segment (hundreds of thousands of times a second at gigabit rates). Small against any RTT or
    /// delayed-acknowledgement timer; the engine itself stays exact, so simulations do not see it.
    /// </summary>
    public const long SlackUs = 200;

    private readonly Lock _registrationsLock = new();
    private readonly int _epoll;
    private readonly int _wakeFd;
    private readonly byte[] _events = GC.AllocateArray<byte>(MaxEvents * Interop.EpollEventSize, pinned: true);
    private IoLoopRegistration?[] _byToken = new IoLoopRegistration?[4];
    private IoLoopRegistration[] _registered = []; // replaced, never changed in place: the loop reads it without the lock
    private long _sleepUntilUs = Awake;
    private int _wakePending;
    private Thread? _thread;

    public IoLoop(int index)
    {
        Index = index;
        (_epoll, _wakeFd) = Interop.CreateEpoll(WakeToken);
    }

    public int Index { get; }

    /// <summary>Sockets registered now.</summary>
    public int Count => Volatile.Read(ref _registered).Length;

    /// <summary>Wake-ups other threads asked for through the eventfd (for figures).</summary>
    public long WakeSignals => Volatile.Read(ref _wakeSignals);

    private long _wakeSignals;

    /// <summary>Returns from the kernel's wait (for figures).</summary>
    public long Wakeups { get; private set; }

    /// <summary>Calls for queued datagrams (for figures).</summary>
    public long ReadableCalls { get; private set; }

    /// <summary>Calls for deadlines that came (for figures).</summary>
    public long DeadlineCalls { get; private set; }

    /// <summary>Starts watching <paramref name="receiver"/>'s socket for <paramref name="client"/>.</summary>
    public IoLoopRegistration Register(IIoLoopClient client, Socket socket, UdpDatagramReceiver receiver)
    {
        lock (_registrationsLock)
        {
            uint token = (uint)Array.IndexOf(_byToken, null);
            if (token == uint.MaxValue)
            {
                token = (uint)_byToken.Length;
                Array.Resize(ref _byToken, _byToken.Length * 2);
            }

            var registration = new IoLoopRegistration(this, client, socket, receiver, token);
            if (!Interop.TryEpollAdd(_epoll, registration.Descriptor, token))
            {
                registration.Release();
                throw new SocketException((int)SocketError.SocketError);
            }

            _byToken[token] = registration;
            Volatile.Write(ref _registered, [.. _registered, registration]);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = $"TOU I/O loop {Index}" };
                _thread.UnsafeStart();
            }

            return registration;
        }
    }

    /// <summary>Stops watching the socket; once this returns, the loop starts no new call for it (one under way may finish).</summary>
    public void Unregister(IoLoopRegistration registration)
    {
        lock (_registrationsLock)
        {
            if (registration.IsRemoved)
            {
                return;
            }

            Interop.EpollRemove(_epoll, registration.Descriptor);
            _byToken[registration.Token] = null;
            Volatile.Write(ref _registered, Array.FindAll(_registered, r => !ReferenceEquals(r, registration)));
            registration.Release();
        }
    }

    /// <summary>Wakes the loop when it sleeps past <paramref name="dueUs"/> (called after the deadline was published).</summary>
    internal void WakeIfSleepingPast(long dueUs)
    {
        if (dueUs < Volatile.Read(ref _sleepUntilUs) && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            Interlocked.Increment(ref _wakeSignals);
            Interop.SignalEventFd(_wakeFd);
        }
    }

    private void Run()
    {
        fixed (byte* events = _events)
        {
            while (true)
            {
                long timeoutNs = PrepareToSleep();
                int count = Interop.EpollWait(_epoll, events, MaxEvents, timeoutNs);
                Interlocked.Exchange(ref _sleepUntilUs, Awake);
                Wakeups++;
                for (int i = 0; i < count; i++)
                {
                    uint token = Interop.EpollToken(events, i);
                    if (token == WakeToken)
                    {
                        Volatile.Write(ref _wakePending, 0);
                        Interop.ClearEventFd(_wakeFd);
                    }
                    else if (ReadyRegistration(token) is { } ready)
                    {
                        ReadableCalls++;
                        Call(ready, static r => r.Client.OnReadable(r));
                    }
                }

                RunDueDeadlines();
            }
        }
    }

    /// <summary>Publishes when the loop means to wake, then looks at the deadlines once more (see <see cref="IoLoopRegistration.SetDeadline"/>).</summary>
    private long PrepareToSleep()
    {
        long next = EarliestDeadline();
        Interlocked.Exchange(ref _sleepUntilUs, next);
        next = Math.Min(next, EarliestDeadline());
        if (next == TouTime.Never)
        {
            return -1;
        }

        long now = TouTime.FromStopwatchTimestamp(Stopwatch.GetTimestamp());
        return Math.Max(0, next + SlackUs - now) * 1000;
    }

    private long EarliestDeadline()
    {
        long earliest = TouTime.Never;
        foreach (var registration in Volatile.Read(ref _registered))
        {
            earliest = Math.Min(earliest, registration.DueUs);
        }

        return earliest;
    }

    private void RunDueDeadlines()
    {
        long now = TouTime.FromStopwatchTimestamp(Stopwatch.GetTimestamp());
        foreach (var registration in Volatile.Read(ref _registered))
        {
            if (registration.DueUs <= now && !registration.IsRemoved)
            {
                DeadlineCalls++;
                Call(registration, static r => r.Client.OnDeadline());
            }
        }
    }

    private IoLoopRegistration? ReadyRegistration(uint token)
    {
        var byToken = Volatile.Read(ref _byToken);
        var registration = token < (uint)byToken.Length ? Volatile.Read(ref byToken[token]) : null;
        return registration is { IsRemoved: false } ? registration : null;
    }

    /// <summary>The loops' counters in one line (figures and diagnostics).</summary>
    public override string ToString() =>
        $"loop {Index}: {Count} sockets, {Wakeups} wake-ups, {ReadableCalls} readable, {DeadlineCalls} deadlines, {WakeSignals} wake signals";

    private static void Call(IoLoopRegistration registration, Action<IoLoopRegistration> action)
    {
        try
        {
            action(registration);
        }
        catch (Exception ex)
        {
            try
            {
                registration.Client.OnLoopFault(ex);
            }
            catch
            {
                // The loop serves other sockets; a fault handler that throws must not end it.
            }
        }
    }
}
