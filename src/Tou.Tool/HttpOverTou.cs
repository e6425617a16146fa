using System.Diagnostics;
using Microsoft.Extensions.Options;
using Tou.Kestrel;
using Tou.Transport;

namespace Tou.Tool;

/// <summary>An HttpClient over TOU that remembers its connection (for its counters) and how long connecting took.</summary>
internal sealed class HttpOverTou : IDisposable
{
    private readonly TouConnectionFactory _factory;

    public HttpOverTou(TouTransportOptions options, TimeSpan timeout)
    {
        _factory = new TouConnectionFactory(Options.Create(options));
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var clock = Stopwatch.StartNew();
                var connection = await _factory.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                ConnectTime = clock.Elapsed;
                Connection = connection.Features.Get<ITouConnectionFeature>()?.Connection;
                return connection.AsStream();
            },
        };
        Client = new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
    }

    public HttpClient Client { get; }

    /// <summary>The TOU connection the last request opened.</summary>
    public TouSocketConnection? Connection { get; private set; }

    /// <summary>How long the last connection's handshake took.</summary>
    public TimeSpan ConnectTime { get; private set; }

    /// <summary>Lets the last FIN and ACKs go out before the process may exit.</summary>
    public async Task DrainAsync()
    {
        Client.Dispose();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _factory.DrainAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // gave up waiting: the peer has what matters (the response was read)
        }
    }

    public void Dispose() => Client.Dispose();
}
