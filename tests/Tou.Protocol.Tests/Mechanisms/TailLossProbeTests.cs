using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests.Mechanisms;

/// <summary>
/// Tail loss probes (RFC 8985 §7): a loss at the end of a burst, which no later segment can reveal to RACK, is repaired
/// after a probe two round trips on instead of after the retransmission timer.
/// </summary>
public class TailLossProbeTests : MechanismTestBase
{
    // 3,000 bytes leave as two full segments and a short last one; the FIN follows.
    private const int MessageBytes = 3_000;

    private static TouOptions Options(bool sack = true) => new() { EnableSack = sack, EnablePathMtuDiscovery = false };

    private static bool IsShortData(WirePacket p) => p.ToServer && IsData(p) && p.Header.PayloadLength < 1_000;

    /// <summary>Sends the message and the FIN, loses the message's short last segment once, and checks both ends byte-exact.</summary>
    private static TouConnection TransferLosingTheLastSegmentOnce(EnginePair pair)
    {
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, MessageBytes, 0);
        bool dropped = false;
        pair.Filter = p => !(IsShortData(p) && !dropped && (dropped = true));
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.True(dropped);
        return client;
    }

    [Fact]
    public void A_lost_last_segment_is_repaired_after_a_probe_not_the_retransmission_timer()
    {
        var trace = new MemoryStream();
        var clientOptions = Options();
        clientOptions.ConnectionTrace = _ => trace;
        using var pair = new EnginePair(clientOptions, Options());
        var client = TransferLosingTheLastSegmentOnce(pair);
        Assert.Equal(1, client.Stats.TailLossProbes);
        Assert.Equal(0, client.Stats.RetransmissionTimeouts);
        Assert.Equal(0, client.Stats.SpuriousRetransmissions);

        // The probe resent the lost data, not the FIN behind it: a FIN is never SACKed, so its ACK would show nothing.
        var shortSegments = pair.Trace.Where(IsShortData).ToList();
        Assert.Equal(2, shortSegments.Count);
        Assert.Equal(shortSegments[0].Header.SequenceNumber, shortSegments[1].Header.SequenceNumber);

        // The trace shows the probe's timer (written out when the connection's trace ends).
        pair.Dispose();
        string qlog = System.Text.Encoding.UTF8.GetString(trace.ToArray()); // JSON-SEQ: records after RS characters
        Assert.Single(qlog.Split('\x1e'), e => e.Contains("\"recovery:loss_timer_updated\"") && e.Contains("\"timer_type\":\"pto\""));
    }

    [Fact]
    public void Without_sack_there_is_no_probe_and_the_retransmission_timer_repairs_the_tail()
    {
        using var pair = new EnginePair(Options(sack: false), Options(sack: false));
        var client = TransferLosingTheLastSegmentOnce(pair);
        Assert.Equal(0, client.Stats.TailLossProbes);
        Assert.True(client.Stats.RetransmissionTimeouts >= 1);
    }
}
