namespace Tou.Tool;

/// <summary>The numbers a trace plot draws, pulled out of the events (seconds, MB, ms, KB).</summary>
internal sealed class TraceSeries
{
    public List<double> SentTime { get; } = [];

    public List<double> SentOffset { get; } = [];

    public List<double> RetransmitTime { get; } = [];

    public List<double> RetransmitOffset { get; } = [];

    public List<double> LossTime { get; } = [];

    public List<double> LossOffset { get; } = [];

    public List<double> MetricsTime { get; } = [];

    public List<double> Acknowledged { get; } = [];

    public List<double> WindowLimit { get; } = [];

    public List<double> SmoothedRtt { get; } = [];

    public List<double> CongestionWindow { get; } = [];

    public List<double> BytesInFlight { get; } = [];

    public List<double> RttSampleTime { get; } = [];

    public List<double> RttSample { get; } = [];

    /// <summary>The trace's side sent no data: its sequence panel shows what it received.</summary>
    public bool Receiving { get; private set; }

    public double End { get; private set; }

    public static TraceSeries From(QlogFile trace)
    {
        var s = new TraceSeries();
        bool sentData = trace.Events.Any(e => e.Name == "transport:packet_sent" && e.PacketType == "data");
        s.Receiving = !sentData;
        string dataEvent = sentData ? "transport:packet_sent" : "transport:packet_received";
        double lastAcked = 0;
        foreach (var e in trace.Events)
        {
            double t = e.Time / 1000;
            s.End = Math.Max(s.End, t);
            if (e.Name == dataEvent && e.PacketType == "data" && e.Long("offset") is >= 0 and var offset)
            {
                double top = (offset + e.Raw("payload_length")) / 1e6;
                (e.Flag("retransmission") ? s.RetransmitTime : s.SentTime).Add(t);
                (e.Flag("retransmission") ? s.RetransmitOffset : s.SentOffset).Add(top);
            }
            else if (e.Name == "recovery:packet_lost")
            {
                s.LossTime.Add(t);
                s.LossOffset.Add(lastAcked);
            }
            else if (e.Name == "recovery:metrics_updated")
            {
                lastAcked = e.Long("bytes_acknowledged", 0) / 1e6;
                s.MetricsTime.Add(t);
                s.Acknowledged.Add(lastAcked);
                s.WindowLimit.Add(e.Long("window_limit", 0) / 1e6);
                s.SmoothedRtt.Add(e.Double("smoothed_rtt", 0));
                s.CongestionWindow.Add(e.Long("congestion_window", 0) / 1e3);
                s.BytesInFlight.Add(e.Long("bytes_in_flight", 0) / 1e3);
                if (e.Double("latest_rtt") is var sample && !double.IsNaN(sample))
                {
                    s.RttSampleTime.Add(t);
                    s.RttSample.Add(sample);
                }
            }
        }

        return s;
    }
}
