using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// The working part of a <see cref="TouSocketConnection"/>: the pipes, the two pumps that move bytes between
/// them and the engine, and the engine's events. The endpoint, the engine (through its Context) and the pumps
/// reference this, never the application's handle, so a handle the application forgets can be finalized and the
/// connection released, as a forgotten <see cref="System.Net.Sockets.Socket"/> is.
/// </summary>
internal sealed class TouConnectionCore
{
    private const int MaxCopyPerFlush = 64 * 1024;

    private readonly TouSocketEndpoint _endpoint;
    private readonly TouConnection _engine;
    private readonly bool _ownsEndpoint;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly AsyncSignal _readable = new();
    private readonly AsyncSignal _writable = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closed = new();
    private int _pumpsStarted;
    private long _establishedTimestamp; // Stopwatch timestamp of the handshake's completion, for tou.connection.duration
    private int _closedByApplication;
    private bool _isClosed;
    private Exception? _abortReason;
    private RemoteSnapshot _remote; // the engine's remote address and its IPEndPoint, replaced together

    // The receive pump's hand-over, all under the endpoint's gate. While the pump waits for a signal with nothing left
    // to copy (_receivePumpIdle), the thread that handles the engine's events (the receive loop) copies newly readable
    // bytes into the input pipe itself, saving a thread hop and a second pass through the lock per batch; whatever
    // needs waiting (a flush held by backpressure, the end of the stream, an error) is handed back to the pump.
    private bool _receivePumpIdle;
    private bool _discardReceived; // the application stopped reading but keeps the connection; keep the peer flowing
    private ValueTask<FlushResult>? _pendingFlush; // an inline flush that did not complete at once; the pump awaits it

    // The send pump's hand-over, under the gate too: while the pump waits for the engine's send buffer to drain
    // (_sendPumpParked), the thread that handles the acknowledgements freeing it moves the application's next bytes from
    // the output pipe into the engine itself, instead of waking the pump on the thread pool once per acknowledgement.
    private bool _sendPumpParked;

    public TouConnectionCore(TouSocketEndpoint endpoint, TouConnection engine, IPEndPoint local, IPEndPoint remote, bool ownsEndpoint)
    {
        _endpoint = endpoint;
        _engine = engine;
        _ownsEndpoint = ownsEndpoint;
        LocalEndPoint = local;
        _remote = new RemoteSnapshot(engine.RemoteAddress, remote);
        var options = endpoint.Options;
        var pool = options.MemoryPool ?? MemoryPool<byte>.Shared;
        _input = new Pipe(new PipeOptions(pool, pauseWriterThreshold: options.InputPauseThreshold, resumeWriterThreshold: options.InputPauseThreshold / 2, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: options.OutputPauseThreshold, resumeWriterThreshold: options.OutputPauseThreshold / 2, useSynchronizationContext: false));
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        engine.Context = this;
        if (engine.State == TouConnectionState.Established)
        {
            OnConnected(); // accepted: the handshake is done already
        }
    }

    public IDuplexPipe Transport { get; }

    public IPEndPoint LocalEndPoint { get; private set; }

    /// <summary>The peer's address now: after the engine followed the peer to a validated new address (connection
    /// IDs), the new one.</summary>
    public IPEndPoint RemoteEndPoint
    {
        get
        {
            var snapshot = Volatile.Read(ref _remote);
            var current = _engine.RemoteAddress; // the engine swaps in a new object when the connection moves
            if (!ReferenceEquals(current, snapshot.Address))
            {
                snapshot = new RemoteSnapshot(current, (IPEndPoint)snapshot.EndPoint.Create(current));
                Volatile.Write(ref _remote, snapshot);
            }

            return snapshot.EndPoint;
        }
    }

    private sealed record RemoteSnapshot(System.Net.SocketAddress Address, IPEndPoint EndPoint);

    public TouConnection Engine => _engine;

    /// <summary>Moves a connection that owns its endpoint (a client's) to a new local socket.</summary>
    public async Task RebindAsync(IPEndPoint localEndPoint)
    {
        if (!_ownsEndpoint)
        {
            throw new InvalidOperationException("Only a connection made with TouSocketConnection.ConnectAsync has a socket of its own to move; this one shares its endpoint's.");
        }

        await _endpoint.RebindAsync(_engine, localEndPoint).ConfigureAwait(false);
        LocalEndPoint = _endpoint.LocalEndPoint;
    }

