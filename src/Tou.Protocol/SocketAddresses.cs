using System.Net;

namespace Tou.Protocol;

/// <summary>Socket addresses the engine keeps: a caller's <see cref="SocketAddress"/> is often a reused receive buffer,
/// so whatever outlives the call is copied.</summary>
internal static class SocketAddresses
{
    public static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span.CopyTo(copy.Buffer.Span);
        return copy;
    }
}
