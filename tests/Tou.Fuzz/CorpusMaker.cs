using System.Buffers.Binary;
using System.Net;
using Tou.Protocol;

namespace Tou.Fuzz;

/// <summary>Builds the seed corpus from real traffic: a client talking to a server in each harness mode.</summary>
public static class CorpusMaker
{
    public static void Write(string directory)
    {
        Directory.CreateDirectory(Path.Combine(directory, "header"));
        Directory.CreateDirectory(Path.Combine(directory, "endpoint"));
        int headerFiles = 0;
        foreach (byte mode in new byte[] { 0, 1, 2, 4 })
        {
            var (toServer, all) = Capture(mode);
            var input = new List<byte> { mode };
            foreach (var datagram in toServer)
            {
                input.Add(0);
                var length = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)datagram.Length);
                input.AddRange(length);
                input.AddRange(datagram);
            }

            File.WriteAllBytes(Path.Combine(directory, "endpoint", $"mode{mode}.bin"), input.ToArray());
            foreach (var datagram in all.DistinctBy(d => d.Length + (d.Length > 12 ? d[12] * 65536 : 0)).Take(12))
            {
                File.WriteAllBytes(Path.Combine(directory, "header", $"packet{headerFiles++}.bin"), datagram);
            }
        }

        // The seed implementation's own test vectors (tou-wire.md).
        string[] vectors =
        [
            "9c4013880001e24000000000081000000000000400",
            "9c4013880001e2410000030900c350000e0000040048656c6c6f2c2053657276657221",
            "9c4013880001e24f00000317010064000000000400",
            "13889c40000000000000000002000a000000000400",
        ];
        foreach (var hex in vectors)
        {
            File.WriteAllBytes(Path.Combine(directory, "header", $"seed{headerFiles++}.bin"), Convert.FromHexString(hex));
        }
    }

    private static (List<byte[]> ToServer, List<byte[]> All) Capture(byte mode)
    {
        var options = new TouOptions
        {
            EnableExtensions = (mode & 1) == 0,
            EnableIntegrity = (mode & 2) != 0,
            MaxPendingHandshakes = (mode & 4) != 0 ? 0 : 16,
            IsnGenerator = () => 0x1000,
        };
        var clientAddress = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize();
        var serverAddress = new IPEndPoint(IPAddress.Parse("10.0.0.9"), 5000).Serialize();
        using var client = new TouEndpoint(options) { LocalPort = 40000 };
        using var server = new TouEndpoint(options) { IsListening = true, LocalPort = 5000 };
        var connection = client.Connect(1_000_000, serverAddress);
        var toServer = new List<byte[]>();
        var all = new List<byte[]>();
        var buffer = new byte[65_536];
        long now = 1_000_000;
        bool wrote = false;
        for (int step = 0; step < 40; step++)
        {
            int n;
            while ((n = client.PollTransmit(now, buffer, out _)) > 0)
            {
                var d = buffer.AsSpan(0, n).ToArray();
                toServer.Add(d);
                all.Add(d);
                if (toServer.Count % 7 != 3)
                {
                    server.HandleDatagram(now, clientAddress, d); // one in seven stays undelivered: SACKs, retransmissions
                }
            }

            while ((n = server.PollTransmit(now, buffer, out _)) > 0)
            {
                var d = buffer.AsSpan(0, n).ToArray();
                all.Add(d);
                client.HandleDatagram(now, serverAddress, d);
            }

            if (connection.State == TouConnectionState.Established && !wrote)
            {
                connection.Write(new byte[6000]);
                connection.CloseSend();
                wrote = true;
            }

            while (server.Accept() is { } accepted)
            {
                accepted.Write(new byte[3000]);
                accepted.CloseSend();
            }

            now += 50_000;
            client.HandleTimeouts(now);
            server.HandleTimeouts(now);
        }

        return (toServer.Take(40).ToList(), all);
    }
}
