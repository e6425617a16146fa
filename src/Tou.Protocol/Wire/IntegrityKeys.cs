using System.Buffers.Binary;

namespace Tou.Protocol.Wire;

/// <summary>
/// A connection's 128-bit integrity secret, chosen by the server and carried in its SYN+ACK; each direction
/// tags with its own key derived from it. Off-path attackers never see the handshake, so they cannot tag a
/// packet (on-path ones can: that is TLS's job).
/// </summary>
internal readonly record struct IntegrityKeys(ulong Master0, ulong Master1)
{
    /// <summary>Bytes on the wire: two 64-bit words, little-endian (SipHash's own key order).</summary>
    public const int Size = 16;

    public bool IsEmpty => Master0 == 0 && Master1 == 0;

    public static IntegrityKeys Read(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Master0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Master1);
    }

    /// <summary>The key this side tags its packets with.</summary>
    public DirectionKey ForSending(bool isClient) => Derive(isClient ? (byte)0 : (byte)2);

    /// <summary>The key this side verifies the peer's packets with.</summary>
    public DirectionKey ForReceiving(bool isClient) => Derive(isClient ? (byte)2 : (byte)0);

    // SipHash as a PRF under the secret: label 0/1 for client-to-server, 2/3 for server-to-client, so a packet
    // reflected back to its sender never verifies.
    private DirectionKey Derive(byte label) =>
        new(SipHash.Hash24(Master0, Master1, [label]), SipHash.Hash24(Master0, Master1, [(byte)(label + 1)]));
}
