using System.Net;
using System.Text;
using Tou.Protocol;

namespace Tou.Tool.Tests;

/// <summary>Connection traces: a simulated lossy transfer's trace is valid JSON-SEQ, its events add up to the connection's
/// counters, and `tou trace plot` draws it; `tou perf --trace` writes one per connection on real sockets.</summary>
public class TraceTests
{
    [Fact]
    public async Task A_lossy_simulated_transfer_traces_events_that_reconcile_with_the_counters_and_plots()
    {
        string dir = Directory.CreateTempSubdirectory("tou-trace-").FullName;
        try
        {
            var path = new SimulatedPath(Loss: 0.03, Rtt: TimeSpan.FromMilliseconds(40), Rate: 20_000_000, Size: 1_000_000, QueueKiB: 0);
            var options = new TouOptions { IdleTimeout = TimeSpan.FromMinutes(10) };
            var result = SimulateCommand.Run(path, seed: 5, both: false, options, dir);
            Assert.True(result.Completed && result.BytesExact, result.Failure);
            Assert.True(result.ServerStats.Retransmissions > 0); // the path was lossy enough to show recovery

            var server = QlogFile.Read(Directory.GetFiles(dir, "*-server-*.sqlog").Single());
            var client = QlogFile.Read(Directory.GetFiles(dir, "*-client-*.sqlog").Single());
            Assert.Equal("server", server.VantagePoint);
            Assert.Equal("client", client.VantagePoint);
            Reconcile(server, result.ServerStats);
            Reconcile(client, result.ClientStats);

            // Every byte of the download appears as sent data: the highest segment end is the transfer's length.
            long top = server.Events.Where(e => e.Name == "transport:packet_sent" && e.PacketType == "data").Max(e => e.Long("offset") + e.Raw("payload_length"));
            Assert.Equal(path.Size, top);
            Assert.Equal("closed", server.Events.Last(e => e.Name == "connectivity:connection_state_updated").Data.GetProperty("new").GetString());

            foreach (var image in new[] { "graph.svg", "graph.png" })
            {
                var run = await ToolRun.RunAsync("trace", "plot", Directory.GetFiles(dir, "*-server-*.sqlog").Single(), "-o", Path.Combine(dir, image));
                Assert.True(run.ExitCode == 0, run.ToString());
            }

            var png = await File.ReadAllBytesAsync(Path.Combine(dir, "graph.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            string svg = await File.ReadAllTextAsync(Path.Combine(dir, "graph.svg"));
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
            Assert.Contains("retransmitted", svg, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_JSON_SEQ_is_rejected()
    {
        Assert.Throws<InvalidDataException>(() => QlogFile.Parse(Encoding.UTF8.GetBytes("{\"qlog_format\":\"JSON-SEQ\"}\n")));
        Assert.Throws<InvalidDataException>(() => QlogFile.Parse(Encoding.UTF8.GetBytes("\u001e{\"qlog_format\":\"JSON-SEQ\"}\n\u001e{\"time\":1}\n")));
        Assert.Throws<InvalidDataException>(() => QlogFile.Parse(Encoding.UTF8.GetBytes("\u001e{\"qlog_format\":\"JSON-SEQ\"}")));
    }

    [Fact]
    public async Task Perf_with_trace_writes_a_valid_trace_per_connection_on_both_sides()
    {
        string dir = Directory.CreateTempSubdirectory("tou-perf-trace-").FullName;
        try
        {
            var quiet = new ToolConsole(TextWriter.Null, TextWriter.Null, () => Stream.Null, errorIsTerminal: false);
            var server = PerfServer.Start(new IPEndPoint(IPAddress.Loopback, 0), PerfClientSettings.TransportOptions(null, TimeSpan.FromSeconds(10), Path.Combine(dir, "server")), quiet);
            using var stop = new CancellationTokenSource();
            var serving = server.RunAsync(stop.Token);
            var run = await ToolRun.RunAsync("perf", "client", server.LocalEndPoint.ToString(), "--bytes", "500K", "--trace", Path.Combine(dir, "client"));
            Assert.True(run.ExitCode == 0, run.ToString());
            await server.Completed.ReadAsync();
            await stop.CancelAsync();
            await serving;
            await server.DisposeAsync();

            var clientTrace = QlogFile.Read(Directory.GetFiles(Path.Combine(dir, "client"), "*.sqlog").Single());
            var serverTrace = QlogFile.Read(Directory.GetFiles(Path.Combine(dir, "server"), "*.sqlog").Single());
            // Header, payload and trailer: sent once each as new data (retransmissions apart), and all of it arrived.
            long sentData = clientTrace.Events.Where(e => e.Name == "transport:packet_sent" && e.PacketType == "data" && !e.Flag("retransmission")).Sum(e => e.Raw("payload_length"));
            long receivedEnd = serverTrace.Events.Where(e => e.Name == "transport:packet_received" && e.PacketType == "data").Max(e => e.Long("offset") + e.Raw("payload_length"));
            Assert.Equal(PerfProtocol.HeaderSize + 500_000 + PerfProtocol.ClientTrailerSize, sentData);
            Assert.Equal(sentData, receivedEnd);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Reconcile(QlogFile trace, TouConnectionStats stats)
    {
        var sent = trace.Events.Where(e => e.Name == "transport:packet_sent").ToList();
        Assert.Equal(stats.PacketsSent, sent.Count);
        Assert.Equal(stats.BytesSent, sent.Sum(e => e.Raw("length")));
        Assert.Equal(stats.Retransmissions, sent.Count(e => e.Flag("retransmission")));
        Assert.Equal(stats.PacketsReceived, trace.Events.Count(e => e.Name == "transport:packet_received"));
        Assert.Equal(stats.SegmentsLost, trace.Events.Where(e => e.Name == "recovery:packet_lost").Sum(e => e.Long("lost_segments")));
        Assert.Equal(stats.RttSamples, trace.Events.Count(e => e.Name == "recovery:metrics_updated" && !double.IsNaN(e.Double("latest_rtt"))));
        Assert.Equal(stats.TailLossProbes, trace.Events.Count(e => e.Name == "recovery:loss_timer_updated"));
    }
}