    public TouSocketEndpoint Endpoint => _endpoint;

    public CancellationToken Closed => _closed.Token;

    public Task ConnectedTask => _connected.Task;

    /// <summary>Aborts with RST; pending reads and writes fail with <paramref name="reason"/> or a connection-aborted error.</summary>
    public void Abort(Exception? reason) => _endpoint.Run((this, reason), static s => s.Item1.AbortLocked(s.reason));

    /// <summary>Caller holds the endpoint's gate.</summary>
    public void AbortLocked(Exception? reason)
    {
        _abortReason ??= reason;
        _engine.Abort();
    }

    /// <summary>
    /// The application is done (its handle was disposed or forgotten). Returns at once: the engine delivers what
    /// was written and lingers in the background (<see cref="TouConnection.Close"/>); a connection that never
    /// connected is aborted. An endpoint the connection owns is disposed too, which closes its socket once the
    /// lingering is over.
    /// </summary>
    public ValueTask CloseByApplicationAsync()
    {
        if (Interlocked.Exchange(ref _closedByApplication, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        _endpoint.Run(this, static c =>
        {
            if (Volatile.Read(ref c._pumpsStarted) == 0)
            {
                c._engine.Abort();
            }
            else if (c._engine.CloseReason == TouCloseReason.None)
            {
                c._engine.Close(TouSocketEndpoint.Now());
            }
        });

        // The send pump hands over what is still in the output pipe, then the FIN; nobody reads the input any more.
        // A read or flush still pending (another thread of the application, e.g. HttpClient's) returns now.
        _input.Reader.CancelPendingRead();
        _output.Writer.CancelPendingFlush();
        _output.Writer.Complete();
        _input.Reader.Complete();
        return _ownsEndpoint ? _endpoint.DisposeAsync() : ValueTask.CompletedTask;
    }

    /// <summary>The application's handle was finalized without being disposed.</summary>
    public void ReleaseForgotten() =>
        ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.CloseByApplicationAsync().AsTask(), this, preferLocal: false);

    /// <summary>Engine events for this connection; called under the endpoint's gate.</summary>
    public void OnEvents(TouConnectionEvents events)
    {
        if ((events & TouConnectionEvents.Connected) != 0)
        {
            OnConnected();
        }

        if ((events & (TouConnectionEvents.Readable | TouConnectionEvents.ReceiveCompleted | TouConnectionEvents.Closed)) != 0)
        {
            if (!_receivePumpIdle || !TryDeliverInline())
            {
                _readable.Set();
            }
        }

        if ((events & (TouConnectionEvents.Writable | TouConnectionEvents.Closed)) != 0
            && ((events & TouConnectionEvents.Closed) != 0 || !_sendPumpParked || !TryWriteInline()))
        {
            _sendPumpParked = false;
            _writable.Set();
        }

        if ((events & TouConnectionEvents.Closed) != 0 && !_isClosed)
        {
            _isClosed = true;
            var reason = _engine.CloseReason;
            _connected.TrySetException(CreateException(reason));
            _endpoint.Metrics.ConnectionClosed(_engine.IsClient, reason, Volatile.Read(ref _establishedTimestamp));

            // Cancellation callbacks run synchronously; keep them off the endpoint's lock.
            ThreadPool.UnsafeQueueUserWorkItem(static c => c._closed.Cancel(), this, preferLocal: false);
        }
    }

    private void OnConnected()
    {
        if (Interlocked.Exchange(ref _pumpsStarted, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _establishedTimestamp, Math.Max(1, System.Diagnostics.Stopwatch.GetTimestamp()));
        _endpoint.Metrics.ConnectionOpened(_engine.IsClient);
        _ = Task.Run(ReceivePumpAsync);
        _ = Task.Run(SendPumpAsync);
        _connected.TrySetResult();
    }

    private Exception CreateException(TouCloseReason reason)
    {
        if (reason == TouCloseReason.Aborted && _abortReason is not null)
        {
            return _abortReason;
        }

        var protocol = _endpoint.Options.Protocol;
        string message = reason switch
        {
            TouCloseReason.ResetByPeer => $"The TOU connection to {RemoteEndPoint} was reset by the peer.",
            TouCloseReason.Aborted => $"The TOU connection to {RemoteEndPoint} was aborted.",
            TouCloseReason.Refused => $"The TOU connection to {RemoteEndPoint} was refused.",
            TouCloseReason.HandshakeTimeout => $"No TOU handshake with {RemoteEndPoint} within {protocol.HandshakeTimeout.TotalSeconds:0.#} s.",
            TouCloseReason.RetransmissionTimeout => $"The TOU connection to {RemoteEndPoint} stopped making progress: data went unacknowledged through {protocol.MaxRetransmissions} retransmission timeouts.",
            TouCloseReason.IdleTimeout => $"Nothing was heard from {RemoteEndPoint} for {protocol.IdleTimeout.TotalSeconds:0.#} s; the TOU connection timed out.",
            TouCloseReason.LingerTimeout => $"The TOU connection to {RemoteEndPoint} was closed by the application and its data went unacknowledged for {protocol.LingerTimeout.TotalSeconds:0.#} s; it was reset.",
            _ => $"The TOU connection to {RemoteEndPoint} ended ({reason}).",
        };
        return _endpoint.Options.ExceptionFactory(reason, message);
    }

    /// <summary>
    /// Under the gate, with the pump idle: copies what is readable into the input pipe and flushes. Returns false when
    /// the pump has to take over (a flush waiting on backpressure, the end of the stream, an error); the pump is then no
    /// longer idle and owns the writer again.
    /// </summary>
    private bool TryDeliverInline()
    {
        while (true)
        {
            var (copied, readCompleted, reason) = CopyReceived(_discardReceived);
            if (copied > 0 && !_discardReceived)
            {
                var flush = _input.Writer.FlushAsync();
                if (!flush.IsCompletedSuccessfully)
                {
                    _pendingFlush = flush;
                    _receivePumpIdle = false;
                    return false;
                }

                _discardReceived |= flush.Result.IsCompleted;
            }

            if (readCompleted || reason is not TouCloseReason.None and not TouCloseReason.Graceful)
            {
                _receivePumpIdle = false;
                return false;
            }

            if (copied == 0)
            {
                return true;
            }
        }
    }

    /// <summary>Moves received bytes from the engine into the input pipe; waiting on the pipe is the backpressure.
    /// While it waits for a signal, the event handler copies inline (<see cref="TryDeliverInline"/>).</summary>
    private async Task ReceivePumpAsync()
    {
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                await _readable.WaitAsync().ConfigureAwait(false);
                while (true)
                {
                    var (pending, copied, readCompleted, reason, discard) = _endpoint.Run(this, static c => c.TakeForPump());
                    if (pending is { } flushing)
                    {
                        if ((await flushing.ConfigureAwait(false)).IsCompleted)
                        {
                            _endpoint.Run(this, static c => c._discardReceived = true);
                        }

                        continue;
                    }

                    if (copied > 0 && !discard && (await writer.FlushAsync().ConfigureAwait(false)).IsCompleted)
                    {
                        _endpoint.Run(this, static c => c._discardReceived = true);
                    }

                    if (readCompleted)
                    {
                        await writer.CompleteAsync().ConfigureAwait(false);
                        return;
                    }

                    if (copied > 0)
                    {
                        // Data that arrived before an RST goes into the pipe before the reset completes it; but a pipe
                        // completed with an error reports the error before unread data, so a reader that has not read
                        // it by then loses it (as with Kestrel's socket transport, and TCP's ECONNRESET).
                        continue;
                    }

                    if (reason is not TouCloseReason.None and not TouCloseReason.Graceful)
                    {
                        await writer.CompleteAsync(CreateException(reason)).ConfigureAwait(false);
                        return;
                    }

                    break;
                }
            }
        }
        catch (Exception ex)
        {
            _endpoint.Run(this, static c => c._receivePumpIdle = false);
            await writer.CompleteAsync(ex).ConfigureAwait(false);
        }
    }

