using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// One socket on an <see cref="IoLoop"/>: its receiver, its owner and the owner's next deadline. The socket's descriptor is
/// held (reference-counted) while registered, so a number the kernel reuses for another socket is never waited on by mistake.
/// </summary>
internal sealed class IoLoopRegistration
{
    private long _dueUs = TouTime.Never;
    private bool _handleAdded;

    internal IoLoopRegistration(IoLoop loop, IIoLoopClient client, Socket socket, UdpDatagramReceiver receiver, uint token)
    {
        Loop = loop;
        Client = client;
        Socket = socket;
        Receiver = receiver;
        Token = token;
        socket.SafeHandle.DangerousAddRef(ref _handleAdded);
        Descriptor = (int)socket.SafeHandle.DangerousGetHandle();
    }

    public IoLoop Loop { get; }

    public IIoLoopClient Client { get; }

    public Socket Socket { get; }

    public UdpDatagramReceiver Receiver { get; }

    internal uint Token { get; }

    internal int Descriptor { get; }

    /// <summary>Set once <see cref="IoLoop.Unregister"/> has run: the loop calls nothing more.</summary>
    internal bool IsRemoved { get; private set; }

    /// <summary>The owner's next deadline (<see cref="TouTime"/> microseconds; <see cref="TouTime.Never"/> for none).</summary>
    public long DueUs => Volatile.Read(ref _dueUs);

    /// <summary>
    /// Sets when <see cref="IIoLoopClient.OnDeadline"/> runs next, from any thread; wakes the loop when it sleeps past it.
    /// The full fence orders this write before the read of the loop's sleep time, against the loop's write of that time
    /// before its last look at the deadlines: either the loop sees this deadline, or this sees that it must wake the loop.
    /// </summary>
    public void SetDeadline(long dueUs)
    {
        Interlocked.Exchange(ref _dueUs, dueUs);
        Loop.WakeIfSleepingPast(dueUs);
    }

    internal void Release()
    {
        IsRemoved = true;
        if (_handleAdded)
        {
            _handleAdded = false;
            Socket.SafeHandle.DangerousRelease();
        }
    }
}
