using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests.Simulation;

/// <summary>With <see cref="TouOptions.RandomSource"/> seeded, a run is the same to the byte: ISNs, keys, tags and all.</summary>
public class ReproducibleRandomnessTests
{
    [Fact]
    public void Two_runs_from_one_seed_put_the_same_bytes_on_the_wire()
    {
        var first = Run(seed: 5);
        var second = Run(seed: 5);
        Assert.True(first.Count > 20, "the run must exchange enough packets to mean something");
        Assert.Equal(first.Count, second.Count);
        for (int i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i], second[i]);
        }
    }

    [Fact]
    public void Without_a_source_every_run_draws_new_numbers_and_keys()
    {
        var first = Run(seed: null);
        var second = Run(seed: null);
        Assert.NotEqual(first[0], second[0]); // the SYN's ISN
        Assert.NotEqual(first[1], second[1]); // the SYN+ACK: another ISN and another integrity secret
    }

    private static List<string> Run(int? seed)
    {
        TouOptions Options(int offset)
        {
            var options = new TouOptions();
            if (seed is { } s)
            {
                options.RandomSource = new Random(s + offset).NextBytes;
            }

            return options;
        }

        using var pair = new EnginePair(Options(1), Options(2));
        var (client, server) = pair.Establish();
        var clientApp = new StreamApp(client, StreamApp.RandomPayload(1, 50_000));
        var serverApp = new StreamApp(server, StreamApp.RandomPayload(2, 50_000));
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed);
        return pair.Trace.Select(p => $"{p.SentUs} {Convert.ToHexString(p.Datagram)}").ToList();
    }
}
