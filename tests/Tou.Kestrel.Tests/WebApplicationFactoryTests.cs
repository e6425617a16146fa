extern alias SampleWebApp;

using System.Buffers;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Tou.Protocol;
using SampleWebApp::Tou.Samples.WebApp;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>
/// A user's real app — the sample web project's own Program — run through <see cref="TouWebApplicationFactory{TEntryPoint}"/>
/// (WebApplicationFactory with UseKestrel) on Kestrel over TOU, with clients that speak TOU.
/// </summary>
public class WebApplicationFactoryTests(SampleAppFactory factory) : IClassFixture<SampleAppFactory>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_apps_own_Program_answers_over_TOU()
    {
        using var client = factory.CreateClient();
        Assert.Equal(new Uri($"http://127.0.0.1:{factory.ServerEndPoint.IPEndPoint.Port}/"), client.BaseAddress);
        Assert.Equal("Hello, world, over TOU", await client.GetStringAsync("/").WaitAsync(Bound));
        Assert.Equal("Hello, ada, over TOU", await client.GetStringAsync("/hello/ada").WaitAsync(Bound));
        Assert.Equal("TOU from 127.0.0.1, integrity on", await client.GetStringAsync("/connection").WaitAsync(Bound));

        using var missing = await client.GetAsync("/nothing-here").WaitAsync(Bound);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public void The_app_runs_with_its_own_configuration_and_services()
    {
        var options = factory.Services.GetRequiredService<IOptions<TouTransportOptions>>().Value;
        Assert.Equal(CongestionControlAlgorithm.Bbr, options.Protocol.CongestionControl); // the sample's appsettings.json
        Assert.Equal(TimeSpan.FromMinutes(2), options.Protocol.IdleTimeout);
        Assert.IsType<Greeter>(factory.Services.GetRequiredService<IGreeter>());
        Assert.Null(factory.Services.GetService<MeterProvider>()); // turned off by the test's configuration
    }

    [Fact]
    public async Task A_service_replaced_with_ConfigureTestServices_answers_over_TOU()
    {
        await using var stubbed = factory.WithWebHostBuilder(web =>
            web.ConfigureTestServices(services => services.AddSingleton<IGreeter, StubGreeter>()));
        using var client = stubbed.CreateClient();
        Assert.Equal("stubbed greeting for ada", await client.GetStringAsync("/hello/ada").WaitAsync(Bound));
        Assert.Equal("TOU from 127.0.0.1, integrity on", await client.GetStringAsync("/connection").WaitAsync(Bound));
        Assert.NotEqual(factory.ServerEndPoint, stubbed.ServerEndPoint); // an app of its own

        using var original = factory.CreateClient();
        Assert.Equal("Hello, ada, over TOU", await original.GetStringAsync("/hello/ada").WaitAsync(Bound));
    }

    [Fact]
    public async Task The_connection_factory_reaches_the_app_with_any_protocol()
    {
        await using var connection = await factory.ConnectionFactory.ConnectAsync(factory.ServerEndPoint).AsTask().WaitAsync(Bound);
        await connection.Transport.Output.WriteAsync("GET /hello/raw HTTP/1.1\r\nHost: tou\r\nConnection: close\r\n\r\n"u8.ToArray());
        var response = new StringBuilder();
        while (true)
        {
            var read = await connection.Transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
            response.Append(Encoding.ASCII.GetString(read.Buffer.ToArray()));
            connection.Transport.Input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }

        Assert.StartsWith("HTTP/1.1 200 OK", response.ToString(), StringComparison.Ordinal);
        Assert.Contains("Hello, raw, over TOU", response.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_OpenTelemetry_wiring_of_the_sample_listens_to_the_Tou_meter()
    {
        await using var withMetrics = factory.WithWebHostBuilder(web => web.UseSetting("Sample:ConsoleMetrics", "true"));
        using var client = withMetrics.CreateClient();
        Assert.Equal("Hello, world, over TOU", await client.GetStringAsync("/").WaitAsync(Bound));
        Assert.NotNull(withMetrics.Services.GetService<MeterProvider>());
    }

    private sealed class StubGreeter : IGreeter
    {
        public string Greet(string name) => $"stubbed greeting for {name}";
    }
}
