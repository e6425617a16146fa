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

    public override bool Equals(object? obj) => obj is TouEndPoint other && other.IPEndPoint.Equals(IPEndPoint);

    public override int GetHashCode() => IPEndPoint.GetHashCode();
}
