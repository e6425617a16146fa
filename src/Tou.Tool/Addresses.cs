using System.Net;
using System.Net.Sockets;

namespace Tou.Tool;

/// <summary>Parses ADDR:PORT arguments (IPv4, [IPv6] or a host name) into endpoints.</summary>
internal static class Addresses
{
    /// <summary>An address to listen on; a bare port means every IPv4 address.</summary>
    public static IPEndPoint ParseListen(string text)
    {
        if (int.TryParse(text, out int port) && port is >= 0 and <= 65535)
        {
            return new IPEndPoint(IPAddress.Any, port);
        }

        return IPEndPoint.TryParse(text, out var endpoint) && HasPort(text)
            ? endpoint
            : throw new UsageException($"bad listen address '{text}': expected IP:PORT (e.g. 0.0.0.0:5201) or a port");
    }

    /// <summary>An address to connect to; a host name is resolved (the first address wins).</summary>
    public static async Task<IPEndPoint> ResolveAsync(string text, CancellationToken cancellationToken)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && HasPort(text) && endpoint.Port != 0)
        {
            return endpoint;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is <= 0 or > 65535)
        {
            throw new UsageException($"bad address '{text}': expected HOST:PORT (e.g. 127.0.0.1:5201)");
        }

        string host = text[..colon];
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw new UsageException($"bad address '{text}': '{host}' is no host name");
        }

        var addresses = await Dns.GetHostAddressesAsync(host, AddressFamily.Unspecified, cancellationToken).ConfigureAwait(false);
        return addresses.Length > 0
            ? new IPEndPoint(addresses[0], port)
            : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>An http:// or https:// URL, or a usage error.</summary>
    public static Uri ParseHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && uri.Host.Length > 0
            ? uri
            : throw new UsageException($"bad URL '{text}': expected http://HOST:PORT/PATH");

    // IPEndPoint.TryParse accepts a bare address with port 0; an explicit port is required here.
    private static bool HasPort(string text) => text.Contains(':', StringComparison.Ordinal) && !text.EndsWith(']');
}
