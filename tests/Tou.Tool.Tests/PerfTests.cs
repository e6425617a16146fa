using System.Net;
using System.Text.Json;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Tool.Tests;

/// <summary>`tou perf` client against `tou perf server` on loopback and through the impairing relay: JSON parsed, byte counts checked on both sides.</summary>
public class PerfTests
{
    private static readonly ToolConsole Quiet = new(TextWriter.Null, TextWriter.Null, () => Stream.Null, errorIsTerminal: false);

    private static async Task<(PerfServer Server, CancellationTokenSource Stop, Task<int> Serving)> StartServerAsync()
    {
        var server = PerfServer.Start(new IPEndPoint(IPAddress.Loopback, 0), PerfClientSettings.TransportOptions(null, TimeSpan.FromSeconds(10), null), Quiet);
        var stop = new CancellationTokenSource();
        await Task.Yield();
        return (server, stop, server.RunAsync(stop.Token));
    }

    [Theory]
    [InlineData("upload", 3_000_000L, 0L)]
    [InlineData("reverse", 0L, 3_000_000L)]
    [InlineData("bidir", 3_000_000L, 3_000_000L)]
    public async Task Client_and_server_on_loopback_agree_on_every_byte(string mode, long sent, long received)
    {
        var (server, stop, serving) = await StartServerAsync();
        await using (server)
        {
            var args = new List<string> { "perf", "client", server.LocalEndPoint.ToString(), "--bytes", "3M", "--json", "--parallel", "2" };
            if (mode != "upload")
            {
                args.Add(mode == "reverse" ? "--reverse" : "--bidir");
            }

            var run = await ToolRun.RunAsync([.. args]);
            Assert.True(run.ExitCode == 0, run.ToString());
            using var json = JsonDocument.Parse(run.Out);
            var root = json.RootElement;
            Assert.True(root.GetProperty("verified").GetBoolean());
            Assert.Equal(2 * sent, root.GetProperty("sent_bytes").GetInt64());
            Assert.Equal(2 * sent, root.GetProperty("server_received_bytes").GetInt64());
            Assert.Equal(2 * received, root.GetProperty("received_bytes").GetInt64());
            Assert.Equal(2 * received, root.GetProperty("server_sent_bytes").GetInt64());
            Assert.True(root.GetProperty(sent > 0 ? "sent_goodput_bps" : "received_goodput_bps").GetDouble() > 0);

            // The server side counted the same, connection by connection.
            for (int i = 0; i < 2; i++)
            {
                var flow = await server.Completed.ReadAsync();
                Assert.True(flow.Verified);
                Assert.Equal(sent, flow.ReceivedTotal);
                Assert.Equal(received, flow.SentTotal);
            }

            await stop.CancelAsync();
            Assert.Equal(2, await serving);
        }
    }

    [Fact]
    public async Task A_timed_run_through_the_lossy_relay_reports_intervals_and_matching_counts()
    {
        var (server, stop, serving) = await StartServerAsync();
        await using (server)
        {
            var path = new LinkProfile { Delay = TimeSpan.FromMilliseconds(5), LossRate = 0.02 };
            await using var relay = ImpairmentRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), server.LocalEndPoint, path, path, seed: 3);
            var run = await ToolRun.RunAsync("perf", "client", relay.LocalEndPoint.ToString(), "--time", "1.5", "--interval", "0.5", "--json");
            Assert.True(run.ExitCode == 0, run.ToString());
            using var json = JsonDocument.Parse(run.Out);
            var root = json.RootElement;
            long sent = root.GetProperty("sent_bytes").GetInt64();
            Assert.True(sent > 0);
            Assert.Equal(sent, root.GetProperty("server_received_bytes").GetInt64());
            Assert.True(root.GetProperty("sent_goodput_bps").GetDouble() > 0);
            Assert.NotEqual(0, root.GetProperty("intervals").GetArrayLength());
            Assert.True(relay.ClientToServer.Lost > 0); // the path really was lossy
            Assert.True(root.GetProperty("retransmissions").GetInt64() > 0);
            var flow = await server.Completed.ReadAsync();
            Assert.Equal(sent, flow.ReceivedTotal);
            await stop.CancelAsync();
            await serving;
        }
    }

    [Fact]
    public async Task Text_output_has_a_heading_intervals_and_a_verified_summary()
    {
        var (server, stop, serving) = await StartServerAsync();
        await using (server)
        {
            var run = await ToolRun.RunAsync("perf", "client", server.LocalEndPoint.ToString(), "--bytes", "1M");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("[ ID] dir", run.Out, StringComparison.Ordinal);
            Assert.Contains("verified: sent 1000000 B, server received 1000000 B", run.Out, StringComparison.Ordinal);
            await stop.CancelAsync();
            await serving;
        }
    }
}
