using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport.Tests;

/// <summary>
/// The I/O loop thread (Linux): it calls a socket's owner when datagrams are queued and when the owner's deadline comes,
/// a deadline set from another thread wakes it from a long sleep, and nothing is called after a socket is unregistered.
/// </summary>
public class IoLoopTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>Counts and signals the loop's calls; drains what the socket has so level-triggered readiness ends.</summary>
    private sealed class RecordingClient : IIoLoopClient
    {
        private TaskCompletionSource _readable = NewSignal();
        private TaskCompletionSource _deadline = NewSignal();

        public int ReadableCalls;
        public int DeadlineCalls;
        public int DatagramsDrained;
        public Exception? Fault;

        public Task Readable => Volatile.Read(ref _readable).Task;

        public Task Deadline => Volatile.Read(ref _deadline).Task;

        public IoLoopRegistration? Registration { get; set; }

        public void ResetSignals()
        {
            Volatile.Write(ref _readable, NewSignal());
            Volatile.Write(ref _deadline, NewSignal());
        }

        public void OnReadable(IoLoopRegistration registration)
        {
            Interlocked.Increment(ref ReadableCalls);
            Interlocked.Add(ref DatagramsDrained, registration.Receiver.Drain(new DiscardSink(), 64));
            Volatile.Read(ref _readable).TrySetResult();
        }

        public void OnDeadline()
        {
            Interlocked.Increment(ref DeadlineCalls);
            Registration!.SetDeadline(TouTime.Never); // served: no deadline until the test sets one
            Volatile.Read(ref _deadline).TrySetResult();
        }

        public void OnLoopFault(Exception exception) => Fault = exception;

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly struct DiscardSink : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize)
        {
        }
    }

    private static long NowUs() => TouTime.FromStopwatchTimestamp(Stopwatch.GetTimestamp());

    /// <summary>Whether this system has I/O loops; on Linux they must exist (elsewhere LoopbackTests cover the portable driving).</summary>
    private static bool LoopsExist()
    {
        Assert.True(IoLoopGroup.Shared is not null || !OperatingSystem.IsLinux(), "Linux has epoll: the I/O loops must exist");
        return IoLoopGroup.Shared is not null;
    }

    private static Socket BoundSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    [Fact]
    public async Task Datagrams_and_deadlines_reach_the_owner_on_the_loop_and_stop_after_unregistering()
    {
        if (!LoopsExist())
        {
            return;
        }

        using var socket = BoundSocket();
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var receiver = new UdpDatagramReceiver(socket, useGro: false, datagramBufferSize: 2048);
        var client = new RecordingClient();
        var loop = IoLoopGroup.Shared!.Next();
        var registration = loop.Register(client, socket, receiver);
        client.Registration = registration;

        // Datagrams: the loop drains them through the owner.
        for (int i = 0; i < 3; i++)
        {
            sender.SendTo(new byte[100], socket.LocalEndPoint!);
        }

        await client.Readable.WaitAsync(Bound);
        for (int i = 0; i < 100 && Volatile.Read(ref client.DatagramsDrained) < 3; i++)
        {
            client.ResetSignals();
            await client.Readable.WaitAsync(Bound);
        }

        Assert.Equal(3, Volatile.Read(ref client.DatagramsDrained));

        // A deadline set from this thread while the loop sleeps without one: it wakes and calls the owner.
        client.ResetSignals();
        registration.SetDeadline(NowUs() + 1_000);
        await client.Deadline.WaitAsync(Bound);
        Assert.Equal(1, Volatile.Read(ref client.DeadlineCalls));

        // An earlier deadline replacing a far one wakes the loop too (it was asleep until the far one).
        client.ResetSignals();
        registration.SetDeadline(NowUs() + 3_600_000_000);
        registration.SetDeadline(NowUs() + 1_000);
        await client.Deadline.WaitAsync(Bound);
        Assert.Equal(2, Volatile.Read(ref client.DeadlineCalls));

        // Unregistered: a datagram and a deadline reach nobody. Then a probe registration on the same loop proves the
        // loop went round since (its datagram arrives after ours was queued).
        loop.Unregister(registration);
        int readableBefore = Volatile.Read(ref client.ReadableCalls);
        registration.SetDeadline(NowUs());
        sender.SendTo(new byte[100], socket.LocalEndPoint!);
        using var probeSocket = BoundSocket();
        var probe = new RecordingClient();
        probe.Registration = loop.Register(probe, probeSocket, new UdpDatagramReceiver(probeSocket, useGro: false, datagramBufferSize: 2048));
        sender.SendTo(new byte[100], probeSocket.LocalEndPoint!);
        await probe.Readable.WaitAsync(Bound);
        loop.Unregister(probe.Registration);

        Assert.Equal(readableBefore, Volatile.Read(ref client.ReadableCalls));
        Assert.Equal(2, Volatile.Read(ref client.DeadlineCalls));
        Assert.Null(client.Fault);
    }

    [Fact]
    public async Task An_owner_that_throws_is_told_and_the_loop_serves_the_next_call()
    {
        if (!LoopsExist())
        {
            return;
        }

        using var socket = BoundSocket();
        var client = new ThrowingOnceClient();
        var loop = IoLoopGroup.Shared!.Next();
        var registration = loop.Register(client, socket, new UdpDatagramReceiver(socket, useGro: false, datagramBufferSize: 2048));
        client.Registration = registration;
        registration.SetDeadline(NowUs());
        await client.Served.Task.WaitAsync(Bound);
        loop.Unregister(registration);
        Assert.IsType<InvalidOperationException>(client.Fault);
    }

    private sealed class ThrowingOnceClient : IIoLoopClient
    {
        private int _calls;

        public IoLoopRegistration? Registration { get; set; }

        public Exception? Fault { get; private set; }

        public TaskCompletionSource Served { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnReadable(IoLoopRegistration registration)
        {
        }

        public void OnDeadline()
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                throw new InvalidOperationException("the owner's bug");
            }

            Registration!.SetDeadline(TouTime.Never);
            Served.TrySetResult();
        }

        public void OnLoopFault(Exception exception) => Fault = exception;
    }
}
