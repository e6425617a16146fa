using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// A TOU connection over a <see cref="TouSocketEndpoint"/>, exposed as a duplex pipe with backpressure
/// both ways: the application reads <see cref="Transport"/>.Input (a slow reader leaves data in the engine,
/// whose window then closes) and writes <see cref="Transport"/>.Output (a slow peer leaves data in the pipe,
/// so the application's FlushAsync waits). Two small async pumps move bytes; no thread or timer per connection.
/// </summary>
public sealed class TouSocketConnection : IAsyncDisposable
{
    private const int MaxCopyPerFlush = 64 * 1024;

    private readonly TouSocketEndpoint _endpoint;
    private readonly TouConnection _engine;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly AsyncSignal _readable = new();
    private readonly AsyncSignal _writable = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closed = new();
    private Task _receivePump = Task.CompletedTask;
    private Task _sendPump = Task.CompletedTask;
    private int _pumpsStarted;
    private int _disposed;
    private volatile bool _isClosed;
    private Exception? _abortReason;

    internal TouSocketConnection(TouSocketEndpoint endpoint, TouConnection engine, IPEndPoint local, IPEndPoint remote)
    {
        _endpoint = endpoint;
        _engine = engine;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
        var pool = endpoint.Options.MemoryPool ?? MemoryPool<byte>.Shared;
        _input = new Pipe(new PipeOptions(pool, pauseWriterThreshold: endpoint.Options.InputPauseThreshold, resumeWriterThreshold: endpoint.Options.InputPauseThreshold / 2, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, pauseWriterThreshold: endpoint.Options.OutputPauseThreshold, resumeWriterThreshold: endpoint.Options.OutputPauseThreshold / 2, useSynchronizationContext: false));
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        if (engine.State == TouConnectionState.Established)
        {
            OnConnected(); // accepted: the handshake is done already
        }
    }

    /// <summary>The application's side: read what the peer sent, write what to send.</summary>
    public IDuplexPipe Transport { get; }

    public IPEndPoint LocalEndPoint { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>Process-unique connection number.</summary>
    public long Id => _engine.Id;

    /// <summary>Fires (on the thread pool) once the connection has ended, gracefully or not.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>Why the connection ended, or <see cref="TouCloseReason.None"/> while it lasts.</summary>
    public TouCloseReason CloseReason => _endpoint.Run(_engine, static e => e.CloseReason);

    internal bool IsClosed => _isClosed;

    internal Task ConnectedTask => _connected.Task;

    /// <summary>Runs <paramref name="read"/> on the engine connection's counters under the endpoint's lock.</summary>
    public T ReadStats<T>(Func<TouConnectionStats, long, long, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return _endpoint.Run((_engine, read), static s => s.read(s._engine.Stats, s._engine.SmoothedRttUs, s._engine.CongestionWindow));
    }

    /// <summary>Ends the connection at once with RST; pending reads and writes fail with <paramref name="reason"/> or a connection-aborted error.</summary>
    public void Abort(Exception? reason)
    {
        _abortReason ??= reason;
        _endpoint.Run(this, static c => c.AbortLocked());
    }

    internal void AbortLocked() => _engine.Abort();

    /// <summary>
    /// Finishes with the connection: what was written is still delivered and a FIN follows; reading stops.
    /// The FIN exchange completes in the background (aborted after <see cref="TouTransportOptions.OrphanTimeout"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _pumpsStarted) == 0)
        {
            _endpoint.Run(this, static c => c.AbortLocked());
        }

        try
        {
            await _sendPump.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
        }

        if (!_isClosed)
        {
            _endpoint.AddOrphan(this);
        }
    }

