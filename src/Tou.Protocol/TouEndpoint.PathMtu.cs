using System.Net;

namespace Tou.Protocol;

// Path MTU discovery's view of the host: how large a datagram the local interface toward a peer carries, and
// datagrams the local stack refused to send as too large.
public sealed partial class TouEndpoint
{
    /// <summary>
    /// The largest datagram (UDP payload) the local network interface toward a peer carries, which caps path MTU
    /// discovery for connections to that peer: the host reads it from the interface's MTU (the UDP host in
    /// <c>Tou.Transport</c> sets it). Called once per connection that discovers, when its handshake completes. Null, or a
    /// result of 0 or less, leaves <see cref="TouOptions.MaxDatagramSize"/> as the only local cap; exactly
    /// <see cref="TouOptions.InitialDatagramSize"/> means no probing (e.g. a socket that cannot set the don't-fragment
    /// bit, where a probe would prove nothing); less lowers the size the connection starts with to it (an interface
    /// with a small MTU, where the don't-fragment bit would make the local stack refuse larger datagrams).
    /// </summary>
    public Func<SocketAddress, int>? LocalDatagramLimit { get; set; }

    /// <summary>
    /// Tells the engine that the host could not send a datagram of <paramref name="length"/> bytes to
    /// <paramref name="destination"/> because the local stack found it too large (EMSGSIZE). A path MTU probe of that size
    /// counts as lost at once; a data datagram makes the connection fall back to its initial datagram size (the lost
    /// data is repaired like any other loss). Unknown destinations are ignored.
    /// </summary>
    public void ReportDatagramTooLarge(long nowUs, SocketAddress destination, int length)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!_disposed && _connections.TryGetValue(destination, out var entry))
        {
            entry.Connection.OnDatagramTooLarge(nowUs, length);
            AfterActivity(entry);
        }
    }

    internal int LocalDatagramLimitFor(SocketAddress remote) =>
        LocalDatagramLimit?.Invoke(remote) is int limit and > 0 ? Math.Min(limit, _options.MaxDatagramSize) : _options.MaxDatagramSize;
}
