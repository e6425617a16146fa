using System.CommandLine;
using Tou.Protocol;

namespace Tou.Tool;

/// <summary><c>tou perf server</c> and <c>tou perf client</c>.</summary>
internal static class PerfCommands
{
    public static Command Create(ToolConsole console)
    {
        var perf = new Command("perf", "Goodput between two TOU endpoints, like iperf3: run a server on one side, a client on the other.");
        perf.Subcommands.Add(CreateServer(console));
        perf.Subcommands.Add(CreateClient(console));
        return perf;
    }

    private static Command CreateServer(ToolConsole console)
    {
        var listen = new Option<string>("--listen", "-l") { Description = "Address to listen on, IP:PORT or a port", DefaultValueFactory = _ => "0.0.0.0:5201" };
        var cc = CongestionControlOption();
        var trace = TraceOption();
        var command = new Command("server", "Accept perf clients until Ctrl+C; a line per test when it ends.") { listen, cc, trace };
        command.SetAction(TouCli.Guard(console, async (parse, stop) =>
        {
            var options = PerfClientSettings.TransportOptions(ParseCongestionControl(parse.GetValue(cc)), TimeSpan.FromSeconds(10), parse.GetValue(trace));
            await using var server = PerfServer.Start(Addresses.ParseListen(parse.GetValue(listen)!), options, console);
            await console.Out.WriteLineAsync($"tou perf server listening on {server.LocalEndPoint} (UDP); Ctrl+C to stop").ConfigureAwait(false);
            int tests = await server.RunAsync(stop).ConfigureAwait(false);
            await server.DisposeAsync().ConfigureAwait(false);
            await console.Out.WriteLineAsync($"stopped after {tests} test(s)").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static Command CreateClient(ToolConsole console)
    {
        var target = new Argument<string>("target") { Description = "The perf server, HOST:PORT; or an http:// URL on a Kestrel-over-TOU app to download from" };
        var time = new Option<double>("--time", "-t") { Description = "Seconds to send for", DefaultValueFactory = _ => 10 };
        var bytes = new Option<string?>("--bytes", "-n") { Description = "Send this many bytes instead of for a time (suffixes K, M, G)" };
        var reverse = new Option<bool>("--reverse", "-R") { Description = "The server sends, the client receives" };
        var bidir = new Option<bool>("--bidir") { Description = "Both send at once" };
        var parallel = new Option<int>("--parallel", "-P") { Description = "Connections in parallel", DefaultValueFactory = _ => 1 };
        var cc = CongestionControlOption();
        var json = new Option<bool>("--json", "-J") { Description = "One JSON object at the end instead of text" };
        var interval = new Option<double>("--interval", "-i") { Description = "Seconds between reports", DefaultValueFactory = _ => 1 };
        var connectTimeout = new Option<double>("--connect-timeout") { Description = "Seconds to wait for the handshake", DefaultValueFactory = _ => 10 };
        var trace = TraceOption();
        var command = new Command("client", "Measure goodput to a perf server: a line per interval (goodput, RTT, cwnd, in flight, retransmissions, losses), a summary at the end.")
        {
            target, time, bytes, reverse, bidir, parallel, cc, json, interval, connectTimeout, trace,
        };
        command.SetAction(TouCli.Guard(console, (parse, stop) =>
        {
            if (parse.GetValue(parallel) is < 1 or > 128 || parse.GetValue(time) <= 0 || parse.GetValue(interval) <= 0)
            {
                throw new UsageException("--parallel must be 1..128, --time and --interval positive");
            }

            var settings = new PerfClientSettings(
                parse.GetValue(target)!,
                parse.GetValue(bidir) ? PerfMode.Both : parse.GetValue(reverse) ? PerfMode.Download : PerfMode.Upload,
                TimeSpan.FromSeconds(parse.GetValue(time)),
                ParseSize(parse.GetValue(bytes)),
                parse.GetValue(parallel),
                ParseCongestionControl(parse.GetValue(cc)),
                parse.GetValue(json),
                parse.GetValue(trace),
                TimeSpan.FromSeconds(parse.GetValue(interval)),
                TimeSpan.FromSeconds(parse.GetValue(connectTimeout)));
            return settings.Target.Contains("://", StringComparison.Ordinal)
                ? new HttpPerf(settings, console).RunAsync(stop)
                : new PerfClient(settings, console).RunAsync(stop);
        }));
        return command;
    }

    internal static Option<string?> CongestionControlOption() =>
        new("--cc") { Description = "Congestion control: cubic, newreno or bbr (default: the engine's)" };

    internal static Option<string?> TraceOption() =>
        new("--trace") { Description = "Write a qlog trace (JSON-SEQ) of each connection into this directory" };

    internal static CongestionControlAlgorithm? ParseCongestionControl(string? name) =>
        name is null ? null
        : Enum.TryParse<CongestionControlAlgorithm>(name, ignoreCase: true, out var cc) && Enum.IsDefined(cc) ? cc
        : throw new UsageException($"bad congestion control '{name}': expected {string.Join(", ", Enum.GetNames<CongestionControlAlgorithm>()).ToLowerInvariant()}");

    /// <summary>A byte count with an optional decimal suffix: K = 1,000, M = 10^6, G = 10^9.</summary>
    internal static long ParseSize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1_000, 'M' => 1_000_000, 'G' => 1_000_000_000, _ => 1 };
        var digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, out long value) && value > 0 && value <= long.MaxValue / unit
            ? value * unit
            : throw new UsageException($"bad byte count '{text}': expected a positive number with an optional K, M or G");
    }
}
