using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Tou.Kestrel.Tests;

public class HostingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task UseTou_works_in_a_generic_host_and_the_client_factory_comes_from_DI()
    {
        using var host = new HostBuilder()
            .ConfigureWebHost(web => web
                .UseKestrel(k => k.ListenTou(IPAddress.Loopback, 0))
                .UseTou()
                .Configure(app => app.Run(c => c.Response.WriteAsync("generic host"))))
            .ConfigureServices(services => services.AddTouConnectionFactory())
            .Build();
        await host.StartAsync();
        var address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.True(TouEndPoint.TryParse(address, out var endPoint));

        var factory = host.Services.GetRequiredService<IConnectionFactory>();
        Assert.IsType<TouConnectionFactory>(factory);
        using var client = TouHttp.CreateClient(new Uri($"http://{endPoint.IPEndPoint}/"), (TouConnectionFactory)factory);
        Assert.Equal("generic host", await client.GetStringAsync("/").WaitAsync(Timeout));
        await host.StopAsync();
    }

    [Fact]
    public async Task Binding_a_tou_port_in_use_fails_the_way_kestrel_users_know()
    {
        await using var first = await TouTestServer.StartAsync(_ => { });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTou();
        builder.WebHost.ConfigureKestrel(k => k.ListenTou(first.EndPoint.IPEndPoint));
        await using var second = builder.Build();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => second.StartAsync());
        Assert.True(error is AddressInUseException || error.InnerException is AddressInUseException, error.ToString());
    }
}