    /// <summary>Caller holds the gate. The pump's next step: a flush handed over by the inline path, or a copy; with
    /// nothing to copy and nothing ending, the pump goes idle and the event handler copies until it hands back.</summary>
    private (ValueTask<FlushResult>? Pending, int Copied, bool ReadCompleted, TouCloseReason Reason, bool Discard) TakeForPump()
    {
        _receivePumpIdle = false;
        if (_pendingFlush is { } pending)
        {
            _pendingFlush = null;
            return (pending, 0, false, TouCloseReason.None, _discardReceived);
        }

        var (copied, readCompleted, reason) = CopyReceived(_discardReceived);
        _receivePumpIdle = copied == 0 && !readCompleted && reason is TouCloseReason.None or TouCloseReason.Graceful;
        return (null, copied, readCompleted, reason, _discardReceived);
    }

    /// <summary>Caller holds the gate.</summary>
    private (int Copied, bool ReadCompleted, TouCloseReason Reason) CopyReceived(bool discard)
    {
        int copied = 0;
        var writer = _input.Writer;
        while (copied < MaxCopyPerFlush && !_engine.IsClosedByApplication)
        {
            var source = _engine.PeekReadable(MaxCopyPerFlush - copied);
            if (source.IsEmpty)
            {
                break;
            }

            int n = source.Length;
            if (!discard)
            {
                var destination = writer.GetSpan(source.Length);
                n = Math.Min(n, destination.Length);
                source[..n].CopyTo(destination);
                writer.Advance(n);
            }

            _engine.Consume(n);
            copied += n;
        }

        return (copied, _engine.IsReadCompleted || _engine.IsClosedByApplication, _engine.CloseReason);
    }

