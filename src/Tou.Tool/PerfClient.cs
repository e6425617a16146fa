using System.Diagnostics;
using Tou.Transport;

namespace Tou.Tool;

/// <summary><c>tou perf client</c>: N connections to a perf server, a line a second, a verified summary at the end.</summary>
internal sealed class PerfClient(PerfClientSettings settings, ToolConsole console)
{
    private readonly List<PerfInterval> _intervals = [];

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var remote = await Addresses.ResolveAsync(settings.Target, cancellationToken).ConfigureAwait(false);
        var options = PerfClientSettings.TransportOptions(settings.CongestionControl, settings.ConnectTimeout, settings.TraceDirectory);
        var connecting = Enumerable.Range(0, settings.Parallel).Select(_ => TouSocketConnection.ConnectAsync(remote, options, null, cancellationToken)).ToList();
        TouSocketConnection[] connections;
        try
        {
            connections = await Task.WhenAll(connecting).ConfigureAwait(false);
        }
        catch
        {
            foreach (var task in connecting.Where(t => t.IsCompletedSuccessfully))
            {
                await task.Result.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        var flows = connections.Select(c => new PerfFlow(c)).ToArray();
        try
        {
            return await MeasureAsync(remote.ToString(), flows, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<int> MeasureAsync(string remote, PerfFlow[] flows, CancellationToken cancellationToken)
    {
        if (!settings.Json)
        {
            string limit = settings.ByteLimit > 0 ? PerfFormat.Bytes(settings.ByteLimit) : PerfFormat.Invariant($"{settings.Duration.TotalSeconds:0.##} s");
            await console.Out.WriteLineAsync($"Connected to {remote} over TOU: {flows.Length} connection(s), {settings.Mode.ToString().ToLowerInvariant()}, {limit}").ConfigureAwait(false);
            for (int i = 0; i < flows.Length; i++)
            {
                var n = flows[i].Connection.Negotiation;
                await console.Out.WriteLineAsync(PerfFormat.Invariant($"[{i + 1,3}] local {flows[i].Connection.LocalEndPoint} -> {remote}, extensions {n.Extensions}, SACK {n.Sack}, integrity {n.Integrity}, segment {n.SendMss} B")).ConfigureAwait(false);
            }

            await console.Out.WriteLineAsync(PerfFormat.Heading).ConfigureAwait(false);
        }

        var clock = Stopwatch.StartNew();
        using var reporterStop = new CancellationTokenSource();
        var reporter = ReportAsync(flows, clock, reporterStop.Token);
        bool interrupted = false;
        try
        {
            await Task.WhenAll(flows.Select(f => f.RunClientAsync(settings.Mode, settings.Duration, settings.ByteLimit, cancellationToken))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true; // Ctrl+C: report what was measured
        }

        await reporterStop.CancelAsync().ConfigureAwait(false);
        await reporter.ConfigureAwait(false);
        var summary = new PerfSummary(remote, settings, flows, clock.Elapsed, interrupted, _intervals);
        await console.Out.WriteAsync(settings.Json ? summary.ToJson() : summary.ToText()).ConfigureAwait(false);
        if (interrupted)
        {
            return ToolErrors.Interrupted;
        }

        if (!summary.Verified)
        {
            await console.Error.WriteLineAsync("tou: byte counts disagree between client and server").ConfigureAwait(false);
            return ToolErrors.Failure;
        }

        return 0;
    }

    private async Task ReportAsync(PerfFlow[] flows, Stopwatch clock, CancellationToken stop)
    {
        var previous = flows.Select(f => (Snapshot: EngineSnapshot.Take(f.Connection), Received: 0L)).ToArray();
        double start = 0;
        using var timer = new PeriodicTimer(settings.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                double end = clock.Elapsed.TotalSeconds;
                var lines = new List<PerfInterval>();
                for (int i = 0; i < flows.Length; i++)
                {
                    var now = EngineSnapshot.Take(flows[i].Connection);
                    long received = flows[i].Received.Value;
                    lines.AddRange(Intervals(i + 1, start, end, previous[i].Snapshot, now, received - previous[i].Received));
                    previous[i] = (now, received);
                }

                if (flows.Length > 1)
                {
                    lines.AddRange(PerfSummary.Sum(lines));
                }

                _intervals.AddRange(lines);
                if (!settings.Json)
                {
                    foreach (var line in lines)
                    {
                        await console.Out.WriteLineAsync(PerfFormat.Line(line)).ConfigureAwait(false);
                    }
                }

                start = end;
            }
        }
        catch (OperationCanceledException)
        {
            // the test ended
        }
    }

    private IEnumerable<PerfInterval> Intervals(int flow, double start, double end, EngineSnapshot before, EngineSnapshot now, long received)
    {
        long retransmissions = now.Retransmissions - before.Retransmissions;
        long lost = now.SegmentsLost - before.SegmentsLost;
        double rttMs = now.SmoothedRttUs / 1000.0;
        if (settings.Mode != PerfMode.Download)
        {
            yield return new PerfInterval(flow, "tx", start, end, now.BytesAcknowledged - before.BytesAcknowledged, rttMs, now.CongestionWindow, now.BytesInFlight, retransmissions, lost);
        }

        if (settings.Mode != PerfMode.Upload)
        {
            // The sender's window and losses are the peer's: this side has only the RTT (-1 prints as "-").
            yield return new PerfInterval(flow, "rx", start, end, received, rttMs, -1, -1, -1, -1);
        }
    }
}
