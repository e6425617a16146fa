using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tou.Transport;

namespace Tou.Kestrel.Testing;

/// <summary>
/// A <see cref="WebApplicationFactory{TEntryPoint}"/> that runs your app's own <c>Program</c> on Kestrel over TOU
/// (<see cref="WebApplicationFactory{TEntryPoint}.UseKestrel(Action{KestrelServerOptions})"/> with a TOU endpoint on an
/// ephemeral loopback port, and the TOU transport added to the app's services), and whose clients speak TOU:
/// <see cref="CreateClient()"/> returns an <see cref="HttpClient"/> over TOU, <see cref="ConnectionFactory"/> and
/// <see cref="ServerEndPoint"/> reach the app with any other protocol.
/// </summary>
/// <remarks>
/// <para>Use it as the factory it derives from: as an xunit class fixture, subclassed to override
/// <c>ConfigureWebHost</c>, or with <see cref="WithWebHostBuilder"/> and <c>ConfigureTestServices</c> to replace a
/// service. The app's own configuration applies, including its <c>"Tou"</c> section; endpoints the app binds itself are
/// bound too, so make their ports configurable and turn them off in tests, as for TCP ports.</para>
/// <para>Call the client methods through this type (or a subclass): <see cref="CreateClient()"/>,
/// <see cref="CreateDefaultClient(DelegatingHandler[])"/> and <see cref="WithWebHostBuilder"/> hide the base class's,
/// whose clients would use TCP. The server's address list gets the TOU endpoint's <c>http://address:port/</c> form
/// after the TOU one, because <see cref="WebApplicationFactory{TEntryPoint}"/> reads the last address as a URI.
/// Only apps built on the generic host (<c>WebApplication</c>, <c>CreateHostBuilder</c>) are supported.</para>
/// </remarks>
/// <typeparam name="TEntryPoint">A type in the app's assembly, usually its <c>Program</c>.</typeparam>
public class TouWebApplicationFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly Lock _gate = new();
    private readonly List<HttpClient> _clients = [];
    private readonly List<TouWebApplicationFactory<TEntryPoint>> _derived = [];
    private ListenOptions? _listenOptions;
    private TouEndPoint? _serverEndPoint;
    private Uri? _baseAddress;
    private TouConnectionFactory? _connectionFactory;

    /// <summary>A factory for <typeparamref name="TEntryPoint"/>'s app; nothing starts until a client or
    /// <see cref="ServerEndPoint"/> is asked for (or <see cref="WebApplicationFactory{TEntryPoint}.StartServer"/> is called).</summary>
    public TouWebApplicationFactory() =>
        UseKestrel(kestrel => kestrel.ListenTou(new IPEndPoint(IPAddress.Loopback, 0), listen =>
        {
            _listenOptions = listen;
            ConfigureTouListener(listen);
        }));

    /// <summary>Where the app listens over TOU (starts the app if it is not running).</summary>
    public TouEndPoint ServerEndPoint
    {
        get
        {
            StartServer();
            return _serverEndPoint ?? throw new InvalidOperationException("The app started without a TOU endpoint.");
        }
    }

    /// <summary>A client connection factory for protocols other than HTTP (Bedrock-style clients, SignalR); connect it to
    /// <see cref="ServerEndPoint"/>. Its settings come from <see cref="ConfigureClientTransport"/>.</summary>
    public TouConnectionFactory ConnectionFactory
    {
        get
        {
            lock (_gate)
            {
                if (_connectionFactory is null)
                {
                    var options = new TouTransportOptions();
                    ConfigureClientTransport(options);
                    _connectionFactory = new TouConnectionFactory(Microsoft.Extensions.Options.Options.Create(options));
                }

                return _connectionFactory;
            }
        }
    }

    /// <summary>An <see cref="HttpClient"/> over TOU to the app, following redirects and keeping cookies as
    /// <see cref="WebApplicationFactory{TEntryPoint}.ClientOptions"/> say; its base address is the app's TOU endpoint.</summary>
    public new HttpClient CreateClient() => CreateClient(ClientOptions);

    /// <summary>An <see cref="HttpClient"/> over TOU to the app, set up by <paramref name="options"/> (a base address left
    /// at its default, <c>http://localhost</c>, becomes the app's TOU endpoint).</summary>
    public new HttpClient CreateClient(WebApplicationFactoryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handlers = new List<DelegatingHandler>();
        if (options.AllowAutoRedirect)
        {
            handlers.Add(new RedirectHandler(options.MaxAutomaticRedirections));
        }

        if (options.HandleCookies)
        {
            handlers.Add(new CookieContainerHandler());
        }

        var client = CreateDefaultClient([.. handlers]);
        if (options.BaseAddress != new WebApplicationFactoryClientOptions().BaseAddress)
        {
            client.BaseAddress = options.BaseAddress;
        }

        return client;
    }

    /// <summary>An <see cref="HttpClient"/> over TOU to the app through <paramref name="handlers"/> (outermost first); its
    /// base address is the app's TOU endpoint. Disposed with the factory.</summary>
    public new HttpClient CreateDefaultClient(params DelegatingHandler[] handlers)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        StartServer();
        HttpMessageHandler handler = TouHttp.CreateHandler(ConnectionFactory);
        for (int i = handlers.Length - 1; i >= 0; i--)
        {
            handlers[i].InnerHandler = handler;
            handler = handlers[i];
        }

        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = _baseAddress };
        lock (_gate)
        {
            _clients.Add(client);
        }

        ConfigureClient(client);
        return client;
    }

    /// <summary>An <see cref="HttpClient"/> over TOU to the app through <paramref name="handlers"/>, with <paramref name="baseAddress"/>.</summary>
    public new HttpClient CreateDefaultClient(Uri baseAddress, params DelegatingHandler[] handlers)
    {
        var client = CreateDefaultClient(handlers);
        client.BaseAddress = baseAddress;
        return client;
    }

    /// <summary>
    /// A new factory whose app is further configured by <paramref name="configuration"/> (after this factory's
    /// <c>ConfigureWebHost</c>), over TOU like this one — e.g. <c>ConfigureTestServices</c> to replace a service. It is
    /// disposed with this factory. (The base class's version would run the derived app on the in-memory test server.)
    /// </summary>
    public new TouWebApplicationFactory<TEntryPoint> WithWebHostBuilder(Action<IWebHostBuilder> configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var derived = new DerivedFactory(this, configuration);
        lock (_gate)
        {
            _derived.Add(derived);
        }

        return derived;
    }

    /// <summary>Adjusts the app's TOU endpoint (protocols, <c>UseHttps</c>, connection middleware) before it is bound.</summary>
    protected virtual void ConfigureTouListener(ListenOptions listenOptions)
    {
    }

    /// <summary>Adjusts the settings of the clients' transport (<see cref="ConnectionFactory"/>, <see cref="CreateClient()"/>).</summary>
    protected virtual void ConfigureClientTransport(TouTransportOptions options)
    {
    }

    /// <summary>Adds the TOU transport to the app, starts it, and records where it listens over TOU.</summary>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigureServices(services => services.AddTouTransport());
        var host = base.CreateHost(builder);
        var server = host.Services.GetRequiredService<IServer>();
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        _serverEndPoint = _listenOptions?.EndPoint as TouEndPoint is { IPEndPoint.Port: not 0 } bound
            ? bound
            : addresses.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).FirstOrDefault(e => e is not null)
              ?? throw new InvalidOperationException($"The app did not report a TOU address (it reported: {string.Join(", ", addresses)}).");
        var ip = _serverEndPoint.IPEndPoint;
        _baseAddress = new Uri($"http://{(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip.Address}]" : ip.Address.ToString())}:{ip.Port}/");
        server.Features.Set<IServerAddressesFeature>(new ReportedAddresses([.. addresses, _baseAddress.ToString()]));
        return host;
    }

    /// <summary>Disposes the clients, the factories made by <see cref="WithWebHostBuilder"/>, then stops the app.</summary>
    public override async ValueTask DisposeAsync()
    {
        HttpClient[] clients;
        TouWebApplicationFactory<TEntryPoint>[] derived;
        lock (_gate)
        {
            clients = [.. _clients];
            derived = [.. _derived];
            _clients.Clear();
            _derived.Clear();
        }

        foreach (var client in clients)
        {
            client.Dispose();
        }

        foreach (var factory in derived)
        {
            await factory.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>The server's addresses as the app reported them, then the TOU endpoint as a URI (read by the base class).</summary>
    private sealed class ReportedAddresses(ICollection<string> addresses) : IServerAddressesFeature
    {
        public ICollection<string> Addresses { get; } = addresses;

        public bool PreferHostingUrls { get; set; }
    }

    /// <summary>What <see cref="WithWebHostBuilder"/> returns: the parent's customizations, then its own.</summary>
    private sealed class DerivedFactory : TouWebApplicationFactory<TEntryPoint>
    {
        private readonly TouWebApplicationFactory<TEntryPoint> _parent;
        private readonly Action<IWebHostBuilder> _configuration;

        public DerivedFactory(TouWebApplicationFactory<TEntryPoint> parent, Action<IWebHostBuilder> configuration)
        {
            _parent = parent;
            _configuration = configuration;
            ClientOptions.BaseAddress = parent.ClientOptions.BaseAddress;
            ClientOptions.AllowAutoRedirect = parent.ClientOptions.AllowAutoRedirect;
            ClientOptions.MaxAutomaticRedirections = parent.ClientOptions.MaxAutomaticRedirections;
            ClientOptions.HandleCookies = parent.ClientOptions.HandleCookies;
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            _parent.ConfigureWebHost(builder);
            _configuration(builder);
        }

        protected override void ConfigureTouListener(ListenOptions listenOptions) => _parent.ConfigureTouListener(listenOptions);

        protected override void ConfigureClientTransport(TouTransportOptions options) => _parent.ConfigureClientTransport(options);

        protected override IHostBuilder? CreateHostBuilder() => _parent.CreateHostBuilder();

        protected override IEnumerable<Assembly> GetTestAssemblies() => _parent.GetTestAssemblies();
    }
}
