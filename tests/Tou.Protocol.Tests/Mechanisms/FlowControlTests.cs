using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public class FlowControlTests : MechanismTestBase
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_reader_that_stops_closes_the_window_the_sender_probes_and_resumes(bool extensions)
    {
        var options = new TouOptions { EnableExtensions = extensions, ReceiveBufferSize = 64 * 1024 };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 1_000_000, 0);
        bool reading = false;
        serverApp.ReadGate = () => reading;
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };

        // The sender fills the window and stops; then probes.
        pair.RunUntil(() => client.Stats.ZeroWindowProbes >= 3);
        Assert.Equal(0, client.BytesInFlight);
        Assert.True(server.ReadableBytes >= 60_000, $"only {server.ReadableBytes} bytes buffered");
        var probes = pair.Trace.Where(p => p.ToServer && p.Header.PayloadLength == 0 && p.SentUs > pair.Trace[^1].SentUs - 60_000_000).ToList();
        Assert.Contains(probes, p => extensions ? (p.Header.Flags & TouFlags.Ping) != 0 : p.Header.Flags == TouFlags.None);

        reading = true;
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.Equal(0, server.Stats.BytesBeyondWindow);
    }

    [Fact]
    public void A_reader_that_pauses_for_a_while_gets_everything()
    {
        // The reader takes 3,000 bytes per step of the harness, and steps come with packets: discovery off keeps the
        // packet count (and so the reading pace) of the initial datagram size (EnginePair's link has no MTU).
        var options = new TouOptions { EnablePathMtuDiscovery = false };
        using var pair = new EnginePair(options, new TouOptions { ReceiveBufferSize = 128 * 1024, EnablePathMtuDiscovery = false });
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 3_000_000, 0);
        long pauseEnd = pair.NowUs + 30_000_000;
        serverApp.ReadGate = () => pair.NowUs > pauseEnd || pair.NowUs < pauseEnd - 29_000_000;
        serverApp.MaxReadPerCall = 3000; // and then reads slowly
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.Equal(0, server.Stats.BytesBeyondWindow);
    }

    [Fact]
    public void Window_scaling_lets_more_than_64_KiB_fly()
    {
        using var pair = new EnginePair(oneWayDelayUs: 50_000);
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 8_000_000, 0);
        long maxInFlight = 0;
        pair.Application = () => { clientApp.Run(); serverApp.Run(); maxInFlight = Math.Max(maxInFlight, client.BytesInFlight); };
        pair.RunUntil(() => serverApp.ReceivedBytes == 8_000_000);
        Assert.True(maxInFlight > 1_000_000, $"at most {maxInFlight} bytes were in flight");
    }
}
