using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>Serve over TOU: <c>builder.WebHost.UseTou()</c>, then <c>ListenTou(...)</c> in <c>ConfigureKestrel</c>.</summary>
public static class TouHostingExtensions
{
    /// <summary>The configuration section <see cref="TouTransportOptions"/> are bound from: <c>"Tou"</c> (the engine's
    /// settings under <c>"Tou:Protocol"</c>).</summary>
    public const string ConfigurationSectionName = "Tou";

    /// <summary>
    /// Adds the TOU transport to Kestrel beside its socket transport, so TOU endpoints (<see cref="ListenTou(KestrelServerOptions, IPEndPoint, Action{ListenOptions})"/>)
    /// and TCP endpoints can be served by one app. Settings come from the configuration's <c>"Tou"</c> section, then
    /// <paramref name="configure"/>; they are validated when the host starts. Metrics go to the host's <c>IMeterFactory</c>.
    /// </summary>
    public static IWebHostBuilder UseTou(this IWebHostBuilder builder, Action<TouTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services => services.AddTouTransport(configure));
    }

    /// <summary>Registers the TOU transport for Kestrel (what <see cref="UseTou"/> does): settings from the configuration's
    /// <c>"Tou"</c> section, then <paramref name="configure"/>, validated when the host starts.</summary>
    public static IServiceCollection AddTouTransport(this IServiceCollection services, Action<TouTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        // Keep TCP working even if this runs before UseKestrel (whose TryAdd would otherwise see us and skip sockets).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactory, SocketTransportFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactory, TouTransportFactory>());
        services.AddHostedService<TouDrainService>();
        AddTouOptions(services, configure);
        return services;
    }

    /// <summary>Registers <see cref="TouConnectionFactory"/> as the <see cref="IConnectionFactory"/> (for Bedrock-style clients and
    /// SignalR), with settings as <see cref="AddTouTransport"/> has them.</summary>
    public static IServiceCollection AddTouConnectionFactory(this IServiceCollection services, Action<TouTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddTouOptions(services, configure);
        services.TryAddSingleton<TouConnectionFactory>();
        services.AddHostedService<TouDrainService>();
        services.TryAddSingleton<IConnectionFactory>(sp => sp.GetRequiredService<TouConnectionFactory>());
        return services;
    }

    private static void AddTouOptions(IServiceCollection services, Action<TouTransportOptions>? configure)
    {
        // Configuration first (registered once, so a later call's binding cannot undo an earlier callback), then callbacks.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<TouTransportOptions>, TouOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<TouTransportOptions>, TouOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TouTransportOptions>, TouOptionsValidator>());
        var options = services.AddOptions<TouTransportOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }
    }

    /// <summary>Listens for TOU on <paramref name="address"/>:<paramref name="port"/> (0 picks a free port).</summary>
    public static void ListenTou(this KestrelServerOptions options, IPAddress address, int port) =>
        options.ListenTou(new IPEndPoint(address, port), _ => { });

    /// <summary>Listens for TOU on <paramref name="address"/>:<paramref name="port"/> (0 picks a free port);
    /// <paramref name="configure"/> sets protocols, HTTPS and connection middleware as for a TCP endpoint.</summary>
    public static void ListenTou(this KestrelServerOptions options, IPAddress address, int port, Action<ListenOptions> configure) =>
        options.ListenTou(new IPEndPoint(address, port), configure);

    /// <summary>Listens for TOU on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    public static void ListenTou(this KestrelServerOptions options, IPEndPoint endPoint) =>
        options.ListenTou(endPoint, _ => { });

    /// <summary>Listens for TOU on <paramref name="endPoint"/> (port 0 picks a free port); <paramref name="configure"/>
    /// sets protocols, HTTPS and connection middleware as for a TCP endpoint. Needs <see cref="UseTou"/> (or
    /// <see cref="AddTouTransport"/>) so that Kestrel has a transport for it.</summary>
    public static void ListenTou(this KestrelServerOptions options, IPEndPoint endPoint, Action<ListenOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(configure);
        options.Listen(new TouEndPoint(endPoint), configure);
    }

    /// <summary>
    /// Listens for TOU on the loopback addresses, IPv4 (127.0.0.1) and IPv6 ([::1]), on the same UDP port, like
    /// Kestrel's <c>ListenLocalhost</c>; IPv6 is left out where the machine has no IPv6 loopback. <paramref name="configure"/>
    /// runs for each of the two endpoints.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is 0: the two endpoints would get different
    /// ports (as with <c>ListenLocalhost</c>, bind 127.0.0.1:0 or [::1]:0 with <see cref="ListenTou(KestrelServerOptions, IPAddress, int)"/> instead).</exception>
    public static void ListenLocalhostTou(this KestrelServerOptions options, int port, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        configure ??= _ => { };
        options.ListenTou(new IPEndPoint(IPAddress.Loopback, port), configure);
        if (s_ipv6Loopback.Value)
        {
            options.ListenTou(new IPEndPoint(IPAddress.IPv6Loopback, port), configure);
        }
    }

    /// <summary>Whether a UDP socket can be bound to [::1] here (IPv6 can be compiled in but switched off).</summary>
    private static readonly Lazy<bool> s_ipv6Loopback = new(static () =>
    {
        if (!Socket.OSSupportsIPv6)
        {
            return false;
        }

        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    });
}
