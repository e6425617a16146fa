using System.Net;
using System.Net.Sockets;

namespace Tou.Kestrel;

/// <summary>
/// An address to serve or reach over TOU. A distinct <see cref="EndPoint"/> type is how Kestrel tells TOU
/// endpoints (bound by this transport) from TCP endpoints (bound by its socket transport).
/// </summary>
public sealed class TouEndPoint : EndPoint
{
    /// <summary>The TOU endpoint at <paramref name="endPoint"/>'s address and UDP port.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="endPoint"/> is null.</exception>
    public TouEndPoint(IPEndPoint endPoint) => IPEndPoint = endPoint ?? throw new ArgumentNullException(nameof(endPoint));

    /// <summary>The TOU endpoint at <paramref name="address"/> and UDP <paramref name="port"/> (0 lets the system pick when binding).</summary>
    public TouEndPoint(IPAddress address, int port)
        : this(new IPEndPoint(address, port))
    {
    }

    /// <summary>The UDP address and port.</summary>
    public IPEndPoint IPEndPoint { get; }

    /// <summary>The address family of <see cref="IPEndPoint"/> (IPv4 or IPv6).</summary>
    public override AddressFamily AddressFamily => IPEndPoint.AddressFamily;

    /// <summary>"tou:" and the address, so Kestrel's address list tells it from the TCP endpoints.</summary>
    public override string ToString() => "tou:" + IPEndPoint;

    /// <summary>
    /// Reads a TOU address as written by <see cref="ToString"/> ("tou:127.0.0.1:5000") or as Kestrel lists it
    /// among the server's addresses ("http://tou:127.0.0.1:5000").
    /// </summary>
    public static bool TryParse(string? address, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TouEndPoint? endPoint)
    {
        endPoint = null;
        if (address is null)
        {
            return false;
        }

        int marker = address.IndexOf("tou:", StringComparison.OrdinalIgnoreCase);
        if (marker < 0 || (marker > 0 && !address.AsSpan(0, marker).EndsWith("://", StringComparison.Ordinal)) || !IPEndPoint.TryParse(address.AsSpan(marker + 4).TrimEnd('/'), out var ip))
        {
            return false;
        }

        endPoint = new TouEndPoint(ip);
        return true;
    }

    /// <summary>True for a <see cref="TouEndPoint"/> with the same address and port.</summary>
    public override bool Equals(object? obj) => obj is TouEndPoint other && other.IPEndPoint.Equals(IPEndPoint);

    /// <summary>The hash of <see cref="IPEndPoint"/>.</summary>
    public override int GetHashCode() => IPEndPoint.GetHashCode();
}
