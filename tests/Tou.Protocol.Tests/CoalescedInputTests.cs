using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests;

/// <summary>Receive offload hands over back-to-back packets in one buffer; the endpoint splits them by payload_len.</summary>
public class CoalescedInputTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Back_to_back_packets_of_a_connection_are_split_and_delivered_in_order(bool checksum)
    {
        var options = new TouOptions { EnableIntegrity = checksum };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        var payload = StreamApp.RandomPayload(3, 100_000);
        client.Write(payload);

        // Take the client's datagrams off the link and glue runs of them together, as GRO would.
        var buffer = new byte[65_536];
        var glued = new List<byte[]>();
        var run = new List<byte>();
        int n, inRun = 0;
        while ((n = pair.Client.PollTransmit(pair.NowUs, buffer, out _)) > 0)
        {
            run.AddRange(buffer.AsSpan(0, n).ToArray());
            if (++inRun == 4)
            {
                glued.Add(run.ToArray());
                run.Clear();
                inRun = 0;
            }
        }

        if (run.Count > 0)
        {
            glued.Add(run.ToArray());
        }

        Assert.True(glued.Count >= 2);
        foreach (var chunk in glued)
        {
            pair.Server.HandleCoalesced(pair.NowUs, EnginePair.ClientAddress, chunk);
        }

        var received = new byte[payload.Length];
        int total = 0;
        while (total < received.Length && (n = server.Read(received.AsSpan(total))) > 0)
        {
            total += n;
        }

        Assert.True(total >= 10 * client.SendMss, $"only {total} bytes arrived"); // the whole initial window
        Assert.True(received.AsSpan(0, total).SequenceEqual(payload.AsSpan(0, total)));
        Assert.Equal(0, server.Stats.PacketsDropped);
    }
}
