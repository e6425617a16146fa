using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Tou.Transport;

namespace Tou.Kestrel.Testing;

/// <summary>
/// For integration tests: runs an ASP.NET Core app on Kestrel over TOU on an ephemeral loopback port and
/// hands out <see cref="HttpClient"/>s that reach it over TOU — as easy as <c>TestServer.CreateClient()</c>.
/// </summary>
/// <example>
/// <code>
/// await using var server = await TouTestServer.StartAsync(app => app.MapGet("/", () => "hi"));
/// var text = await server.CreateClient().GetStringAsync("/");
/// </code>
/// </example>
public sealed class TouTestServer : IAsyncDisposable
{
    private readonly TouConnectionFactory _clientFactory;

    private TouTestServer(WebApplication app, TouEndPoint endPoint, TouConnectionFactory clientFactory)
    {
        App = app;
        EndPoint = endPoint;
        _clientFactory = clientFactory;
        BaseAddress = new Uri($"http://{(endPoint.IPEndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.IPEndPoint.Address}]" : endPoint.IPEndPoint.Address.ToString())}:{endPoint.IPEndPoint.Port}/");
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>The application's services (<c>App.Services</c>).</summary>
    public IServiceProvider Services => App.Services;

    /// <summary>Where the app listens over TOU.</summary>
    public TouEndPoint EndPoint { get; }

    /// <summary>http://address:port/ of the TOU endpoint (for clients from <see cref="CreateClient"/>).</summary>
    public Uri BaseAddress { get; }

    /// <summary>Builds and starts the app. <paramref name="configureApp"/> maps its endpoints and middleware;
    /// <paramref name="configureBuilder"/> adds services; <paramref name="configureListen"/> adjusts the TOU
    /// endpoint (protocols, HTTPS, connection middleware).</summary>
    public static async Task<TouTestServer> StartAsync(
        Action<WebApplication> configureApp,
        Action<WebApplicationBuilder>? configureBuilder = null,
        Action<ListenOptions>? configureListen = null,
        Action<TouTransportOptions>? configureTransport = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configureApp);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTou(configureTransport);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenTou(new IPEndPoint(IPAddress.Loopback, 0), configureListen ?? (_ => { })));
        configureBuilder?.Invoke(builder);
        var app = builder.Build();
        configureApp(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var endPoint = addresses.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).FirstOrDefault(e => e is not null)
            ?? throw new InvalidOperationException($"The app did not report a TOU address (it reported: {string.Join(", ", addresses)}).");
        var transportOptions = new TouTransportOptions();
        configureTransport?.Invoke(transportOptions);
        return new TouTestServer(app, endPoint, new TouConnectionFactory(Microsoft.Extensions.Options.Options.Create(transportOptions)));
    }

    /// <summary>An <see cref="HttpClient"/> whose requests go to the app over TOU.</summary>
    public HttpClient CreateClient() => TouHttp.CreateClient(BaseAddress, _clientFactory);

    /// <summary>A client connection factory configured like the server's transport.</summary>
    public TouConnectionFactory ConnectionFactory => _clientFactory;

    /// <summary>Stops the application and disposes it.</summary>
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().ConfigureAwait(false);
        await App.DisposeAsync().ConfigureAwait(false);
    }
}
