using Tou.Protocol;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// The TOU side of a connection, on every TOU <c>ConnectionContext</c>'s features: what the handshake agreed (so an
/// application or a test can require, say, integrity) and the underlying connection for its counters.
/// </summary>
public interface ITouConnectionFeature
{
    /// <summary>What the handshake agreed: extensions, SACK, integrity, window scaling, segment size.</summary>
    TouNegotiation Negotiation { get; }

    /// <summary>The TOU connection under this context.</summary>
    TouSocketConnection Connection { get; }
}
