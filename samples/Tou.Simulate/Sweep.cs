using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tou.Protocol;
using Tou.Simulation;

namespace Tou.Simulate;

/// <summary>
/// The scenario sweep of issue 11: single flows over rates, RTTs, random and bursty loss, shallow and deep buffers and
/// bandwidth steps, and flows sharing a bottleneck; prints one table per controller and writes it as CSV and JSON.
/// </summary>
internal static class Sweep
{
    private static readonly int[] Rates = [10, 100, 1000];
    private static readonly int[] Rtts = [10, 50, 200];
    private static readonly double[] Losses = [0, 0.001, 0.01, 0.02, 0.05];
    private const double ByteBudget = 300e6; // bytes a 1 Gbit/s cell may carry: keeps those cells affordable
    private const double MaxDurationS = 60;

    public static int Run(string[] args)
    {
        var controllers = new List<CongestionControlAlgorithm> { CongestionControlAlgorithm.Bbr, CongestionControlAlgorithm.Cubic };
        string output = "artifacts/sweep";
        string? only = null;
        int seed = 1;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i].TrimStart('-'))
            {
                case "cc": controllers = args[i + 1].Split(',').Select(c => Enum.Parse<CongestionControlAlgorithm>(c, true)).ToList(); break;
                case "out": output = args[i + 1]; break;
                case "only": only = args[i + 1]; break;
                case "seed": seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine("sweep [--cc bbr,cubic,newreno] [--only <group or cell substring>] [--out dir] [--seed n]"); return 2;
            }
        }

        var cells = Cells().Where(c => only is null || c.Group.Contains(only, StringComparison.OrdinalIgnoreCase) || c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();
        Directory.CreateDirectory(output);
        var rows = new List<SweepRow>();
        Console.WriteLine(SweepRow.Header);
        foreach (var cell in cells)
        {
            foreach (var cc in controllers)
            {
                var watch = Stopwatch.StartNew();
                var result = cell.ToScenario(cc, seed).Run();
                var row = SweepRow.From(cell, cc, result, watch.Elapsed.TotalSeconds);
                rows.Add(row);
                Console.WriteLine(row.Line());
                if (Environment.GetEnvironmentVariable("TOU_SIM_VERBOSE") == "1")
                {
                    var series = result.Flows[0].ReadSeries;
                    int every = Math.Max(1, series.Count / 20);
                    Console.WriteLine("  Mbit/s per slice: " + string.Join(' ', Enumerable.Range(0, series.Count / every - 1).Select(k => ((series[(k + 1) * every] - series[k * every]) * 8 / (every * cell.RttMs.Min() / 1000.0) / 1e6).ToString("0", CultureInfo.InvariantCulture))));
                    Console.WriteLine($"  read {result.Flows[0].BytesRead} sent {result.Flows[0].DataPacketsSent} retx {result.Flows[0].Retransmissions} rto {result.Flows[0].RetransmissionTimeouts} drops {result.QueueDrops}");
                }
            }
        }

        File.WriteAllText(Path.Combine(output, "sweep.csv"), SweepRow.CsvHeader + "\n" + string.Join("\n", rows.Select(r => r.Csv())) + "\n");
        File.WriteAllText(Path.Combine(output, "sweep.json"), JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        foreach (var cc in controllers)
        {
            var mine = rows.Where(r => r.Controller == cc.ToString()).ToList();
            var failed = mine.Where(r => r.Failed.Length > 0).ToList();
            Console.WriteLine($"{cc}: {mine.Count - failed.Count}/{mine.Count} cells meet every target that applies; failing: {string.Join(", ", failed.Select(r => $"{r.Cell} [{r.Failed}]"))}");
        }

        Console.WriteLine($"Written to {Path.GetFullPath(output)}/sweep.csv and sweep.json");
        return 0;
    }

    private static IEnumerable<SweepCell> Cells()
    {
        foreach (int rate in Rates)
        {
            foreach (int rtt in Rtts)
            {
                foreach (double loss in Losses)
                {
                    yield return Single("loss", $"{rate}M {rtt}ms {loss * 100:0.#}%", rate, rtt, loss, 1);
                }
            }
        }

        foreach (int rtt in Rtts)
        {
            foreach (double buffer in new[] { 0.25, 4 })
            {
                foreach (double loss in new[] { 0, 0.01 })
                {
                    yield return Single("buffer", $"100M {rtt}ms {loss * 100:0.#}% {buffer}BDP", 100, rtt, loss, buffer);
                }
            }
        }

        foreach (int rtt in Rtts)
        {
            yield return Single("bursty", $"100M {rtt}ms GE 0.5%/30%/50%", 100, rtt, 0, 1) with { Burst = (0.005, 0.3, 0.5) };
        }

        foreach (int rtt in new[] { 10, 50 })
        {
            yield return new SweepCell
            {
                Group = "step", Name = $"100M {rtt}ms 100>25>100", RateBps = 100_000_000, QueueBdp = 1, RttMs = [rtt],
                Steps = [(1 / 3.0, 25_000_000), (2 / 3.0, 100_000_000)], DurationS = 12,
            };
        }

        foreach (var (rtts, competitor, name) in new (int[], int, string)[]
        {
            ([50, 50], -1, "2 flows 50/50ms"), ([25, 100], -1, "2 flows 25/100ms"),
            ([50, 50], 1, "vs CUBIC 50/50ms"), ([25, 100], 1, "vs CUBIC 25/100ms"), ([100, 25], 1, "vs CUBIC 100/25ms"),
        })
        {
            yield return new SweepCell
            {
                Group = "shared", Name = $"100M {name}", RateBps = 100_000_000, QueueBdp = 1, RttMs = rtts, Competitor = competitor,
                DurationS = 30, MeasureFromS = 10,
            };
        }
    }

    private static SweepCell Single(string group, string name, int rateMbps, int rtt, double loss, double buffer)
    {
        var cell = new SweepCell { Group = group, Name = name, RateBps = rateMbps * 1_000_000L, QueueBdp = buffer, Loss = loss, RttMs = [rtt], DurationS = 1 };
        double duration = Math.Max(2, 20 * cell.StartupEstimateS);
        duration = Math.Min(duration, cell.RateBps > 100_000_000 ? Math.Max(2, ByteBudget * 8 / cell.RateBps) : MaxDurationS);
        return cell with { DurationS = Math.Ceiling(duration * 10) / 10 };
    }
}
