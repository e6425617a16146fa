using System.CommandLine;

namespace Tou.Tool;

/// <summary><c>tou trace plot</c>: draws a connection trace (qlog JSON-SEQ, from <c>--trace</c>).</summary>
internal static class TraceCommands
{
    public static Command Create(ToolConsole console)
    {
        var trace = new Command("trace", "Work with connection traces (qlog JSON-SEQ files written with --trace).");
        var file = new Argument<string>("file") { Description = "A trace file (.sqlog)" };
        var output = new Option<string>("--output", "-o") { Description = "The image to write: .svg or .png", Required = true };
        var width = new Option<int>("--width") { Description = "Image width, pixels", DefaultValueFactory = _ => 1200 };
        var height = new Option<int>("--height") { Description = "Image height, pixels", DefaultValueFactory = _ => 900 };
        var plot = new Command("plot", "Draw the time-sequence graph (data sent, retransmitted, acknowledged; receive window) with RTT and congestion-window panels.")
        {
            file, output, width, height,
        };
        plot.SetAction(TouCli.Guard(console, async (parse, _) =>
        {
            string path = parse.GetValue(file)!;
            var qlog = File.Exists(path) ? QlogFile.Read(path) : throw new UsageException($"bad trace file '{path}': no such file");
            string image = parse.GetValue(output)!;
            TracePlot.Save(qlog, image, Math.Clamp(parse.GetValue(width), 200, 8000), Math.Clamp(parse.GetValue(height), 200, 8000));
            await console.Out.WriteLineAsync($"{image}: {qlog.Events.Count} events of {qlog.Title} ({qlog.VantagePoint})").ConfigureAwait(false);
            return 0;
        }));
        trace.Subcommands.Add(plot);
        return trace;
    }
}
