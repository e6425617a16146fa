using System.CommandLine;
using System.Globalization;
using Tou.Protocol;
using Tou.Simulation;

namespace Tou.Tool;

/// <summary><c>tou simulate</c>: one transfer on a simulated path in virtual time (the figure does not depend on this machine).</summary>
internal static class SimulateCommand
{
    public static Command Create(ToolConsole console)
    {
        var loss = Number("--loss", "Random loss each way, %", 0);
        var rtt = Number("--rtt", "Round-trip time, ms", 50);
        var rate = Number("--rate", "Link rate, Mbit/s", 100);
        var size = Number("--size", "MB the server sends", 20);
        var queue = Number("--queue", "Bottleneck queue, KiB (0: one bandwidth-delay product)", 0);
        var seed = new Option<int>("--seed") { Description = "Seed of the path and the engines", DefaultValueFactory = _ => 1 };
        var cc = PerfCommands.CongestionControlOption();
        var segmentsPerAck = new Option<int>("--segments-per-ack") { Description = "Data segments per ACK", DefaultValueFactory = _ => 10 };
        var plain = new Option<bool>("--plain") { Description = "No extensions (seed-compatible peers)" };
        var both = new Option<bool>("--both") { Description = "The client uploads as much at the same time" };
        var trace = new Option<string?>("--trace") { Description = "Write qlog traces (JSON-SEQ) of the server's and the client's connection into this directory" };
        var command = new Command("simulate", "Goodput of one TOU connection on a simulated path (virtual time).")
        {
            loss, rtt, rate, size, queue, seed, cc, segmentsPerAck, plain, both, trace,
        };
        command.SetAction(TouCli.Guard(console, async (parse, _) =>
        {
            var path = new SimulatedPath(parse.GetValue(loss) / 100, TimeSpan.FromMilliseconds(parse.GetValue(rtt)), (long)(parse.GetValue(rate) * 1e6), (long)(parse.GetValue(size) * 1e6), parse.GetValue(queue));
            var options = new TouOptions
            {
                EnableExtensions = !parse.GetValue(plain),
                IdleTimeout = TimeSpan.FromMinutes(10),
                SegmentsPerAck = parse.GetValue(segmentsPerAck),
            };
            if (PerfCommands.ParseCongestionControl(parse.GetValue(cc)) is { } algorithm)
            {
                options.CongestionControl = algorithm; // otherwise the engine's default, as every other command
            }

            var result = Run(path, parse.GetValue(seed), parse.GetValue(both), options, parse.GetValue(trace));
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"loss {path.Loss:P1}  rtt {path.Rtt.TotalMilliseconds:0} ms  link {path.Rate / 1e6:0} Mbit/s  queue {path.QueueBytes / 1024} KiB  {options.CongestionControl}{(parse.GetValue(plain) ? " plain" : "")}  {path.Size / 1e6:0.#} MB: " +
                $"goodput {result.GoodputMbps:0.00} Mbit/s in {result.TransferUs / 1e6:0.00} s (virtual), " +
                $"retransmitted {result.ServerStats.Retransmissions}, RTOs {result.ServerStats.RetransmissionTimeouts}, exact {result.BytesExact}, close {result.ServerCloseReason}/{result.ClientCloseReason}")).ConfigureAwait(false);
            return result.Completed && result.BytesExact ? 0 : ToolErrors.Failure;
        }));
        return command;
    }

    /// <summary>Runs the transfer; with a trace directory each side's connection writes its qlog file there.</summary>
    internal static TransferResult Run(SimulatedPath path, int seed, bool both, TouOptions options, string? traceDirectory)
    {
        var link = LinkProfile.Path(path.Rtt, path.Loss, path.Rate, path.QueueBytes);
        var clientOptions = options.Clone();
        var serverOptions = options.Clone();
        if (traceDirectory is not null)
        {
            string prefix = string.Create(CultureInfo.InvariantCulture, $"sim-seed{seed}");
            clientOptions.ConnectionTrace = TraceFiles.Into(traceDirectory, prefix);
            serverOptions.ConnectionTrace = TraceFiles.Into(traceDirectory, prefix);
        }

        return TransferScenario.Run(seed, link, link, uploadBytes: both ? path.Size : 0, downloadBytes: path.Size, clientOptions, serverOptions);
    }

    private static Option<double> Number(string name, string description, double fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };
}
