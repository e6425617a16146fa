using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;
using Tou.Simulation;

namespace Tou.Protocol.Tests.Security;

/// <summary>
/// An off-path attacker knows both addresses and ports but never sees a packet. While a client and a server
/// move 4 MiB each way, it sprays packets from the client's address into the server and from the server's
/// address into the client, sweeping the whole 32-bit sequence space so that some of them land in the
/// receive window. None of them may change a delivered byte, stall the transfer or keep a connection open:
/// both streams arrive byte-exact, both sides close gracefully, and nothing is left behind.
/// </summary>
/// <remarks>
/// Deterministic: the simulated network, the payloads and the attacker all draw from fixed seeds, and the
/// attack is scheduled on the virtual clock. The whole attack happens while both transfers are under way
/// (checked), so a fast transfer cannot make the test vacuous.
/// </remarks>
public class BlindInjectionTests
{
    private const int TransferBytes = 4 << 20;
    private const int PayloadBytes = 1000;
    private const long AttackStartUs = 50_000;
    private const long AttackSpreadUs = 500_000;

    /// <summary>(a) 2,048 data packets without any flag, sequence numbers 2 MiB apart: one sweep of the 32-bit space.</summary>
    [Fact]
    public void Data_without_flags_swept_across_the_sequence_space_is_never_delivered()
    {
        RunAttack(seed: 1, (random, schedule) =>
        {
            uint start = (uint)random.NextInt64();
            for (int i = 0; i < 2048; i++)
            {
                schedule(TouFlags.None, start + (uint)(i << 21), (uint)random.NextInt64(), PayloadBytes);
            }
        });
    }

    /// <summary>(b) Eight sweeps of ACK-flagged data packets, 2 MiB apart, each with a random acknowledgement number.</summary>
    [Fact]
    public void Data_with_random_acknowledgement_numbers_swept_eight_times_is_never_delivered()
    {
        RunAttack(seed: 2, (random, schedule) =>
        {
            for (int sweep = 0; sweep < 8; sweep++)
            {
                uint start = (uint)random.NextInt64();
                for (int i = 0; i < 2048; i++)
                {
                    schedule(TouFlags.Ack, start + (uint)(i << 21), (uint)random.NextInt64(), PayloadBytes);
                }
            }
        });
    }

    /// <summary>(c) FINs without ACK, 4 MiB apart: one sweep of the 32-bit space.</summary>
    [Fact]
    public void Fins_without_ack_swept_across_the_sequence_space_neither_end_nor_stall_the_stream()
    {
        RunAttack(seed: 3, (random, schedule) =>
        {
            uint start = (uint)random.NextInt64();
            for (int i = 0; i < 1024; i++)
            {
                schedule(TouFlags.Fin, start + (uint)(i << 22), (uint)random.NextInt64(), 0);
            }
        });
    }

