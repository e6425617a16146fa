using System.CommandLine;
using System.Diagnostics;
using Tou.Transport;

namespace Tou.Tool;

/// <summary><c>tou get URL</c>: one HTTP request over TOU, like curl.</summary>
internal static class GetCommand
{
    public const int HttpError = 22; // curl --fail's code for an HTTP status of 400 or more

    public static Command Create(ToolConsole console)
    {
        var url = new Argument<string>("url") { Description = "http://HOST:PORT/PATH of a Kestrel-over-TOU app" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print the connection, request and response headers and timings (to stderr)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the body to this file instead of stdout" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds the whole request may take", DefaultValueFactory = _ => 100 };
        var connectTimeout = new Option<double>("--connect-timeout") { Description = "Seconds to wait for the handshake", DefaultValueFactory = _ => 10 };
        var trace = PerfCommands.TraceOption();
        var command = new Command("get", "Fetch a URL over TOU: body to stdout or a file; status and timings with -v; exit code 22 for an HTTP error status.")
        {
            url, verbose, output, timeout, connectTimeout, trace,
        };
        command.SetAction(TouCli.Guard(console, (parse, stop) => RunAsync(
            console, Addresses.ParseHttpUrl(parse.GetValue(url)!), parse.GetValue(verbose), parse.GetValue(output),
            TimeSpan.FromSeconds(parse.GetValue(timeout)), TimeSpan.FromSeconds(parse.GetValue(connectTimeout)), parse.GetValue(trace), stop)));
        return command;
    }

    private static async Task<int> RunAsync(ToolConsole console, Uri url, bool verbose, string? outputPath, TimeSpan timeout, TimeSpan connectTimeout, string? trace, CancellationToken stop)
    {
        var err = console.Error;
        using var http = new HttpOverTou(PerfClientSettings.TransportOptions(null, connectTimeout, trace), timeout);
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (verbose)
        {
            await err.WriteLineAsync($"> GET {url.PathAndQuery} HTTP/1.1").ConfigureAwait(false);
            await err.WriteLineAsync($"> Host: {url.Authority}").ConfigureAwait(false);
        }

        using var response = await SendAsync(http, request, stop).ConfigureAwait(false);
        var firstByte = clock.Elapsed;
        if (verbose)
        {
            await WriteConnectionAsync(console, http).ConfigureAwait(false);
            await err.WriteLineAsync($"< HTTP/{response.Version} {(int)response.StatusCode} {response.ReasonPhrase}").ConfigureAwait(false);
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                await err.WriteLineAsync($"< {name}: {string.Join(", ", values)}").ConfigureAwait(false);
            }

            await err.WriteLineAsync("<").ConfigureAwait(false);
        }

        long length;
        var body = await response.Content.ReadAsStreamAsync(stop).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var target = outputPath is null ? console.OpenStandardOutput() : File.Create(outputPath);
            await using (target.ConfigureAwait(false))
            {
                var progress = console.ErrorIsTerminal && (response.Content.Headers.ContentLength ?? long.MaxValue) >= 1_000_000
                    ? new ProgressBar(err, response.Content.Headers.ContentLength) : null;
                length = await CopyAsync(body, target, progress, stop).ConfigureAwait(false);
                progress?.Finish(length);
            }
        }

        var total = clock.Elapsed;
        if (verbose || outputPath is not null)
        {
            await err.WriteLineAsync(PerfFormat.Invariant(
                $"* {(int)response.StatusCode} {response.ReasonPhrase}: {length} bytes; connect {http.ConnectTime.TotalMilliseconds:0.0} ms, first byte {firstByte.TotalMilliseconds:0.0} ms, total {total.TotalMilliseconds:0.0} ms ({PerfFormat.Rate(length * 8 / Math.Max(total.TotalSeconds, 1e-6))})")).ConfigureAwait(false);
        }

        await http.DrainAsync().ConfigureAwait(false);
        return (int)response.StatusCode >= 400 ? HttpError : 0;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpOverTou http, HttpRequestMessage request, CancellationToken stop)
    {
        try
        {
            return await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false);
        }
        catch (TaskCanceledException ex) when (!stop.IsCancellationRequested)
        {
            throw new TimeoutException("the request timed out", ex); // HttpClient.Timeout
        }
    }

    private static async Task WriteConnectionAsync(ToolConsole console, HttpOverTou http)
    {
        if (http.Connection is { } connection)
        {
            var n = connection.Negotiation;
            await console.Error.WriteLineAsync(PerfFormat.Invariant(
                $"* connected to {connection.RemoteEndPoint} over TOU from {connection.LocalEndPoint} in {http.ConnectTime.TotalMilliseconds:0.0} ms (extensions {n.Extensions}, SACK {n.Sack}, integrity {n.Integrity}, segment {n.SendMss} B)")).ConfigureAwait(false);
        }
    }

    private static async Task<long> CopyAsync(Stream source, Stream target, ProgressBar? progress, CancellationToken stop)
    {
        var buffer = new byte[64 * 1024];
        long copied = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, stop).ConfigureAwait(false)) > 0)
        {
            await target.WriteAsync(buffer.AsMemory(0, read), stop).ConfigureAwait(false);
            copied += read;
            progress?.Update(copied);
        }

        await target.FlushAsync(stop).ConfigureAwait(false);
        return copied;
    }
}
