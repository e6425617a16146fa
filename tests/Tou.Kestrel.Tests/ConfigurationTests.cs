using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tou.Protocol;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>
/// <see cref="TouTransportOptions"/> as Kestrel's options are: bound from the "Tou" section of appsettings.json (durations
/// as TimeSpans, the engine's settings under "Tou:Protocol"), code callbacks on top, validated when the host starts.
/// </summary>
public sealed class ConfigurationTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _contentRoot = Directory.CreateTempSubdirectory("tou-config-");

    public void Dispose() => _contentRoot.Delete(recursive: true);

    [Fact]
    public async Task Options_load_from_the_Tou_section_of_appsettings_json_and_callbacks_win()
    {
        await File.WriteAllTextAsync(Path.Combine(_contentRoot.FullName, "appsettings.json"), """
            {
              "Tou": {
                "SocketReceiveBufferSize": 1048576,
                "UseSegmentationOffload": false,
                "InputPauseThreshold": 65536,
                "Protocol": {
                  "IdleTimeout": "00:02:30",
                  "HandshakeTimeout": "00:00:05",
                  "DelayedAckTimeout": "00:00:00.020",
                  "CongestionControl": "Bbr",
                  "EnableIntegrity": false,
                  "MaxConnections": 5
                }
              }
            }
            """);
        await using var app = StartableApp(tou => tou.Protocol.MaxConnections = 77);
        await app.StartAsync();

        var options = app.Services.GetRequiredService<IOptions<TouTransportOptions>>().Value;
        Assert.Equal(1_048_576, options.SocketReceiveBufferSize);
        Assert.False(options.UseSegmentationOffload);
        Assert.Equal(65_536, options.InputPauseThreshold);
        Assert.Equal(TimeSpan.FromSeconds(150), options.Protocol.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Protocol.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.Protocol.DelayedAckTimeout);
        Assert.Equal(CongestionControlAlgorithm.Bbr, options.Protocol.CongestionControl);
        Assert.False(options.Protocol.EnableIntegrity);
        Assert.Equal(77, options.Protocol.MaxConnections); // the UseTou callback runs after the configuration
        Assert.Equal(TimeSpan.FromSeconds(15), options.Protocol.KeepAliveInterval); // untouched settings keep their defaults

        // The listener runs with them: integrity is off in what the connection agreed.
        using var client = TouHttp.CreateClient(new Uri($"http://{ListeningOn(app).IPEndPoint}/"));
        Assert.Equal("False", await client.GetStringAsync("/").WaitAsync(Bound));
        await app.StopAsync();
    }

    [Theory]
    [InlineData("""{ "Tou": { "Protocol": { "HandshakeTimeout": "-00:00:01" } } }""", "Tou:Protocol:HandshakeTimeout")]
    [InlineData("""{ "Tou": { "Protocol": { "MaxDatagramSize": 70000 } } }""", "Tou:Protocol:MaxDatagramSize")]
    [InlineData("""{ "Tou": { "SocketSendBufferSize": -1 } }""", "Tou:SocketSendBufferSize")]
    [InlineData("""{ "Tou": { "OutputPauseThreshold": 0 } }""", "Tou:OutputPauseThreshold")]
    public async Task An_invalid_setting_fails_the_start_with_a_message_naming_it(string json, string setting)
    {
        await File.WriteAllTextAsync(Path.Combine(_contentRoot.FullName, "appsettings.json"), json);
        await using var app = StartableApp();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_fails_the_start_naming_the_key()
    {
        await File.WriteAllTextAsync(Path.Combine(_contentRoot.FullName, "appsettings.json"), """{ "Tou": { "Protocol": { "IdleTimeout": "two minutes" } } }""");
        await using var app = StartableApp();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Contains("Tou:Protocol:IdleTimeout", error.Message, StringComparison.Ordinal);
    }

    private WebApplication StartableApp(Action<TouTransportOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = _contentRoot.FullName });
        builder.WebHost.UseTou(configure);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenTou(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/", (HttpContext context) => context.Features.Get<ITouConnectionFeature>()!.Negotiation.Integrity.ToString());
        return app;
    }

    private static TouEndPoint ListeningOn(WebApplication app) =>
        app.Urls.Select(u => TouEndPoint.TryParse(u, out var e) ? e : null).First(e => e is not null)!;
}