    /// <summary>
    /// Runs the transfer with the attack. <paramref name="attack"/> is called once per direction with the
    /// attacker's random source and a function that queues one forged packet (flags, seq, ack, payload
    /// length); the packets are spread evenly over the attack period in the order queued.
    /// </summary>
    private static void RunAttack(int seed, Action<Random, Action<TouFlags, uint, uint, int>> attack)
    {
        var network = new SimulatedNetwork(seed);
        var clientAddress = SimulatedNetwork.Address("10.0.0.1", 40000);
        var serverAddress = SimulatedNetwork.Address("10.0.0.2", 5000);
        var isns = new Random(seed + 2000); // fixed initial sequence numbers: the sweeps meet the windows at the same places every run
        uint clientIsn = (uint)isns.NextInt64(), serverIsn = (uint)isns.NextInt64();
        using var clientEndpoint = new TouEndpoint(new TouOptions { IsnGenerator = () => clientIsn }) { LocalPort = 40000 };
        using var serverEndpoint = new TouEndpoint(new TouOptions { IsnGenerator = () => serverIsn }) { LocalPort = 5000, IsListening = true };
        network.AddNode(clientAddress, clientEndpoint);
        network.AddNode(serverAddress, serverEndpoint);
        network.SetPath(clientAddress, serverAddress, LinkProfile.Path(TimeSpan.FromMilliseconds(40), rateBitsPerSecond: 40_000_000));

        var client = clientEndpoint.Connect(network.NowUs, serverAddress);
        TouConnection? server = null;
        StreamApp? clientApp = null, serverApp = null;
        network.BeforeStep = () =>
        {
            server ??= serverEndpoint.Accept();
            if (client.State != TouConnectionState.Connecting)
            {
                clientApp ??= new StreamApp(client, StreamApp.RandomPayload(seed * 10, TransferBytes));
                clientApp.Run();
            }

            if (server is not null)
            {
                serverApp ??= new StreamApp(server, StreamApp.RandomPayload((seed * 10) + 1, TransferBytes));
                serverApp.Run();
            }
        };
        network.RunUntil(() => clientApp is not null && serverApp is not null, maxDurationUs: 5_000_000);

        // The attack, into each side from the other's address.
        var attacker = new Random(seed + 1000);
        long start = network.NowUs + AttackStartUs;
        int injected = 0;
        long lastInjectionUs = 0;
        foreach (bool intoServer in new[] { true, false })
        {
            var packets = new List<byte[]>();
            attack(attacker, (flags, seq, ack, payload) => packets.Add(BlindAttacker.Forge(flags, seq, ack, fromClient: intoServer, payload, attacker)));
            for (int i = 0; i < packets.Count; i++)
            {
                long at = start + (AttackSpreadUs * i / packets.Count);
                network.Inject(intoServer ? clientAddress : serverAddress, intoServer ? serverAddress : clientAddress, packets[i], at);
                lastInjectionUs = Math.Max(lastInjectionUs, at);
            }

            injected += packets.Count;
        }

        // Where both transfers stood when the last forged packet arrived: both must still have been under way.
        long clientProgressAtEnd = -1, serverProgressAtEnd = -1;
        var application = network.BeforeStep;
        network.BeforeStep = () =>
        {
            application?.Invoke();
            if (clientProgressAtEnd < 0 && network.NowUs > lastInjectionUs)
            {
                clientProgressAtEnd = clientApp!.ReceivedBytes;
                serverProgressAtEnd = serverApp!.ReceivedBytes;
            }
        };

        var failure = Record.Exception(() => network.RunUntil(
            () => clientApp!.ReceiveCompleted && serverApp!.ReceiveCompleted
                && client.State == TouConnectionState.Closed && server!.State == TouConnectionState.Closed,
            maxDurationUs: 120_000_000));
        Assert.NotNull(server);
        Assert.NotNull(clientApp);
        Assert.NotNull(serverApp);
        Assert.True(failure is null,
            $"The transfer did not complete under {injected} forged packets. {Describe("Client", client, clientApp, serverApp)}; " +
            $"{Describe("server", server, serverApp, clientApp)}. {failure?.Message}");

        Assert.True(network.NowUs > lastInjectionUs);
        Assert.InRange(clientProgressAtEnd, 0, TransferBytes - 1);
        Assert.InRange(serverProgressAtEnd, 0, TransferBytes - 1);

        Assert.Equal(TransferBytes, clientApp.ReceivedBytes);
        Assert.Equal(TransferBytes, serverApp.ReceivedBytes);
        Assert.True(clientApp.ExpectedHashOfSent.AsSpan().SequenceEqual(serverApp.ReceivedHash()), "The client-to-server stream is not byte-exact (SHA-256 differs).");
        Assert.True(serverApp.ExpectedHashOfSent.AsSpan().SequenceEqual(clientApp.ReceivedHash()), "The server-to-client stream is not byte-exact (SHA-256 differs).");
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);

        // Nothing is left open once the lingering after the close is over.
        network.RunFor(10_000_000);
        Assert.Equal(0, clientEndpoint.ConnectionCount);
        Assert.Equal(0, serverEndpoint.ConnectionCount);
        Assert.Equal(0, serverEndpoint.PendingHandshakes);
    }

    private static string Describe(string name, TouConnection connection, StreamApp receiver, StreamApp sender) =>
        $"{name}: {connection.State}/{connection.CloseReason}, received {receiver.ReceivedBytes:N0} of {TransferBytes:N0} bytes " +
        $"({(receiver.ReceivedBytes != TransferBytes ? "incomplete" : receiver.ReceivedHash().AsSpan().SequenceEqual(sender.ExpectedHashOfSent) ? "byte-exact" : "not byte-exact")}), " +
        $"end of stream {(connection.IsReadCompleted ? "seen" : "not seen")}, {connection.UnacknowledgedBytes:N0} bytes unacknowledged, " +
        $"{connection.Stats.PacketsDropped:N0} packets dropped, {connection.Stats.ChallengeAcks:N0} challenge ACKs, {connection.Stats.RetransmissionTimeouts} RTOs";
}