    /// <summary>Moves the application's writes into the engine as its send buffer allows, then the FIN.</summary>
    private async Task SendPumpAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var (reason, parked) = _endpoint.Run((this, result.Buffer), static s => s.Item1.WriteFromPump(s.Item2));
                if (reason != TouCloseReason.None)
                {
                    // Nothing more can be sent; the application's next flush sees the pipe completed.
                    await reader.CompleteAsync(reason == TouCloseReason.Graceful ? null : CreateException(reason)).ConfigureAwait(false);
                    return;
                }

                if (parked)
                {
                    await _writable.WaitAsync().ConfigureAwait(false); // the engine's send buffer is full

                    // The signal may be an old one, set before the pump parked: unpark before reading, so that no
                    // acknowledgement reads the pipe inline while the pump does.
                    _endpoint.RunLocked(this, static c => c._sendPumpParked = false);
                    continue;
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    _endpoint.Run(_engine, static e =>
                    {
                        if (e.State != TouConnectionState.Closed)
                        {
                            e.CloseSend();
                        }
                    });
                    await reader.CompleteAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            await reader.CompleteAsync(ex).ConfigureAwait(false);
        }
    }

    /// <summary>Caller holds the gate. Hands what the pump read to the engine and consumes it from the pipe; parks the pump
    /// when the engine could not take it all (acknowledgements then continue inline, <see cref="TryWriteInline"/>).</summary>
    private (TouCloseReason Reason, bool Parked) WriteFromPump(ReadOnlySequence<byte> buffer)
    {
        var (accepted, reason) = buffer.IsEmpty ? (0, _engine.CloseReason) : WriteToEngine(_engine, buffer);
        if (reason != TouCloseReason.None)
        {
            return (reason, false);
        }

        _output.Reader.AdvanceTo(buffer.GetPosition(accepted));
        _sendPumpParked = accepted < buffer.Length;
        return (reason, _sendPumpParked);
    }

    /// <summary>
    /// Caller holds the gate, the pump is parked and the engine has room: moves what the application has written since
    /// into the engine. True while the pump stays parked (the engine's buffer filled again); false when the pump has to
    /// take over (the pipe ran dry, the end of the stream, an error).
    /// </summary>
    private bool TryWriteInline()
    {
        var reader = _output.Reader;
        if (!reader.TryRead(out var result))
        {
            return false;
        }

        var buffer = result.Buffer;
        var (accepted, reason) = WriteToEngine(_engine, buffer);
        reader.AdvanceTo(buffer.GetPosition(accepted));
        return reason == TouCloseReason.None && accepted < buffer.Length;
    }

    private static (long Accepted, TouCloseReason Reason) WriteToEngine(TouConnection engine, ReadOnlySequence<byte> buffer)
    {
        if (engine.CloseReason != TouCloseReason.None || engine.WritableBytes == 0)
        {
            return (0, engine.CloseReason);
        }

        long accepted = 0;
        foreach (var segment in buffer)
        {
            int n = engine.Write(segment.Span);
            accepted += n;
            if (n < segment.Length)
            {
                break;
            }
        }

        return (accepted, TouCloseReason.None);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
