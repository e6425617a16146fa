namespace Tou.Protocol.Wire;

/// <summary>The 128-bit SipHash key that tags the packets of one direction of a connection.</summary>
internal readonly record struct DirectionKey(ulong K0, ulong K1)
{
    public bool IsEmpty => K0 == 0 && K1 == 0;
}
