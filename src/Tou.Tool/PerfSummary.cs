using System.Text;
using System.Text.Json;

namespace Tou.Tool;

/// <summary>The end of a perf run: totals, whether both sides counted the same bytes, as text or JSON.</summary>
internal sealed class PerfSummary(string remote, PerfClientSettings settings, PerfFlow[] flows, TimeSpan elapsed, bool interrupted, IReadOnlyList<PerfInterval> intervals)
{
    public long SentBytes => flows.Sum(f => interrupted ? f.Sent.Value : f.SentTotal);

    public long ReceivedBytes => flows.Sum(f => interrupted ? f.Received.Value : f.ReceivedTotal);

    public bool Verified => !interrupted && flows.All(f => f.Verified);

    public static IEnumerable<PerfInterval> Sum(IReadOnlyList<PerfInterval> lines) =>
        lines.GroupBy(l => l.Direction).Select(g => new PerfInterval(
            0, g.Key, g.First().Start, g.First().End, g.Sum(l => l.Bytes), g.Average(l => l.RttMs),
            SumKnown(g, l => l.CongestionWindow), SumKnown(g, l => l.BytesInFlight), SumKnown(g, l => l.Retransmissions), SumKnown(g, l => l.Lost)));

    private static long SumKnown(IEnumerable<PerfInterval> lines, Func<PerfInterval, long> field) => lines.Any(l => field(l) < 0) ? -1 : lines.Sum(field);

    public string ToText()
    {
        var text = new StringBuilder();
        double seconds = elapsed.TotalSeconds;
        var final = Final();
        text.AppendLine("- - - - - - - - - - - - - - - - - - - - - - - - -");
        if (settings.Mode != PerfMode.Download)
        {
            text.AppendLine(PerfFormat.Invariant($"[SUM] tx   0.00-{seconds,-6:0.00} s  {PerfFormat.Bytes(SentBytes),10}  {PerfFormat.Rate(SentBytes * 8 / seconds),14}  retr {final.Retransmissions}  lost {final.SegmentsLost}  sender"));
        }

        if (settings.Mode != PerfMode.Upload)
        {
            text.AppendLine(PerfFormat.Invariant($"[SUM] rx   0.00-{seconds,-6:0.00} s  {PerfFormat.Bytes(ReceivedBytes),10}  {PerfFormat.Rate(ReceivedBytes * 8 / seconds),14}  receiver"));
        }

        if (interrupted)
        {
            text.AppendLine("interrupted: totals are what this side counted so far");
        }
        else
        {
            text.AppendLine(PerfFormat.Invariant(
                $"{(Verified ? "verified" : "MISMATCH")}: sent {SentBytes} B, server received {flows.Sum(f => f.PeerReceived)} B; server sent {flows.Sum(f => f.PeerSent)} B, received {ReceivedBytes} B"));
        }

        return text.ToString();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            var final = Final();
            json.WriteStartObject();
            json.WriteString("target", remote);
            json.WriteString("mode", settings.Mode.ToString().ToLowerInvariant());
            json.WriteNumber("parallel", flows.Length);
            json.WriteNumber("seconds", elapsed.TotalSeconds);
            json.WriteBoolean("interrupted", interrupted);
            json.WriteBoolean("verified", Verified);
            json.WriteNumber("sent_bytes", SentBytes);
            json.WriteNumber("received_bytes", ReceivedBytes);
            json.WriteNumber("server_received_bytes", flows.Sum(f => Math.Max(0, f.PeerReceived)));
            json.WriteNumber("server_sent_bytes", flows.Sum(f => Math.Max(0, f.PeerSent)));
            json.WriteNumber("sent_goodput_bps", SentBytes * 8 / elapsed.TotalSeconds);
            json.WriteNumber("received_goodput_bps", ReceivedBytes * 8 / elapsed.TotalSeconds);
            json.WriteNumber("retransmissions", final.Retransmissions);
            json.WriteNumber("segments_lost", final.SegmentsLost);
            json.WriteNumber("data_packets_sent", final.DataPacketsSent);
            json.WriteStartArray("intervals");
            foreach (var i in intervals)
            {
                json.WriteStartObject();
                json.WriteNumber("flow", i.Flow);
                json.WriteString("direction", i.Direction);
                json.WriteNumber("start", i.Start);
                json.WriteNumber("end", i.End);
                json.WriteNumber("bytes", i.Bytes);
                json.WriteNumber("goodput_bps", i.GoodputBitsPerSecond);
                json.WriteNumber("rtt_ms", i.RttMs);
                // null where this side cannot know (the sender's window and losses, seen from the receiver)
                WriteKnown(json, "cwnd", i.CongestionWindow);
                WriteKnown(json, "bytes_in_flight", i.BytesInFlight);
                WriteKnown(json, "retransmissions", i.Retransmissions);
                WriteKnown(json, "lost", i.Lost);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + Environment.NewLine;
    }

    private static void WriteKnown(Utf8JsonWriter json, string name, long value)
    {
        if (value < 0)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteNumber(name, value);
        }
    }

    private EngineSnapshot Final()
    {
        var finals = flows.Select(f => f.Final == default ? EngineSnapshot.Take(f.Connection) : f.Final).ToList();
        return new EngineSnapshot(
            finals.Sum(f => f.BytesAcknowledged), (long)finals.Average(f => f.SmoothedRttUs), finals.Sum(f => f.CongestionWindow), finals.Sum(f => f.BytesInFlight),
            finals.Sum(f => f.Retransmissions), finals.Sum(f => f.SegmentsLost), finals.Sum(f => f.DataPacketsSent), finals.Sum(f => f.PacketsSent), finals.Sum(f => f.PacketsReceived));
    }
}
