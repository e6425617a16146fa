using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Harness;

/// <summary>Packets an off-path attacker forges for an <see cref="EnginePair"/>: the right ports, random bytes after the header.</summary>
internal static class BlindAttacker
{
    /// <param name="trailer">Random bytes after the payload where a trailer would be (the attacker has no key).</param>
    public static byte[] Forge(TouFlags flags, uint seq, uint ack, bool fromClient, int payload, Random random, int trailer = 0, ushort window = ushort.MaxValue)
    {
        var bytes = new byte[TouHeader.Size + payload + trailer];
        random.NextBytes(bytes.AsSpan(TouHeader.Size));
        new TouHeader
        {
            SourcePort = (ushort)(fromClient ? 40000 : 5000),
            DestinationPort = (ushort)(fromClient ? 5000 : 40000),
            SequenceNumber = seq,
            AcknowledgementNumber = ack,
            Flags = flags,
            Window = window,
            PayloadLength = (ushort)payload,
            Mss = 1400,
        }.Write(bytes);
        return bytes;
    }
}
