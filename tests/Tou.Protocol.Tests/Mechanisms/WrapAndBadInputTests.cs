using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public class WrapAndBadInputTests : MechanismTestBase
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transfers_across_the_sequence_wrap_are_byte_exact(bool extensions)
    {
        using var pair = new EnginePair(
            new TouOptions { EnableExtensions = extensions, IsnGenerator = () => 0xFFFFF000 },
            new TouOptions { EnableExtensions = extensions, IsnGenerator = () => 0xFFFFFF00 });
        var (client, server) = pair.Establish();
        var (clientApp, serverApp) = Apps(client, server, 1_000_000, 1_000_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        Assert.Contains(pair.Trace, p => p.ToServer && p.Header.SequenceNumber < 0x1000_0000); // it did wrap
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Malformed_and_hostile_datagrams_are_dropped_and_counted_and_the_connection_keeps_working(bool integrity)
    {
        var options = new TouOptions { EnableIntegrity = integrity };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        var last = pair.Trace.Last(p => p.ToServer).Header;
        var rng = new Random(9);
        var barrage = new List<byte[]>
        {
            new byte[5],                                             // shorter than a header
            Header(TouFlags.Ack, last.SequenceNumber, last.AcknowledgementNumber, declared: 500, actual: 10), // payload_len beyond the datagram
            Header((TouFlags)0x40, last.SequenceNumber, last.AcknowledgementNumber),  // reserved flag
            Header((TouFlags)0x84, last.SequenceNumber, last.AcknowledgementNumber),  // reserved flag with ACK
            Header(TouFlags.Syn, 12345, 0),                           // SYN mid-connection
            Header(TouFlags.Ack, last.SequenceNumber + 2_000_000_000, last.AcknowledgementNumber, declared: 100, actual: 100), // data far outside the window
            Header(TouFlags.Ack, last.SequenceNumber, last.AcknowledgementNumber + 1_000_000), // ACK of data never sent
            Header(TouFlags.Ack | TouFlags.Options, last.SequenceNumber, last.AcknowledgementNumber, declared: 3, actual: 3), // option block longer than the payload
        };
        for (int i = 0; i < 200; i++)
        {
            var garbage = new byte[rng.Next(0, 1500)];
            rng.NextBytes(garbage);
            barrage.Add(garbage);
        }

        // Every one of the 256 flag combinations from a blind attacker (numbers it cannot know), with and without a payload.
        for (int flags = 0; flags < 256; flags++)
        {
            uint blindSeq = last.SequenceNumber + 100_000_000u + (uint)rng.Next(0, 1_000_000_000);
            uint blindAck = last.AcknowledgementNumber + 100_000_000u + (uint)rng.Next(0, 1_000_000_000);
            barrage.Add(Header((TouFlags)flags, blindSeq, blindAck, declared: flags % 3 == 0 ? 40 : 0, actual: flags % 3 == 0 ? 40 : 0));
        }

        // Wrong ports: informational on the wire, so they must change nothing.
        var wrongPorts = Header(TouFlags.Ack, last.SequenceNumber, last.AcknowledgementNumber);
        wrongPorts[0] = 0xFF;
        wrongPorts[3] = 0x01;
        barrage.Add(wrongPorts);

        foreach (var datagram in barrage)
        {
            pair.Inject(toServer: true, datagram);
        }

        pair.RunUntil(() => pair.Server.Stats.DatagramsReceived >= barrage.Count + 3);
        Assert.True(server.Stats.PacketsDropped >= 100, $"only {server.Stats.PacketsDropped} dropped");
        if (integrity)
        {
            // Nothing a blind attacker sends carries a valid tag: every well-formed non-RST packet (32 flag combinations
            // and 6 crafted ones) is dropped before it is looked at, and none draws a challenge ACK.
            Assert.True(server.Stats.IntegrityFailures >= 38, $"only {server.Stats.IntegrityFailures} integrity failures");
        }
        else
        {
            Assert.True(server.Stats.ChallengeAcks >= 1);
        }

        Assert.Equal(TouConnectionState.Established, server.State);

        var (clientApp, serverApp) = Apps(client, server, 300_000, 300_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    private static byte[] Header(TouFlags flags, uint seq, uint ack, int declared = 0, int actual = 0)
    {
        var bytes = new byte[TouHeader.Size + actual];
        new TouHeader { SourcePort = 40000, DestinationPort = 5000, SequenceNumber = seq, AcknowledgementNumber = ack, Flags = flags, Window = 100, PayloadLength = (ushort)declared, Mss = 1000 }.Write(bytes);
        if (flags.HasFlag(TouFlags.Options) && actual > 0)
        {
            bytes[TouHeader.Size] = 200; // claims 200 bytes of options
        }

        return bytes;
    }
}
