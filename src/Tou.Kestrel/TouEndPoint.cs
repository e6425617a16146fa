using System.Net;
using System.Net.Sockets;

namespace Tou.Kestrel;

/// <summary>
/// An address to serve or reach over TOU. A distinct <see cref="EndPoint"/> type is how Kestrel tells TOU
/// endpoints (bound by this transport) from TCP endpoints (bound by its socket transport).
/// </summary>
public sealed class TouEndPoint : EndPoint
{
    public TouEndPoint(IPEndPoint endPoint) => IPEndPoint = endPoint ?? throw new ArgumentNullException(nameof(endPoint));

    public TouEndPoint(IPAddress address, int port)
        : this(new IPEndPoint(address, port))
    {
    }

    /// <summary>The UDP address and port.</summary>
    public IPEndPoint IPEndPoint { get; }

    public override AddressFamily AddressFamily => IPEndPoint.AddressFamily;

    /// <summary>"tou:" and the address, so Kestrel's address list tells it from the TCP endpoints.</summary>
    public override string ToString() => "tou:" + IPEndPoint;

    public override bool Equals(object? obj) => obj is TouEndPoint other && other.IPEndPoint.Equals(IPEndPoint);

    public override int GetHashCode() => IPEndPoint.GetHashCode();
}
