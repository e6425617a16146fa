using System.Globalization;
using Tou.Protocol;
using Tou.Simulation;

namespace Tou.Simulate;

/// <summary>One cell's figures for one controller, and the issue's targets it misses.</summary>
internal sealed record SweepRow
{
    public const string Header = "group   cell                               cc       goodput  retx%   q50ms  q95ms  q95/RTT  shares        Jain   settle(RTTs)  long  failed";
    public const string CsvHeader = "group,cell,controller,duration_s,goodput_fraction,retransmitted_fraction,queue_p50_ms,queue_p95_ms,queue_p95_over_rtt,shares,jain,settle_rtts,startup_under_tenth,failed,wall_s";

    public required string Group { get; init; }
    public required string Cell { get; init; }
    public required string Controller { get; init; }
    public required double DurationS { get; init; }
    public required double GoodputFraction { get; init; }
    public required double RetransmittedFraction { get; init; }
    public required double QueueP50Ms { get; init; }
    public required double QueueP95Ms { get; init; }
    public required double QueueP95OverRtt { get; init; }
    public required double[] Shares { get; init; }
    public required double Jain { get; init; }
    public required int[] SettleRtts { get; init; }
    public required bool StartupUnderTenth { get; init; }
    public required string Failed { get; init; }
    public required double WallS { get; init; }

    public static SweepRow From(SweepCell cell, CongestionControlAlgorithm cc, BottleneckResult result, double wallS)
    {
        double window = cell.DurationS - cell.MeasureFromS;
        double capacity = AverageCapacity(cell, cell.MeasureFromS, cell.DurationS) * (1 - cell.EffectiveLoss);
        double total = result.Flows.Sum(f => f.GoodputBitsPerSecond);
        var tested = result.Flows.Where((_, i) => i != cell.Competitor).ToList();
        double retx = tested.Sum(f => f.Retransmissions) / (double)Math.Max(1, tested.Sum(f => f.DataPacketsSent));
        double rtt = cell.RttMs.Min() / 1000.0;
        var settle = cell.Steps.Length == 0 ? [] : Settle(cell, result.Flows[0]);
        var row = new SweepRow
        {
            Group = cell.Group, Cell = cell.Name, Controller = cc.ToString(), DurationS = window,
            GoodputFraction = total / capacity,
            RetransmittedFraction = retx,
            QueueP50Ms = result.QueueDelayP50Us / 1000.0,
            QueueP95Ms = result.QueueDelayP95Us / 1000.0,
            QueueP95OverRtt = result.QueueDelayP95Us / 1e6 / rtt,
            Shares = result.Flows.Count > 1 ? result.Flows.Select(f => total > 0 ? f.GoodputBitsPerSecond / total : 0).ToArray() : [],
            Jain = result.JainIndex,
            SettleRtts = settle,
            StartupUnderTenth = cell.StartupEstimateS <= cell.DurationS / 10,
            Failed = "",
            WallS = wallS,
        };
        return row with { Failed = string.Join(' ', Misses(cell, row)) };
    }

    /// <summary>The issue's targets this row misses (only those that apply to the cell).</summary>
    private static IEnumerable<string> Misses(SweepCell cell, SweepRow row)
    {
        double loss = cell.EffectiveLoss;
        bool single = cell.RttMs.Length == 1 && cell.Steps.Length == 0;
        if (single && cell.QueueBdp >= 1 && row.StartupUnderTenth && loss <= 0.05)
        {
            double need = loss <= 0.02 ? 0.90 : 0.75;
            if (row.GoodputFraction < need)
            {
                yield return $"goodput<{need:0.##}";
            }
        }

        if (row.RetransmittedFraction > loss + 0.02)
        {
            yield return "retx>loss+2%";
        }

        if (single && loss == 0 && cell.QueueBdp > 1 && row.QueueP95OverRtt > 0.25)
        {
            yield return "q95>RTT/4";
        }

        if (cell.RttMs.Length == 2 && cell.Competitor < 0 && row.Jain < (cell.RttMs[0] == cell.RttMs[1] ? 0.95 : 0.8))
        {
            yield return "jain";
        }

        if (cell.Competitor >= 0 && row.Shares.Any(s => s < 1 / 3.0 || s > 2 / 3.0))
        {
            yield return "share";
        }

        if (row.SettleRtts.Any(s => s > 10))
        {
            yield return "step>10RTT";
        }
    }

    private static double AverageCapacity(SweepCell cell, double fromS, double toS)
    {
        double sum = 0;
        const int slices = 1000;
        for (int i = 0; i < slices; i++)
        {
            sum += CapacityAt(cell, fromS + ((toS - fromS) * (i + 0.5) / slices));
        }

        return sum / slices;
    }

    private static double CapacityAt(SweepCell cell, double atS)
    {
        double rate = cell.RateBps;
        foreach (var (at, bps) in cell.Steps)
        {
            if (atS >= at * cell.DurationS)
            {
                rate = bps;
            }
        }

        return rate;
    }

    /// <summary>RTTs after each step until the rate over the next three RTTs is within 10% of the new capacity × (1 − loss).</summary>
    private static int[] Settle(SweepCell cell, FlowOutcome flow)
    {
        double rtt = cell.RttMs[0] / 1000.0;
        var series = flow.ReadSeries;
        var result = new List<int>();
        foreach (var (at, bps) in cell.Steps)
        {
            int start = (int)Math.Ceiling(at * cell.DurationS / rtt);
            double target = bps * (1 - cell.EffectiveLoss);
            int settled = -1;
            for (int j = 0; start + j + 3 < series.Count; j++)
            {
                double rate = (series[start + j + 3] - series[start + j]) * 8 / (3 * rtt);
                if (Math.Abs(rate - target) <= 0.1 * target)
                {
                    settled = j;
                    break;
                }
            }

            result.Add(settled < 0 ? 999 : settled);
        }

        return [.. result];
    }

    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"{Group,-7} {Cell,-34} {Controller,-7} {GoodputFraction,7:P1} {RetransmittedFraction * 100,6:0.00} {QueueP50Ms,6:0.0} {QueueP95Ms,6:0.0} {QueueP95OverRtt,7:0.00}  {Join(Shares),-12} {(Shares.Length > 0 ? Jain.ToString("0.000", CultureInfo.InvariantCulture) : ""),5}  {string.Join('/', SettleRtts),-12}  {(StartupUnderTenth ? "yes" : "no"),-4}  {Failed}");

    public string Csv() => string.Create(CultureInfo.InvariantCulture,
        $"{Group},{Cell},{Controller},{DurationS:0.0},{GoodputFraction:0.0000},{RetransmittedFraction:0.00000},{QueueP50Ms:0.00},{QueueP95Ms:0.00},{QueueP95OverRtt:0.000},{Join(Shares)},{(Shares.Length > 0 ? Jain : double.NaN):0.0000},{string.Join('/', SettleRtts)},{StartupUnderTenth},{Failed},{WallS:0.0}");

    private static string Join(double[] shares) => string.Join('/', shares.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)));
}
