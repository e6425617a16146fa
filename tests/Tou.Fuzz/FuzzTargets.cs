using System.Buffers.Binary;
using System.Net;
using Tou.Protocol;
using Tou.Protocol.Wire;

namespace Tou.Fuzz;

/// <summary>
/// What the fuzzers feed. Each target must never throw, hang or grow without bound, whatever the bytes.
/// Inputs are deterministic to replay: fixed ISNs, a virtual clock, no randomness.
/// </summary>
public static class FuzzTargets
{
    private static readonly SocketAddress[] Sources =
    [
        new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize(),
        new IPEndPoint(IPAddress.Parse("10.0.0.2"), 40001).Serialize(),
        new IPEndPoint(IPAddress.Parse("10.0.0.3"), 40002).Serialize(),
    ];

    /// <summary>The header codec and the extension parsers on one datagram.</summary>
    public static void Header(ReadOnlySpan<byte> input)
    {
        if (TouHeader.TryRead(input, out var header))
        {
            var payload = input.Slice(TouHeader.Size, header.PayloadLength);
            _ = Extensions.ReadOffer(payload);
            if (Extensions.TrySplitOptions(payload, out var options, out _))
            {
                _ = Extensions.FindSackBlocks(options);
            }

            _ = Extensions.VerifyCrc(input, header.PayloadLength);
            Span<byte> copy = stackalloc byte[TouHeader.Size];
            header.Write(copy);
        }
    }

    /// <summary>
    /// A listening endpoint fed a sequence of datagrams: input = [flags byte] then repeated
    /// [source index byte][u16 length][bytes]. The flags byte picks extensions, checksum and stateless
    /// handshakes. Accepted connections write and read a little so both directions run.
    /// </summary>
    public static void Endpoint(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        byte mode = input[0];
        var options = new TouOptions
        {
            EnableExtensions = (mode & 1) == 0,
            EnableIntegrity = (mode & 2) != 0,
            MaxPendingHandshakes = (mode & 4) != 0 ? 0 : 16,
            MaxConnections = 8,
            IsnGenerator = () => 0x1000,
        };
        using var endpoint = new TouEndpoint(options) { IsListening = true, LocalPort = 5000 };
        var transmit = new byte[65_536];
        var scratch = new byte[4096];
        long now = 1_000_000;
        input = input[1..];
        for (int packets = 0; packets < 256 && input.Length >= 3; packets++)
        {
            var source = Sources[input[0] % Sources.Length];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[1..]), input.Length - 3);
            endpoint.HandleDatagram(now, source, input.Slice(3, length));
            input = input[(3 + length)..];
            now += 5_000;
            endpoint.HandleTimeouts(now);
            while (endpoint.Accept() is { } connection)
            {
                connection.Write(scratch.AsSpan(0, 100));
            }

            while (endpoint.PollEvents() is { } changed)
            {
                changed.TakeEvents();
                while (changed.Read(scratch) > 0)
                {
                }
            }

            for (int sent = 0; sent < 10_000 && endpoint.PollTransmit(now, transmit, out _) > 0; sent++)
            {
            }
        }

        // Let every timer run out: nothing may throw or spin on the way to an empty endpoint.
        for (int i = 0; i < 200 && endpoint.NextDeadline != TouTime.Never; i++)
        {
            now = Math.Max(now, endpoint.NextDeadline);
            endpoint.HandleTimeouts(now);
            for (int sent = 0; sent < 10_000 && endpoint.PollTransmit(now, transmit, out _) > 0; sent++)
            {
            }
        }
    }
}
