using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests;

/// <summary>The per-packet path allocates nothing once a transfer is under way.</summary>
public class AllocationTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Steady_state_transfer_allocates_nothing_per_packet(bool extensions)
    {
        var options = new TouOptions { EnableExtensions = extensions, KeepAliveInterval = TimeSpan.Zero };
        using var client = new TouEndpoint(options) { LocalPort = 40000 };
        using var server = new TouEndpoint(options) { IsListening = true, LocalPort = 5000 };
        var datagram = new byte[65_536];
        var chunk = new byte[16 * 1024];
        new Random(7).NextBytes(chunk);
        long now = 1_000_000;

        // Moves every pending datagram across at once (zero delay), then lets 100 µs pass.
        void Exchange()
        {
            for (int round = 0; round < 4; round++)
            {
                int n;
                while ((n = client.PollTransmit(now, datagram, out _)) > 0)
                {
                    server.HandleDatagram(now, EnginePair.ClientAddress, datagram.AsSpan(0, n));
                }

                while ((n = server.PollTransmit(now, datagram, out _)) > 0)
                {
                    client.HandleDatagram(now, EnginePair.ServerAddress, datagram.AsSpan(0, n));
                }
            }

            now += 100;
            client.HandleTimeouts(now);
            server.HandleTimeouts(now);
        }

        var sender = client.Connect(now, EnginePair.ServerAddress);
        TouConnection? receiver = null;
        for (int i = 0; i < 100 && receiver is null; i++)
        {
            Exchange();
            receiver = server.Accept();
        }

        Assert.NotNull(receiver);
        long moved = 0;
        void Pump(int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                while (sender.Write(chunk) > 0)
                {
                }

                Exchange();
                int n;
                while ((n = receiver!.Read(datagram)) > 0)
                {
                    moved += n;
                }
            }
        }

        Pump(2_000); // warm-up: pools, queues and rings reach their working sizes
        long movedBefore = moved;
        long packetsBefore = sender.Stats.PacketsSent + receiver.Stats.PacketsSent;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        Pump(2_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long packets = sender.Stats.PacketsSent + receiver.Stats.PacketsSent - packetsBefore;

        Assert.True(moved - movedBefore > 10_000_000, $"only {moved - movedBefore} bytes moved");
        Assert.True(packets > 5_000, $"only {packets} packets");
        Assert.True(allocated < 1024, $"{allocated} bytes allocated over {packets} packets");
    }
}
