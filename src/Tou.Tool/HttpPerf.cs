using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Tou.Tool;

/// <summary><c>tou perf client http://...</c>: download goodput from an ordinary Kestrel-over-TOU app (any URL that returns a body).</summary>
internal sealed class HttpPerf(PerfClientSettings settings, ToolConsole console)
{
    private readonly List<PerfInterval> _intervals = [];
    private readonly PerfCounter _received = new();

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var url = Addresses.ParseHttpUrl(settings.Target);
        using var http = new HttpOverTou(PerfClientSettings.TransportOptions(settings.CongestionControl, settings.ConnectTimeout, settings.TraceDirectory), Timeout.InfiniteTimeSpan);
        var clock = Stopwatch.StartNew();
        using var response = await http.Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false);
        if (!settings.Json)
        {
            await console.Out.WriteLineAsync($"GET {url} over TOU: {(int)response.StatusCode} {response.ReasonPhrase}, {response.Content.Headers.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"} bytes").ConfigureAwait(false);
            await console.Out.WriteLineAsync(PerfFormat.Heading).ConfigureAwait(false);
        }

        using var reporterStop = new CancellationTokenSource();
        var reporter = ReportAsync(http, clock, reporterStop.Token);
        bool interrupted = false;
        var body = await response.Content.ReadAsStreamAsync(stop).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer, stop).ConfigureAwait(false)) > 0)
                {
                    _received.Add(read);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                interrupted = true;
            }
        }

        var elapsed = clock.Elapsed;
        await reporterStop.CancelAsync().ConfigureAwait(false);
        await reporter.ConfigureAwait(false);
        long expected = response.Content.Headers.ContentLength ?? -1;
        bool verified = !interrupted && response.IsSuccessStatusCode && (expected < 0 || expected == _received.Value);
        await console.Out.WriteAsync(settings.Json ? Json(url, elapsed, expected, verified, interrupted) : Text(elapsed, expected, verified)).ConfigureAwait(false);
        await http.DrainAsync().ConfigureAwait(false);
        return interrupted ? ToolErrors.Interrupted : verified ? 0 : ToolErrors.Failure;
    }

    private async Task ReportAsync(HttpOverTou http, Stopwatch clock, CancellationToken stop)
    {
        double start = 0;
        long before = 0;
        using var timer = new PeriodicTimer(settings.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                double end = clock.Elapsed.TotalSeconds;
                long now = _received.Value;
                var engine = http.Connection is { } c ? EngineSnapshot.Take(c) : default;
                var line = new PerfInterval(1, "rx", start, end, now - before, engine.SmoothedRttUs / 1000.0, -1, -1, -1, -1); // the sender's figures are the server's
                _intervals.Add(line);
                if (!settings.Json)
                {
                    await console.Out.WriteLineAsync(PerfFormat.Line(line)).ConfigureAwait(false);
                }

                (start, before) = (end, now);
            }
        }
        catch (OperationCanceledException)
        {
            // the download ended
        }
    }

    private string Text(TimeSpan elapsed, long expected, bool verified) =>
        PerfFormat.Invariant($"- - - - - - - - - - - - - - - - - - - - - - - - -\n[SUM] rx   0.00-{elapsed.TotalSeconds,-6:0.00} s  {PerfFormat.Bytes(_received.Value),10}  {PerfFormat.Rate(_received.Value * 8 / elapsed.TotalSeconds),14}  receiver\n") +
        (verified ? PerfFormat.Invariant($"verified: received {_received.Value} B{(expected >= 0 ? " = Content-Length" : "")}\n") : PerfFormat.Invariant($"MISMATCH or incomplete: received {_received.Value} B of {expected}\n"));

    private string Json(Uri url, TimeSpan elapsed, long expected, bool verified, bool interrupted)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("target", url.ToString());
            json.WriteString("mode", "http-download");
            json.WriteNumber("seconds", elapsed.TotalSeconds);
            json.WriteBoolean("interrupted", interrupted);
            json.WriteBoolean("verified", verified);
            json.WriteNumber("received_bytes", _received.Value);
            json.WriteNumber("content_length", expected);
            json.WriteNumber("received_goodput_bps", _received.Value * 8 / elapsed.TotalSeconds);
            json.WriteNumber("intervals_reported", _intervals.Count);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + Environment.NewLine;
    }
}
