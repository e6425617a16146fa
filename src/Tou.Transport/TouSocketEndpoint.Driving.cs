using System.Net;
using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport;

// What makes the engine run: datagrams arriving and deadlines coming. On Linux an I/O loop thread (IoLoop) waits for both
// in one epoll_pwait2 and calls in here; elsewhere an async receive loop and a System.Threading.Timer do the same job, with
// a thread-pool hop per batch and the timer's millisecond. Either way the work happens under the endpoint's gate.
public sealed partial class TouSocketEndpoint : IIoLoopClient
{
    private readonly IoLoop? _loop;          // null: the portable driving below
    private IoLoopRegistration? _registration; // the socket's place on _loop; replaced by RebindAsync, under the gate
    private Timer? _timer;                   // the portable path's
    private Task _receiveLoop = Task.CompletedTask; // the portable path's
    private long _timerDueUs = TouTime.Never;

    /// <summary>Whether an I/O loop thread drives this endpoint (false: an async receive loop and a timer).</summary>
    internal bool UsesIoLoop => _loop is not null;

    /// <summary>Starts receiving on <paramref name="socket"/>; the caller holds the gate or is the constructor.</summary>
    private void StartReceiving(Socket socket, UdpDatagramReceiver receiver)
    {
        if (_loop is not null)
        {
            _registration = _loop.Register(this, socket, receiver);
            return;
        }

        _timer ??= new Timer(static state => ((TouSocketEndpoint)state!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
        _receiveLoop = Task.Run(() => ReceiveLoopAsync(receiver));
    }

    /// <summary>Stops receiving on the current socket and returns the portable loop to await (done on the I/O loop's path).</summary>
    private Task StopReceiving()
    {
        if (_registration is { } registration)
        {
            registration.Loop.Unregister(registration);
        }

        return _receiveLoop;
    }

    void IIoLoopClient.OnReadable(IoLoopRegistration registration)
    {
        if (!HandleReadable(registration.Receiver))
        {
            registration.Loop.Unregister(registration); // closed or moved: the socket's datagrams are nobody's now
        }
    }

    void IIoLoopClient.OnDeadline() => OnTimer();

    void IIoLoopClient.OnLoopFault(Exception exception) => Log.LoopFault(_logger, exception);

    /// <summary>Receives on <paramref name="receiver"/>'s socket until the endpoint closes or moves to another socket.</summary>
    private async Task ReceiveLoopAsync(UdpDatagramReceiver receiver)
    {
        var token = _shutdown.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await receiver.WaitAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                // ICMP errors surface as a failed receive (a connected socket's always); the socket itself is fine.
                OnReceiveFailed(ex);
                continue;
            }

            if (!HandleReadable(receiver))
            {
                break;
            }
        }
    }

    /// <summary>Handles what is queued on <paramref name="receiver"/> (bounded, so acknowledgements and deadlines are not
    /// held up), then sends and dispatches once. False when the endpoint closed or moved to another socket.</summary>
    private bool HandleReadable(UdpDatagramReceiver receiver)
    {
        lock (_gate)
        {
            if (_disposed || !ReferenceEquals(receiver, _receiver))
            {
                return false;
            }

            long now = Now();
            try
            {
                receiver.Drain(new EngineSink(_engine, Metrics, now), MaxDatagramsPerWakeup);
            }
            catch (SocketException ex)
            {
                OnReceiveFailedLocked(ex);
            }

            AfterEngineWork(now);
            return true;
        }
    }

    private void OnReceiveFailed(SocketException error)
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                OnReceiveFailedLocked(error);
                AfterEngineWork(Now());
            }
        }
    }

    /// <summary>Caller holds the gate.</summary>
    private void OnReceiveFailedLocked(SocketException error)
    {
        Log.ReceiveFailed(_logger, error.SocketErrorCode);
        if (error.SocketErrorCode == SocketError.ConnectionRefused)
        {
            OnPortUnreachable();
        }
    }

    /// <summary>The engine's input as the receiver's sink: datagrams the kernel split exactly go in one by one.</summary>
    private readonly struct EngineSink(TouEndpoint engine, TouInstruments metrics, long now) : IDatagramSink
    {
        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source, int segmentSize)
        {
            metrics.DatagramReceived(datagram.Length);
            if (segmentSize == UdpDatagramReceiver.UnknownSegmentSize)
            {
                engine.HandleCoalesced(now, source, datagram); // coalesced at an unknown size: the engine cuts by its headers
            }
            else
            {
                engine.HandleDatagram(now, source, datagram);
            }
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                _registration?.SetDeadline(TouTime.Never);
                return;
            }

            long now = Now();
            long due = _registration?.DueUs ?? _timerDueUs;
            if (due != TouTime.Never)
            {
                TimerLateness.Record(due, now);
            }

            _timerDueUs = TouTime.Never;
            _engine.HandleTimeouts(now);
            AfterEngineWork(now);
        }
    }

    /// <summary>Tells the driver the engine's next deadline. Caller holds the gate.</summary>
    private void RescheduleTimer(long now)
    {
        long due = _engine.NextDeadline;
        if (_registration is { } registration)
        {
            if (due != registration.DueUs)
            {
                registration.SetDeadline(due); // exact: the loop sleeps until the earliest of its sockets' deadlines
            }

            return;
        }

        // A later deadline leaves the earlier timer in place: it fires, finds nothing due and re-arms.
        if (due == TouTime.Never || due >= _timerDueUs || _timer is null)
        {
            return;
        }

        _timerDueUs = due;
        long delayMs = Math.Max(0, (due - now + 999) / 1000);
        _timer.Change(delayMs, Timeout.Infinite);
    }
}
