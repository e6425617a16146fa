using System.Net;
using System.Threading.Channels;
using Tou.Transport;

namespace Tou.Tool;

/// <summary><c>tou perf server</c>: accepts perf clients until stopped and reports each test when it ends.</summary>
internal sealed class PerfServer : IAsyncDisposable
{
    private readonly TouSocketListener _listener;
    private readonly ToolConsole _console;
    private readonly Channel<PerfFlow> _completed = Channel.CreateUnbounded<PerfFlow>();
    private readonly List<Task> _handlers = [];
    private int _tests;

    private PerfServer(TouSocketListener listener, ToolConsole console)
    {
        _listener = listener;
        _console = console;
    }

    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>Each test's server side once it has ended (for tests of the tool).</summary>
    public ChannelReader<PerfFlow> Completed => _completed.Reader;

    public static PerfServer Start(IPEndPoint listen, TouTransportOptions options, ToolConsole console) =>
        new(TouSocketListener.Bind(listen, options), console);

    /// <summary>Serves until <paramref name="stop"/> fires; returns the number of tests served.</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        try
        {
            while (await _listener.AcceptAsync(stop).ConfigureAwait(false) is { } connection)
            {
                int id = Interlocked.Increment(ref _tests);
                _handlers.Add(ServeAsync(id, connection, stop));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl+C: stop accepting
        }

        return _tests;
    }

    private async Task ServeAsync(int id, TouSocketConnection connection, CancellationToken stop)
    {
        var flow = new PerfFlow(connection);
        try
        {
            var mode = await flow.RunServerAsync(stop).ConfigureAwait(false);
            var f = flow.Final;
            double seconds = Math.Max(flow.Elapsed.TotalSeconds, 1e-6);
            await _console.Out.WriteLineAsync(PerfFormat.Invariant(
                $"[{id,3}] {connection.RemoteEndPoint} {mode.ToString().ToLowerInvariant()}: received {PerfFormat.Bytes(flow.ReceivedTotal)} ({PerfFormat.Rate(flow.ReceivedTotal * 8 / seconds)}), ") + PerfFormat.Invariant(
                $"sent {PerfFormat.Bytes(flow.SentTotal)} ({PerfFormat.Rate(flow.SentTotal * 8 / seconds)}) in {seconds:0.00} s; rtt {f.SmoothedRttUs / 1000.0:0.00} ms, retr {f.Retransmissions}, lost {f.SegmentsLost}; ") + PerfFormat.Invariant(
                $"{(flow.Verified ? "verified" : "MISMATCH")}")).ConfigureAwait(false);
            _completed.Writer.TryWrite(flow);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            var (message, _) = ToolErrors.Describe(ex);
            await _console.Error.WriteLineAsync($"[{id,3}] {connection.RemoteEndPoint}: {message}").ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.StopListening();
        await Task.WhenAll(_handlers).ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        _completed.Writer.TryComplete();
    }
}
