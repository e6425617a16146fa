using ScottPlot;
using ScottPlot.MultiplotLayouts;
using SkiaSharp;

namespace Tou.Tool;

/// <summary>
/// The time-sequence graph of one connection trace (as tcptrace draws TCP's): data sent, retransmitted, acknowledged and
/// the peer's receive-window limit as stream offsets over time, with panels for RTT and the congestion window below.
/// </summary>
internal static class TracePlot
{
    public static void Save(QlogFile trace, string path, int width, int height)
    {
        var multiplot = Build(trace);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        switch (extension)
        {
            case ".png":
                multiplot.SavePng(path, width, height);
                break;
            case ".svg":
                using (var file = File.Create(path))
                {
                    using var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), file);
                    multiplot.Render(canvas, new PixelRect(new PixelSize(width, height)));
                }

                break;
            default:
                throw new UsageException($"bad output '{path}': expected a .svg or .png file name");
        }
    }

    private static Multiplot Build(QlogFile trace)
    {
        var series = TraceSeries.From(trace);
        var sequence = new Plot();
        var rtt = new Plot();
        var window = new Plot();
        SequencePanel(sequence, series, trace);
        Line(rtt, series.MetricsTime, series.SmoothedRtt, "smoothed RTT", Colors.Purple);
        Points(rtt, series.RttSampleTime, series.RttSample, "RTT samples", Colors.Gray, 2);
        rtt.YLabel("RTT (ms)");
        Line(window, series.MetricsTime, series.CongestionWindow, "congestion window", Colors.DarkOrange);
        Line(window, series.MetricsTime, series.BytesInFlight, "bytes in flight", Colors.SteelBlue);
        window.YLabel("KB");
        window.XLabel("time (s)");
        double end = Math.Max(series.End, 1e-3);
        rtt.Axes.AutoScale();
        window.Axes.AutoScale();
        foreach (var plot in new[] { sequence, rtt, window })
        {
            plot.Axes.SetLimitsX(0, end);
            plot.ShowLegend(Alignment.UpperLeft);
        }

        var multiplot = new Multiplot(sequence);
        multiplot.AddPlot(rtt);
        multiplot.AddPlot(window);
        var grid = new CustomGrid();
        grid.Set(sequence, new GridCell(0, 0, 5, 1, 3, 1));
        grid.Set(rtt, new GridCell(3, 0, 5, 1, 1, 1));
        grid.Set(window, new GridCell(4, 0, 5, 1, 1, 1));
        multiplot.Layout = grid;
        return multiplot;
    }

    private static void SequencePanel(Plot plot, TraceSeries s, QlogFile trace)
    {
        Points(plot, s.SentTime, s.SentOffset, s.Receiving ? "data received" : "data sent", Colors.Blue, 2);
        Points(plot, s.RetransmitTime, s.RetransmitOffset, "retransmitted", Colors.Red, 4);
        var acked = Line(plot, s.MetricsTime, s.Acknowledged, "acknowledged", Colors.Green);
        acked.ConnectStyle = ConnectStyle.StepHorizontal;
        var limit = Line(plot, s.MetricsTime, s.WindowLimit, "receive window", Colors.Orange);
        limit.ConnectStyle = ConnectStyle.StepHorizontal;
        Points(plot, s.LossTime, s.LossOffset, "loss detected", Colors.Black, 5);
        plot.Title($"{trace.Title} ({trace.VantagePoint}): time-sequence");
        plot.Axes.AutoScale();
        // A receive window far above the data would squash it into a line: the window shows only where it binds.
        double top = s.SentOffset.Concat(s.RetransmitOffset).Concat(s.Acknowledged).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimitsY(0, top * 1.1);
        plot.YLabel("stream offset (MB)");
    }

    private static ScottPlot.Plottables.Scatter Line(Plot plot, List<double> xs, List<double> ys, string label, Color color)
    {
        var line = plot.Add.Scatter(xs.Count > 0 ? xs.ToArray() : [0], ys.Count > 0 ? ys.ToArray() : [0]);
        line.LegendText = label;
        line.Color = color;
        line.MarkerSize = 0;
        line.LineWidth = 1.5f;
        return line;
    }

    private static void Points(Plot plot, List<double> xs, List<double> ys, string label, Color color, float size)
    {
        if (xs.Count == 0)
        {
            return;
        }

        var points = plot.Add.ScatterPoints(xs.ToArray(), ys.ToArray());
        points.LegendText = label;
        points.Color = color;
        points.MarkerSize = size;
    }
}