    /// <summary>Engine events for this connection; called under the endpoint's gate.</summary>
    internal void OnEvents(TouConnectionEvents events)
    {
        if ((events & TouConnectionEvents.Connected) != 0)
        {
            OnConnected();
        }

        if ((events & (TouConnectionEvents.Readable | TouConnectionEvents.ReceiveCompleted | TouConnectionEvents.Closed)) != 0)
        {
            _readable.Set();
        }

        if ((events & (TouConnectionEvents.Writable | TouConnectionEvents.Closed)) != 0)
        {
            _writable.Set();
        }

        if ((events & TouConnectionEvents.Closed) != 0 && !_isClosed)
        {
            _isClosed = true;
            var reason = _engine.CloseReason;
            _connected.TrySetException(CreateException(reason));
            TouMetrics.ConnectionClosed(reason);

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

        TouMetrics.ConnectionOpened(_engine.IsClient);
        _receivePump = Task.Run(ReceivePumpAsync);
        _sendPump = Task.Run(SendPumpAsync);
        _connected.TrySetResult();
    }

    private Exception CreateException(TouCloseReason reason)
    {
        if (reason == TouCloseReason.Aborted && _abortReason is not null)
        {
            return _abortReason;
        }

        string message = reason switch
        {
            TouCloseReason.ResetByPeer => $"The TOU connection to {RemoteEndPoint} was reset by the peer.",
            TouCloseReason.Aborted => $"The TOU connection to {RemoteEndPoint} was aborted.",
            TouCloseReason.Refused => $"The TOU connection to {RemoteEndPoint} was refused.",
            TouCloseReason.HandshakeTimeout => $"No TOU handshake with {RemoteEndPoint} within {_endpoint.Options.Protocol.HandshakeTimeout.TotalSeconds:0.#} s.",
            TouCloseReason.RetransmissionTimeout => $"The TOU connection to {RemoteEndPoint} stopped making progress: data went unacknowledged through {_endpoint.Options.Protocol.MaxRetransmissions} retransmission timeouts.",
            TouCloseReason.IdleTimeout => $"Nothing was heard from {RemoteEndPoint} for {_endpoint.Options.Protocol.IdleTimeout.TotalSeconds:0.#} s; the TOU connection timed out.",
            _ => $"The TOU connection to {RemoteEndPoint} ended ({reason}).",
        };
        return _endpoint.Options.ExceptionFactory(reason, message);
    }

    /// <summary>Moves received bytes from the engine into the input pipe; waiting on the pipe is the backpressure.</summary>
    private async Task ReceivePumpAsync()
    {
        var writer = _input.Writer;
        bool discard = false;
        try
        {
            while (true)
            {
                await _readable.WaitAsync().ConfigureAwait(false);
                while (true)
                {
                    var (copied, readCompleted, reason) = _endpoint.Run((this, discard), static s => s.Item1.CopyReceived(s.discard));
                    if (copied > 0 && !discard)
                    {
                        var flush = await writer.FlushAsync().ConfigureAwait(false);
                        if (flush.IsCompleted)
                        {
                            discard = true; // the application stopped reading; keep the peer flowing until close
                        }
                    }

                    if (readCompleted)
                    {
                        await writer.CompleteAsync().ConfigureAwait(false);
                        return;
                    }

                    if (reason is not TouCloseReason.None and not TouCloseReason.Graceful)
                    {
                        await writer.CompleteAsync(CreateException(reason)).ConfigureAwait(false);
                        return;
                    }

                    if (copied == 0)
                    {
                        break;
                    }
                }
            }
        }
        catch (Exception ex)
        {
            await writer.CompleteAsync(ex).ConfigureAwait(false);
        }
    }

    /// <summary>Caller holds the gate.</summary>
    private (int Copied, bool ReadCompleted, TouCloseReason Reason) CopyReceived(bool discard)
    {
        int copied = 0;
        var writer = _input.Writer;
        while (copied < MaxCopyPerFlush)
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

        return (copied, _engine.IsReadCompleted, _engine.CloseReason);
    }

    /// <summary>Moves the application's writes into the engine as its send buffer allows.</summary>
    private async Task SendPumpAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var (accepted, reason) = buffer.IsEmpty
                    ? (0, _endpoint.Run(_engine, static e => e.CloseReason))
                    : _endpoint.Run((_engine, buffer), static s => WriteToEngine(s._engine, s.buffer));
                if (reason != TouCloseReason.None)
                {
                    // Nothing more can be sent; the application's next flush sees the pipe completed.
                    await reader.CompleteAsync(reason == TouCloseReason.Graceful ? null : CreateException(reason)).ConfigureAwait(false);
                    return;
                }

                reader.AdvanceTo(buffer.GetPosition(accepted));
                if (accepted < buffer.Length)
                {
                    await _writable.WaitAsync().ConfigureAwait(false); // the engine's send buffer is full
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
